//go:build !linux

package mmsg

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// Reader without recvmmsg: one packet per Read.
type Reader struct {
	pc   net.PacketConn
	buf  []byte
	n    int
	addr netip.AddrPort
}

// NewReader makes a reader; c must be a net.PacketConn here.
func NewReader(c syscall.Conn, _, size int, _ bool) (*Reader, error) {
	pc, ok := c.(net.PacketConn)
	if !ok {
		return nil, errors.New("mmsg: not a packet connection")
	}
	return &Reader{pc: pc, buf: make([]byte, size)}, nil
}

// Read receives one packet.
func (r *Reader) Read() (int, error) {
	n, addr, err := r.pc.ReadFrom(r.buf)
	if err != nil {
		return 0, err
	}
	r.n, r.addr = n, netip.AddrPort{}
	if ua, ok := addr.(*net.UDPAddr); ok {
		r.addr = ua.AddrPort()
	}
	return 1, nil
}

// Packet is the packet of the last Read.
func (r *Reader) Packet(int) []byte { return r.buf[:r.n] }

// Source is its sender.
func (r *Reader) Source(int) netip.AddrPort { return r.addr }

// Writer without sendmmsg: one write per packet.
type Writer struct{ c net.Conn }

// NewWriter makes a writer; c must be a net.Conn here.
func NewWriter(c syscall.Conn, _ int) (*Writer, error) {
	nc, ok := c.(net.Conn)
	if !ok {
		return nil, errors.New("mmsg: not a connection")
	}
	return &Writer{c: nc}, nil
}

// Write sends each message as one packet.
func (w *Writer) Write(msgs []*[]byte) error {
	for _, m := range msgs {
		if _, err := w.c.Write(*m); err != nil {
			return err
		}
	}
	return nil
}
