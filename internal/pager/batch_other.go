//go:build !linux

package pager

import (
	"net"
	"net/netip"
)

// batchReader without recvmmsg: one datagram per read.
type batchReader struct {
	conn *net.UDPConn
	buf  []byte
	n    int
	addr netip.AddrPort
}

func newBatchReader(conn *net.UDPConn, _, size int) (*batchReader, error) {
	return &batchReader{conn: conn, buf: make([]byte, size)}, nil
}

func (r *batchReader) read() (int, error) {
	n, addr, err := r.conn.ReadFromUDPAddrPort(r.buf)
	if err != nil {
		return 0, err
	}
	r.n, r.addr = n, addr
	return 1, nil
}

func (r *batchReader) datagram(int) ([]byte, netip.AddrPort) { return r.buf[:r.n], r.addr }
