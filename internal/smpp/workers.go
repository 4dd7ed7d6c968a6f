package smpp

import (
	"context"
	"sync"
)

// owed counts the answers a session still owes its far end (a request
// per record the core is admitting), bounds them, and lets an unbind wait
// until they are out.
type owed struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // made by a waiter, closed when n reaches 0
}

// add takes k more, unless that would pass limit.
func (o *owed) add(k, limit int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n > 0 && o.n+k > limit {
		return false
	}
	o.n += k
	return true
}

// done gives k back.
func (o *owed) done(k int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n -= k
	if o.n == 0 && o.idle != nil {
		close(o.idle)
		o.idle = nil
	}
}

// wait returns when nothing is owed, or when ctx ends.
func (o *owed) wait(ctx context.Context) {
	o.mu.Lock()
	if o.n == 0 {
		o.mu.Unlock()
		return
	}
	if o.idle == nil {
		o.idle = make(chan struct{})
	}
	ch := o.idle
	o.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}
