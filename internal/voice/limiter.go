package voice

import (
	"net/netip"
	"sync"
	"time"

	"switchboard/internal/tokenbucket"
)

// failLimiter is the control server's budget of refusals per client
// address: a token bucket per address (burst tokens, refilled at rate per
// second), at most max addresses. The buckets are kept in a list from
// least to most recently used, so that every operation is O(1): a new
// address when the table is full evicts the least recently used one,
// which is also the bucket that has had the longest time to refill, and
// buckets that are full again are dropped from the old end as the table
// is used.
//
// An evicted address starts again with a full budget. That is the price
// of bounded memory; an attacker who can cycle through more than max
// addresses already guesses max times faster than one address may.
type failLimiter struct {
	burst, rate float64
	max         int

	mu         sync.Mutex
	m          map[netip.Addr]*bucket
	head, tail *bucket // head: least recently used
}

// bucket is one address's refusal budget and its place in the list.
type bucket struct {
	addr       netip.Addr
	budget     tokenbucket.Bucket
	prev, next *bucket
}

// pruneEach bounds how many full buckets one call drops from the old end
// of the list, so that no call does more than constant work; each bucket
// is dropped once, so the table still empties as buckets refill.
const pruneEach = 2

func newFailLimiter(burst int, rate float64, max int) *failLimiter {
	return &failLimiter{burst: float64(burst), rate: rate, max: max, m: map[netip.Addr]*bucket{}}
}

// limited reports whether ip has no token left. A limited address is
// marked as used, so that it stays limited rather than being the first
// to be evicted.
func (l *failLimiter) limited(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[ip]
	if b == nil {
		return false
	}
	if b.budget.Full(now, l.rate, l.burst) {
		// Full again: nothing to remember.
		l.remove(b)
		return false
	}
	l.toBack(b)
	return !b.budget.Available(now, l.rate, l.burst)
}

// fail takes a token from ip's bucket, making one if ip has none.
func (l *failLimiter) fail(ip netip.Addr, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	b := l.m[ip]
	if b == nil {
		if len(l.m) >= l.max {
			l.remove(l.head)
		}
		// The zero budget is full at its first use.
		b = &bucket{addr: ip}
		l.m[ip] = b
		l.pushBack(b)
	} else {
		l.toBack(b)
	}
	b.budget.Take(now, l.rate, l.burst)
}

// len is the number of addresses remembered.
func (l *failLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// prune drops up to pruneEach buckets that have refilled from the old end.
func (l *failLimiter) prune(now time.Time) {
	for range pruneEach {
		b := l.head
		if b == nil || !b.budget.Full(now, l.rate, l.burst) {
			return
		}
		l.remove(b)
	}
}

func (l *failLimiter) pushBack(b *bucket) {
	b.prev, b.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = b
	} else {
		l.head = b
	}
	l.tail = b
}

func (l *failLimiter) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		l.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		l.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

func (l *failLimiter) toBack(b *bucket) {
	if l.tail != b {
		l.unlink(b)
		l.pushBack(b)
	}
}

func (l *failLimiter) remove(b *bucket) {
	l.unlink(b)
	delete(l.m, b.addr)
}
