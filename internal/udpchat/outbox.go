package udpchat

import (
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// outbox is the queue of datagrams to send and the goroutine that sends
// them, many per sendmmsg. Everything the server sends goes through it,
// so the socket has one writer and a broadcast to a thousand clients
// costs a few dozen system calls rather than a thousand.
type outbox struct {
	m     *Metrics
	limit int

	mu      sync.Mutex
	q       []ipv4.Message
	pending bool // a signal is owed for what q holds
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
}

func (o *outbox) init(limit int, m *Metrics) {
	o.limit = limit
	o.m = m
	o.wake = make(chan struct{}, 1)
	o.stopped = make(chan struct{})
}

// push queues b for ua. b is shared, never modified afterwards. It
// reports whether the sender needs a signal for it (the first datagram
// since the sender last emptied the queue).
func (o *outbox) push(ua *net.UDPAddr, b []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if len(o.q) >= o.limit {
		o.m.dropped.Inc()
		return false
	}
	o.q = append(o.q, ipv4.Message{Buffers: [][]byte{b}, Addr: ua})
	if o.pending {
		return false
	}
	o.pending = true
	return true
}

// roomFor reports whether n more datagrams leave the queue at most half
// full.
func (o *outbox) roomFor(n int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)+n <= o.limit/2
}

// signal wakes the sender.
func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// close makes the sender send what is queued and stop.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
	<-o.stopped
}

// writeBatch is how many datagrams one sendmmsg takes (the kernel takes
// at most UIO_MAXIOV, 1024).
const writeBatch = 256

func (o *outbox) run(pc *ipv4.PacketConn) {
	defer close(o.stopped)
	var batch []ipv4.Message
	for {
		o.mu.Lock()
		batch, o.q = o.q, batch[:0]
		o.pending = false
		closed := o.closed
		o.mu.Unlock()
		for i := 0; i < len(batch); {
			end := min(i+writeBatch, len(batch))
			n, err := pc.WriteBatch(batch[i:end], 0)
			if err != nil {
				// One bad destination (an ICMP error reported on
				// this send) must not stop the rest: skip it.
				o.m.sendErrors.Inc()
				n = max(n, 1)
			}
			o.m.sent.Add(float64(n))
			i += n
		}
		sent := len(batch)
		clear(batch)
		if closed {
			return
		}
		if sent == 0 {
			<-o.wake
		}
	}
}
