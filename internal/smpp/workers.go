package smpp

import (
	"context"
	"sync"
	"time"
)

// workers runs the work that leaves a session's reader (a submit waiting
// for the core's group commit) on goroutines that are kept for reuse. A
// fresh goroutine per submit would grow its stack through the core and
// the store every time; a kept one has grown it once.
type workers struct {
	jobs chan func()
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// workerIdle is how long an idle worker waits for work before it exits.
const workerIdle = 10 * time.Second

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), quit: make(chan struct{})}
}

// run hands f to an idle worker, or starts a new one. Concurrency is
// bounded by the callers (each session bounds its submits in flight).
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
		return
	default:
	}
	w.wg.Add(1)
	go w.work(f)
}

func (w *workers) work(f func()) {
	defer w.wg.Done()
	f()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		select {
		case f = <-w.jobs:
			f()
			t.Reset(workerIdle)
		case <-t.C:
			return
		case <-w.quit:
			return
		}
	}
}

// stop lets idle workers exit and waits for every one; callers stop
// handing out work first.
func (w *workers) stop() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}

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
