package pager

import "time"

// replayWindow rejects a datagram whose timestamp is more than window away
// from the receiver's clock, and one whose nonce was seen within the
// window: together they make every datagram usable once. Seen nonces are
// kept in arrival order and forgotten once older than twice the window
// (a timestamp can be window early and the packet window late); at most
// max are kept, and when the set is full new datagrams are refused rather
// than old nonces forgotten early. Not safe for concurrent use: the
// server's receive loop owns it.
type replayWindow struct {
	window time.Duration
	max    int
	seen   map[[NonceSize]byte]struct{}
	order  fifoRing
}

type seenNonce struct {
	n  [NonceSize]byte
	at int64
}

type fifoRing struct {
	items []seenNonce
	head  int
}

func newReplayWindow(window time.Duration, max int) *replayWindow {
	return &replayWindow{window: window, max: max, seen: make(map[[NonceSize]byte]struct{})}
}

// check accepts (and records) nonce n stamped ts, received at now.
func (w *replayWindow) check(n *[NonceSize]byte, ts, now time.Time) error {
	if d := now.Sub(ts); d > w.window || d < -w.window {
		return ErrStale
	}
	w.expire(now)
	if _, ok := w.seen[*n]; ok {
		return ErrReplay
	}
	if len(w.seen) >= w.max {
		return ErrReplay
	}
	w.seen[*n] = struct{}{}
	w.order.items = append(w.order.items, seenNonce{n: *n, at: now.UnixNano()})
	return nil
}

func (w *replayWindow) expire(now time.Time) {
	cut := now.Add(-2 * w.window).UnixNano()
	r := &w.order
	for r.head < len(r.items) && r.items[r.head].at < cut {
		delete(w.seen, r.items[r.head].n)
		r.head++
	}
	if r.head > 1024 && r.head*2 > len(r.items) {
		n := copy(r.items, r.items[r.head:])
		r.items = r.items[:n]
		r.head = 0
	}
}
