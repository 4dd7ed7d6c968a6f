package voice

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeRequest: any bytes decode to a request, ErrShort or
// ErrUnknownCommand without panicking, and a decoded request encodes back
// to the bytes it came from.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []Request{{Cmd: CmdCreate, UID: 69}, {Cmd: CmdJoin, UID: 1, Target: 2, Chid: 3}, {Cmd: CmdGetChannels}} {
		b, _ := AppendRequest(nil, r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := DecodeRequest(b)
		switch {
		case err == nil:
			if n > len(b) || n > FrameSize {
				t.Fatalf("n = %d of %d", n, len(b))
			}
			enc, err := AppendRequest(nil, r)
			if err != nil || !bytes.Equal(enc[:n], b[:n]) {
				t.Fatalf("round trip %x -> %+v -> %x", b[:n], r, enc)
			}
		case errors.Is(err, ErrShort), errors.Is(err, ErrUnknownCommand):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzDecodeReply: a reply decoder never panics or over-reads, for every
// command.
func FuzzDecodeReply(f *testing.F) {
	f.Add(uint8(0), AppendResult(nil, 5))
	f.Add(uint8(2), AppendError(nil, CodeAccess))
	f.Add(uint8(7), AppendChannels(nil, []uint64{69, 70}))
	f.Fuzz(func(t *testing.T, cmd uint8, b []byte) {
		c := Command(cmd % 9)
		rep, n, err := DecodeReply(c, b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("n = %d of %d", n, len(b))
		}
		if c == CmdGetChannels && !bytes.Equal(AppendChannels(nil, rep.Channels), b[:n]) {
			t.Fatal("channel list round trip")
		}
	})
}

// FuzzDecodePacket: the channel datagram decoder never panics, accepts
// only 512-byte datagrams, and every system packet it accepts has a
// negative op and a valid checksum.
func FuzzDecodePacket(f *testing.F) {
	ka := make([]byte, PacketSize)
	PutSystem(ka, OpKeepalive, 69, 0)
	f.Add(ka)
	u := make([]byte, PacketSize)
	PutUser(u, 69, []byte("data"))
	f.Add(u)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			return
		}
		if len(b) != PacketSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if p.System {
			if int32(p.Op) >= 0 || Checksum(p.UID, p.Ack) != uint32(b[20])<<24|uint32(b[21])<<16|uint32(b[22])<<8|uint32(b[23]) {
				t.Fatalf("accepted system packet %+v", p)
			}
			var re [PacketSize]byte
			PutSystem(re[:], p.Op, p.UID, p.Ack)
			if !bytes.Equal(re[:24], b[:24]) {
				t.Fatal("system header round trip")
			}
		}
		_, _ = DecodeFrame(b)
	})
}
