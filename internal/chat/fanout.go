package chat

import "sync"

// members are the sessions following a group: a slice for fast fan-out
// and positions for removal in O(1).
type members struct {
	list []*Session
	pos  map[*Session]int
}

func (m *members) add(s *Session) bool {
	if _, ok := m.pos[s]; ok {
		return false
	}
	m.pos[s] = len(m.list)
	m.list = append(m.list, s)
	return true
}

func (m *members) remove(s *Session) {
	i, ok := m.pos[s]
	if !ok {
		return
	}
	last := len(m.list) - 1
	m.list[i] = m.list[last]
	m.pos[m.list[i]] = i
	m.list[last] = nil
	m.list = m.list[:last]
	delete(m.pos, s)
}

// push is one stored message to hand to whoever should see it now.
type push struct {
	m      *Message
	origin *Session // not echoed back to the connection that sent it
	// user, for a direct message or SMS: the recipient's name.
	user string
	// done, if set, is called once the message has been handed to every
	// recipient: the sender's ACK waits for it, which keeps a fast sender
	// from running ahead of the fan-out with an ever longer queue.
	done func()
}

// fanout hands stored messages to the endpoints of their recipients on
// its own goroutine, in the order they were stored, so that the store's
// completion goroutine (which makes them known) never waits on a group
// of a thousand members.
type fanout struct {
	mu sync.Mutex
	q  []push
	// stopped is set once run has taken its last batch: a push enqueued
	// later is not delivered (the service is closing), but its done is
	// still called, since a sender's ACK or a resend's answer waits on it.
	stopped bool
	signal  chan struct{}
	svc     *Service
	// dirty are the endpoints to flush after the batch; owned by run.
	dirty []Endpoint
}

func (f *fanout) init() { f.signal = make(chan struct{}, 1) }

func (f *fanout) enqueue(p push) {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		if p.done != nil {
			p.done()
		}
		return
	}
	f.q = append(f.q, p)
	n := len(f.q)
	f.mu.Unlock()
	if n == 1 {
		select {
		case f.signal <- struct{}{}:
		default:
		}
	}
}

func (f *fanout) run(stop <-chan struct{}) {
	var batch []push
	for {
		f.mu.Lock()
		batch, f.q = f.q, batch[:0]
		f.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-f.signal:
				continue
			case <-stop:
				// Deliver what was stored before the stop.
				f.mu.Lock()
				batch, f.q = f.q, nil
				f.stopped = true
				f.mu.Unlock()
				for i := 0; i < len(batch); i += maxChunk {
					f.deliver(batch[i:min(i+maxChunk, len(batch))])
				}
				return
			}
		}
		for i := 0; i < len(batch); i += maxChunk {
			f.deliver(batch[i:min(i+maxChunk, len(batch))])
		}
		clear(batch)
	}
}

// maxChunk bounds the messages handed to every member before their writes
// start and their senders' ACKs go out. Batching is what makes fan-out
// cheap (one write carries many messages), but a batch as large as the
// queue (a hundred pipelining senders can have 100,000 messages waiting)
// would put megabytes into every member's send queue at once and cut them
// all as slow consumers although they read as fast as they can.
const maxChunk = 256

func (f *fanout) deliver(batch []push) {
	s := f.svc
	s.mu.RLock()
	for _, p := range batch {
		if p.m.Group {
			g := s.groups[p.m.Target]
			if g == nil {
				continue
			}
			n := 0
			for _, ss := range g.list {
				if ss != p.origin {
					f.handTo(ss, p.m)
					n++
				}
			}
			s.m.deliveries.Add(float64(n))
			continue
		}
		if ss := s.online[p.user]; ss != nil && ss != p.origin {
			f.handTo(ss, p.m)
			s.m.deliveries.Inc()
		}
	}
	s.mu.RUnlock()
	for i, ep := range f.dirty {
		ep.Flush()
		f.dirty[i] = nil
	}
	f.dirty = f.dirty[:0]
	for _, p := range batch {
		if p.done != nil {
			p.done()
		}
	}
}

func (f *fanout) handTo(ss *Session, m *Message) {
	if ss.ep.Deliver(m) {
		f.dirty = append(f.dirty, ss.ep)
	}
}
