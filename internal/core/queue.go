package core

import (
	"container/heap"
	"time"
)

// fifo is a slice-backed queue with cheap pushes at both ends.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) pushFront(v T) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = v
		return
	}
	// Make room at the front in one copy, so that a run of pushFronts
	// (a retake of many SMs) costs linear time, not quadratic.
	room := len(q.items)/2 + 8
	items := make([]T, room+len(q.items), room+cap(q.items))
	copy(items[room:], q.items)
	q.items, q.head = items, room-1
	q.items[q.head] = v
}

func (q *fifo[T]) pop() T {
	var zero T
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		// Compact so a long-lived queue does not keep a growing dead prefix.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}

// smHeap orders SMs by a deadline; each SM remembers its position so that
// it can be removed when it leaves the core's custody.
type smHeap struct {
	items []*sm
	key   func(*sm) time.Time
	pos   func(*sm) *int
}

func (h *smHeap) Len() int           { return len(h.items) }
func (h *smHeap) Less(i, j int) bool { return h.key(h.items[i]).Before(h.key(h.items[j])) }
func (h *smHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.pos(h.items[i]) = i
	*h.pos(h.items[j]) = j
}
func (h *smHeap) Push(x any) {
	s := x.(*sm)
	*h.pos(s) = len(h.items)
	h.items = append(h.items, s)
}
func (h *smHeap) Pop() any {
	n := len(h.items) - 1
	s := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	*h.pos(s) = -1
	return s
}

func (h *smHeap) add(s *sm) {
	if *h.pos(s) < 0 {
		heap.Push(h, s)
	}
}

func (h *smHeap) remove(s *sm) {
	if i := *h.pos(s); i >= 0 {
		heap.Remove(h, i)
	}
}

func (h *smHeap) top() (*sm, bool) {
	if len(h.items) == 0 {
		return nil, false
	}
	return h.items[0], true
}

func (h *smHeap) popTop() *sm { return heap.Pop(h).(*sm) }
