package interop

import "sync"

// queue is an unbounded channel: Push never blocks, so a program's output
// reader or an HTTP handler never stalls the program while a test is busy
// elsewhere, and Out delivers in order to whoever reads. close stops the
// pump goroutine so that nothing outlives the test; Finish closes Out once
// everything pushed has been delivered, so that a reader learns that the
// source (a program's stdout) has ended.
type queue[T any] struct {
	mu       sync.Mutex
	items    []T
	finished bool
	wake     chan struct{}
	out      chan T
	closed   chan struct{}
	once     sync.Once
}

func newQueue[T any]() *queue[T] {
	q := &queue[T]{wake: make(chan struct{}, 1), out: make(chan T), closed: make(chan struct{})}
	go q.pump()
	return q
}

// Push appends v; it never blocks.
func (q *queue[T]) Push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Finish says nothing more will be pushed: Out is closed once drained.
func (q *queue[T]) Finish() {
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Out is the receiving end.
func (q *queue[T]) Out() <-chan T { return q.out }

// Close stops delivery; items not yet received are dropped.
func (q *queue[T]) Close() { q.once.Do(func() { close(q.closed) }) }

func (q *queue[T]) pump() {
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			finished := q.finished
			q.mu.Unlock()
			if finished {
				close(q.out)
				return
			}
			select {
			case <-q.wake:
				continue
			case <-q.closed:
				return
			}
		}
		v := q.items[0]
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
		q.mu.Unlock()
		select {
		case q.out <- v:
		case <-q.closed:
			return
		}
	}
}
