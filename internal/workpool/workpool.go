// Package workpool runs short jobs on goroutines that are kept for reuse.
//
// A fresh goroutine per job starts with a small stack and grows it through
// every call the job makes (an SMPP submit through the core into the
// store, a delivery through the core to a peer): on the hot paths that
// growth, and the goroutine's creation, cost more than the job's own work.
// A kept goroutine has grown its stack once. The SMPP sessions and the
// core hand their per-message work to a Pool.
package workpool

import (
	"sync"
	"time"
)

// idle is how long a worker without work waits before it exits, so that
// a burst's workers do not outlive it by much.
const idle = 10 * time.Second

// Pool runs jobs on idle workers, starting a new worker when none is
// idle. Concurrency is bounded by the callers (each bounds its work in
// flight), not by the pool.
type Pool struct {
	jobs chan func()
	quit chan struct{}
	// mu makes Go's check of closed and its wg.Add atomic against Close's
	// Wait; it is never held while a job runs.
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// New returns an empty pool.
func New() *Pool {
	return &Pool{jobs: make(chan func()), quit: make(chan struct{})}
}

// Go runs f on a worker and reports true, or, once Close has begun,
// does nothing and reports false.
func (p *Pool) Go(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	select {
	case p.jobs <- f:
		return true
	default:
	}
	p.wg.Add(1)
	go p.work(f)
	return true
}

func (p *Pool) work(f func()) {
	defer p.wg.Done()
	f()
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		select {
		case f = <-p.jobs:
			f()
			t.Reset(idle)
		case <-t.C:
			return
		case <-p.quit:
			return
		}
	}
}

// Close refuses new jobs, lets idle workers exit and waits until every
// job handed out has returned.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.quit)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
