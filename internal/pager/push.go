package pager

import (
	"net/netip"
	"time"
)

// Pushes (seed 000: "update each client using the same packet, albeit
// with a different sequence number"). Each change of the waitlist is
// queued for every other station and sent, and sent again after
// Retransmit, doubling up to RetransmitMax, until the station
// acknowledges it (the same packet, Ack set, same sequence number) or
// PushGiveUp passes. A station has one update in flight at a time, so
// that it applies them in order. Every retransmission is sealed afresh: a new nonce
// and time, so that the station's replay window takes it, and the same
// sequence number, so that the station applies it once.

// wakeRetransmit tells the retransmit loop that something is due now.
// Called with mu held; it never blocks.
func (s *Server) wakeRetransmit() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

type dueSend struct {
	client uint32
	addr   netip.AddrPort
	pkt    []byte
}

// retransmitLoop sends what is due and sleeps until the next deadline or a
// wake-up.
func (s *Server) retransmitLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := s.sendDue()
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), time.Millisecond)
		}
		t.Reset(d)
		select {
		case <-s.quit:
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// sendDue sends every push that is due and returns the next deadline.
func (s *Server) sendDue() time.Time {
	now := s.cfg.Now()
	var out []dueSend
	var next time.Time
	s.mu.Lock()
	for _, st := range s.stations {
		// Updates that waited past PushGiveUp are dropped, oldest first.
		for len(st.pending) > 0 && !now.Before(st.pending[0].giveUp) {
			st.pending = st.pending[1:]
			s.m.pushes.WithLabelValues("gave_up").Inc()
			if len(st.pending) > 0 {
				st.pending[0].next = now
			}
		}
		if len(st.pending) == 0 || !st.addr.IsValid() {
			// Nothing to send, or not heard from yet: sent once it
			// speaks.
			continue
		}
		p := st.pending[0]
		if !now.Before(p.next) {
			out = append(out, dueSend{st.id, st.addr, p.pkt})
			p.next = now.Add(p.interval)
			p.interval = min(2*p.interval, s.cfg.RetransmitMax)
		}
		if next.IsZero() || p.next.Before(next) {
			next = p.next
		}
		if next.After(p.giveUp) {
			next = p.giveUp
		}
	}
	s.mu.Unlock()
	for _, d := range out {
		s.send(d.client, d.addr, d.pkt)
		s.m.pushes.WithLabelValues("sent").Inc()
	}
	return next
}
