package pager

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A flood costs the receive loop one system call per datagram when it
// reads them one by one; recvmmsg(2) takes up to batchSize per call, so
// that junk is rejected at the cost of the checks, not of the syscalls.

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel reports
// for it, padded to pointer alignment.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// batchReader receives up to len(bufs) datagrams per system call, with
// their source addresses.
type batchReader struct {
	rc    syscall.RawConn
	bufs  [][]byte
	iov   []unix.Iovec
	hdrs  []mmsghdr
	names []unix.RawSockaddrInet6
	// The callback given to RawConn.Read is bound once and reports
	// through these fields, so that a read allocates nothing.
	fn   func(fd uintptr) bool
	n    int
	serr error
}

func newBatchReader(conn *net.UDPConn, n, size int) (*batchReader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc, bufs: make([][]byte, n), iov: make([]unix.Iovec, n),
		hdrs: make([]mmsghdr, n), names: make([]unix.RawSockaddrInet6, n)}
	backing := make([]byte, n*size)
	for i := range n {
		r.bufs[i] = backing[i*size : (i+1)*size : (i+1)*size]
		r.iov[i].Base = &r.bufs[i][0]
		r.iov[i].SetLen(size)
		r.hdrs[i].hdr.Iov = &r.iov[i]
		r.hdrs[i].hdr.SetIovlen(1)
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.fn = r.recv
	return r, nil
}

// read waits for at least one datagram (up to the socket's read deadline)
// and returns how many were received.
func (r *batchReader) read() (int, error) {
	r.n, r.serr = 0, nil
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
	}
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	return r.n, r.serr
}

func (r *batchReader) recv(fd uintptr) bool {
	// Every wait starts with a real attempt: RawConn.Read resets the
	// poller's readiness before calling this.
	r1, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
		uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	for e == unix.EINTR {
		r1, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	}
	if e == unix.EAGAIN {
		return false // wait in the poller until readable
	}
	if e != 0 {
		r.serr = fmt.Errorf("recvmmsg: %w", e)
	} else {
		r.n = int(r1)
	}
	return true
}

// datagram is datagram i of the last read and its source.
func (r *batchReader) datagram(i int) ([]byte, netip.AddrPort) {
	b := r.bufs[i][:r.hdrs[i].len]
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return b, netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return b, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return b, netip.AddrPort{}
}
