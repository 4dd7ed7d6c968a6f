package cpt

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// parker holds idle connections without a goroutine each.
//
// A goroutine blocked in a read keeps its stack: 4 KiB once serving a
// command has grown it, and the runtime never halves a stack whose frames
// plus guard exceed a quarter of it, which a read through net.Conn always
// does. Ten thousand idle chat users would cost 40 MiB of stacks alone. So
// a logged-in plain-TCP connection with nothing buffered parks instead: its
// file descriptor goes into an epoll set of ours (level-triggered, one
// shot), its goroutine ends, and when the socket becomes readable (a
// command, or the peer closing) a new goroutine resumes it. Go's own
// netpoller keeps its registration of the descriptor; reads after the
// wake-up go through net.Conn as usual.
type parker struct {
	epfd int
	wake int // eventfd that ends the loop

	mu     sync.Mutex
	conns  map[int32]*conn // by file descriptor; guarded by mu
	done   chan struct{}
	parked prometheus.Gauge
	closed sync.Once
}

func newParker(parked prometheus.Gauge) (*parker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	p := &parker{epfd: epfd, wake: wake, conns: map[int32]*conn{}, done: make(chan struct{}), parked: parked}
	go p.run()
	return p, nil
}

// park takes c's descriptor into the set; false means c must go on
// reading itself (it is closing, or the descriptor could not be added).
// Lock order: conn.mu (when held by the caller of unpark), then p.mu.
func (p *parker) park(c *conn) bool {
	if p == nil || c.fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Checked under p.mu: stopReading and killLocked set these before
	// they look for a parked connection under p.mu, so either they find
	// it here or park sees their flag.
	if c.stopping.Load() || c.gone.Load() {
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(c.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return false
	}
	p.conns[int32(c.fd)] = c
	p.parked.Inc()
	return true
}

// unpark takes c out of the set if it is parked and reports whether it
// was; the caller then resumes it.
func (p *parker) unpark(c *conn) bool {
	if p == nil || c.fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[int32(c.fd)] != c {
		return false
	}
	delete(p.conns, int32(c.fd))
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	p.parked.Dec()
	return true
}

func (p *parker) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake) {
				return
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			if c != nil {
				delete(p.conns, ev.Fd)
				_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(ev.Fd), nil)
				p.parked.Dec()
			}
			p.mu.Unlock()
			if c != nil {
				go c.resume()
			}
		}
	}
}

// close ends the loop. Connections must have been unparked first.
func (p *parker) close() {
	if p == nil {
		return
	}
	// Once: Shutdown may run twice, and closing the descriptors again
	// could close ones the numbers were reused for.
	p.closed.Do(func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(p.wake, one[:])
		<-p.done
		unix.Close(p.wake)
		unix.Close(p.epfd)
	})
}
