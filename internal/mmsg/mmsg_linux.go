package mmsg

import (
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reader receives up to n packets per system call.
type Reader struct {
	rc    syscall.RawConn
	bufs  [][]byte
	iov   []unix.Iovec
	hdrs  []unix.Mmsghdr
	names []unix.RawSockaddrInet6 // nil unless sources were asked for
	fn    func(fd uintptr) bool
	n     int
	serr  error
}

// NewReader makes a reader of up to n packets of at most size bytes each
// (a packet of exactly size bytes may have been truncated: give one byte
// more than the largest valid packet). With sources, Source reports each
// packet's sender (UDP).
func NewReader(c syscall.Conn, n, size int, sources bool) (*Reader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &Reader{rc: rc, bufs: make([][]byte, n), iov: make([]unix.Iovec, n), hdrs: make([]unix.Mmsghdr, n)}
	if sources {
		r.names = make([]unix.RawSockaddrInet6, n)
	}
	// One backing array keeps the buffers together.
	backing := make([]byte, n*size)
	for i := range n {
		r.bufs[i] = backing[i*size : (i+1)*size : (i+1)*size]
		r.iov[i].Base = &r.bufs[i][0]
		r.iov[i].SetLen(size)
		r.hdrs[i].Hdr.Iov = &r.iov[i]
		r.hdrs[i].Hdr.SetIovlen(1)
		if sources {
			r.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		}
	}
	r.fn = r.recv
	return r, nil
}

// Read waits for at least one packet (up to the connection's read
// deadline) and returns how many were received.
func (r *Reader) Read() (int, error) {
	r.n, r.serr = 0, nil
	for i := range r.names {
		r.hdrs[i].Hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
	}
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	return r.n, r.serr
}

func (r *Reader) recv(fd uintptr) bool {
	// Every wait must start with a real attempt: RawConn.Read resets the
	// poller's remembered readiness before calling this, so skipping the
	// syscall on a guess that the queue is empty could miss a packet that
	// arrived meanwhile and sleep forever.
	var r1 uintptr
	var e unix.Errno
	for {
		r1, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e != unix.EINTR {
			break
		}
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

// Packet is packet i of the last Read. It aliases the reader's buffer,
// which the next Read overwrites.
func (r *Reader) Packet(i int) []byte { return r.bufs[i][:r.hdrs[i].Len] }

// Source is the sender of packet i of the last Read (the zero AddrPort
// without sources, or for a family other than IPv4 and IPv6).
func (r *Reader) Source(i int) netip.AddrPort {
	if r.names == nil {
		return netip.AddrPort{}
	}
	sa := &r.names[i]
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// Writer sends a batch of packets on a connected socket with as few
// system calls as the socket buffer allows.
type Writer struct {
	rc         syscall.RawConn
	iov        []unix.Iovec
	hdrs       []unix.Mmsghdr
	fn         func(fd uintptr) bool
	sent, want int
	serr       error
}

// NewWriter makes a writer of up to n packets per call.
func NewWriter(c syscall.Conn, n int) (*Writer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &Writer{rc: rc, iov: make([]unix.Iovec, n), hdrs: make([]unix.Mmsghdr, n)}
	for i := range n {
		w.hdrs[i].Hdr.Iov = &w.iov[i]
		w.hdrs[i].Hdr.SetIovlen(1)
	}
	w.fn = w.send
	return w, nil
}

// Write sends every message of msgs (at most n), each as one packet, in
// order. It blocks while the other end's receive queue is full, up to the
// connection's write deadline.
func (w *Writer) Write(msgs []*[]byte) error {
	for i, m := range msgs {
		w.iov[i].Base = unsafe.SliceData(*m)
		w.iov[i].SetLen(len(*m))
	}
	w.sent, w.want, w.serr = 0, len(msgs), nil
	err := w.rc.Write(w.fn)
	// Drop the references to the buffers, which the caller may reuse.
	for i := range msgs {
		w.iov[i].Base = nil
	}
	if err != nil {
		return err
	}
	return w.serr
}

func (w *Writer) send(fd uintptr) bool {
	for w.sent < w.want {
		r1, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[w.sent])),
			uintptr(w.want-w.sent), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e == unix.EAGAIN {
			return false // wait in the poller until writable
		}
		if e != 0 {
			w.serr = fmt.Errorf("sendmmsg: %w", e)
			return true
		}
		w.sent += int(r1)
	}
	return true
}
