package smpp

import (
	"context"
	"sync"
)

// answerGate keeps a receipt from overtaking the submit_sm_resp of the
// message it reports on. The core can create a status report, and hand it
// to us for delivery, before the submit that produced it has returned to
// us: a store-only destination is delivered by the very write that admits
// it. An ESME that sees a receipt for an id it has not been given yet
// drops it (Kannel does). So each of a peer's submits holds a ticket from
// before the core is called until its response is queued, and a receipt
// for the peer waits until every ticket open when it came has left.
// Receipts are rare next to submits, so the waiting side does the work:
// entering and leaving cost a map operation.
type answerGate struct {
	mu   sync.Mutex
	open map[*ticket]struct{}
}

// ticket is one submit's hold on the gate.
type ticket struct {
	g       *answerGate
	waiters []*gateWaiter // receipts waiting for this ticket among others
}

type gateWaiter struct {
	pending int // tickets still open of those open when the receipt came
	done    chan struct{}
}

func newAnswerGate() *answerGate { return &answerGate{open: map[*ticket]struct{}{}} }

// enter opens a ticket.
func (g *answerGate) enter() *ticket {
	t := &ticket{g: g}
	g.mu.Lock()
	g.open[t] = struct{}{}
	g.mu.Unlock()
	return t
}

// leave closes a ticket once its response is queued.
func (t *ticket) leave() {
	g := t.g
	g.mu.Lock()
	delete(g.open, t)
	for _, w := range t.waiters {
		if w.pending--; w.pending == 0 {
			close(w.done)
		}
	}
	g.mu.Unlock()
}

// wait returns once every ticket open now has left, or when ctx ends.
func (g *answerGate) wait(ctx context.Context) error {
	g.mu.Lock()
	if len(g.open) == 0 {
		g.mu.Unlock()
		return nil
	}
	w := &gateWaiter{pending: len(g.open), done: make(chan struct{})}
	for t := range g.open {
		t.waiters = append(t.waiters, w)
	}
	g.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
