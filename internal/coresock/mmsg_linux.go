package coresock

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A SOCK_SEQPACKET socket cannot coalesce messages into one write the way a
// stream can, but Linux moves several packets per system call with
// sendmmsg(2) and recvmmsg(2). Under load the writer usually finds several
// messages queued and the reader several packets waiting, so batching cuts
// the system calls per message, which dominate the cost of a round trip.
// Each packet is still its own message with its own boundary.

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel reports for
// it, padded to pointer alignment.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// batchReader receives up to len(bufs) packets per system call.
type batchReader struct {
	rc   syscall.RawConn
	bufs [][]byte
	iov  []unix.Iovec
	hdrs []mmsghdr
	// The callback given to RawConn.Read is bound once and reports
	// through these fields, so a read allocates nothing.
	fn   func(fd uintptr) bool
	n    int
	serr error
}

func newBatchReader(c *Conn, n int) (*batchReader, error) {
	rc, err := c.c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &batchReader{rc: rc, bufs: make([][]byte, n), iov: make([]unix.Iovec, n), hdrs: make([]mmsghdr, n)}
	// One backing array keeps the buffers together; each slot holds
	// MaxMessage+1 bytes so that truncation (oversize) is detectable.
	size := c.maxMessage + 1
	backing := make([]byte, n*size)
	for i := range n {
		r.bufs[i] = backing[i*size : (i+1)*size : (i+1)*size]
		r.iov[i].Base = &r.bufs[i][0]
		r.iov[i].SetLen(size)
		r.hdrs[i].hdr.Iov = &r.iov[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	r.fn = r.recv
	return r, nil
}

// read waits for at least one packet and returns how many were received;
// packet i is bufs[i][:length(i)].
func (r *batchReader) read() (int, error) {
	r.n, r.serr = 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	return r.n, r.serr
}

func (r *batchReader) recv(fd uintptr) bool {
	// Every wait must start with a real attempt: RawConn.Read resets the
	// poller's remembered readiness before calling this, so skipping the
	// syscall on a guess that the queue is empty could miss a packet that
	// arrived meanwhile and sleep forever.
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

func (r *batchReader) length(i int) int { return int(r.hdrs[i].len) }

// batchWriter sends a batch of packets with as few system calls as the
// socket buffer allows.
type batchWriter struct {
	rc   syscall.RawConn
	iov  []unix.Iovec
	hdrs []mmsghdr
	// As in batchReader: a callback bound once, state in fields.
	fn         func(fd uintptr) bool
	sent, want int
	serr       error
}

func newBatchWriter(c *Conn, n int) (*batchWriter, error) {
	rc, err := c.c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &batchWriter{rc: rc, iov: make([]unix.Iovec, n), hdrs: make([]mmsghdr, n)}
	for i := range n {
		w.hdrs[i].hdr.Iov = &w.iov[i]
		w.hdrs[i].hdr.SetIovlen(1)
	}
	w.fn = w.send
	return w, nil
}

// write sends every message of msgs (at most the batch size), each as one
// packet, in order. It blocks while the other end's receive queue is full,
// up to the connection's write deadline.
func (w *batchWriter) write(msgs []*[]byte) error {
	for i, m := range msgs {
		w.iov[i].Base = unsafe.SliceData(*m)
		w.iov[i].SetLen(len(*m))
	}
	w.sent, w.want, w.serr = 0, len(msgs), nil
	err := w.rc.Write(w.fn)
	// Drop the references to the buffers, which go back to the pool.
	for i := range msgs {
		w.iov[i].Base = nil
	}
	if err != nil {
		return err
	}
	return w.serr
}

func (w *batchWriter) send(fd uintptr) bool {
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
