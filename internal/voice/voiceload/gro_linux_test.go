package voiceload

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"switchboard/internal/voice"
)

// gsoSend sends frames as one UDP GSO message of PacketSize segments, as
// the relay does.
func gsoSend(t *testing.T, from *net.UDPConn, to *net.UDPAddr, frames ...[]byte) {
	t.Helper()
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], voice.PacketSize)
	var b []byte
	for _, f := range frames {
		b = append(b, f...)
	}
	if _, _, err := from.WriteMsgUDP(b, oob, to); err != nil {
		t.Fatal(err)
	}
}

// TestReceiveGRO: with UDP_GRO on, a GSO send of three frames is one read
// of 1536 bytes, and receive counts it as the three frames it holds.
func TestReceiveGRO(t *testing.T) {
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := enableGRO(rx); err != nil {
		t.Fatal(err)
	}
	tx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	to := rx.LocalAddr().(*net.UDPAddr)
	frames := make([][]byte, 3)
	pcm := make([]int16, voice.FrameSamples)
	for i := range frames {
		frames[i] = make([]byte, voice.PacketSize)
		voice.PutFrame(frames[i], 1234, uint32(i), time.Now(), pcm)
	}

	gsoSend(t, tx, to, frames...)
	buf := make([]byte, 64<<10)
	_ = rx.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := rx.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3*voice.PacketSize {
		t.Fatalf("a GSO send of 3 segments read as %d bytes with UDP_GRO", n)
	}

	gsoSend(t, tx, to, frames...)
	var measuring atomic.Int64
	r := &receiver{}
	// receive returns at the deadline, after the one coalesced read.
	_ = rx.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	receive(&member{conn: rx}, r, &measuring, true)
	if got := r.n.Load(); got != 3 {
		t.Fatalf("receive counted %d frames in a coalesced read of 3", got)
	}
}
