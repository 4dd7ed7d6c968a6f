// Package tokenbucket is the token bucket that every budget of the server
// uses: a CPT connection's commands, a UDP chat client's packets and the
// strangers' answers, a voice member's signed ACKs, open voice
// registrations and each address's refused voice requests.
package tokenbucket

import "time"

// Bucket holds up to burst tokens and earns rate tokens per second; each
// allowed event takes one. Rate and burst are passed to each call rather
// than kept, since the callers keep them in their configuration. The zero
// Bucket is full at its first use. A Bucket is not safe for concurrent
// use: its owner's lock guards it.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Take earns the tokens due since the last call and takes one, reporting
// whether there was one.
func (b *Bucket) Take(now time.Time, rate, burst float64) bool {
	b.Refill(now, rate, burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Refill earns the tokens due since the last call, up to burst (all of
// them at the first call). A clock that goes backwards earns nothing and
// takes nothing away.
func (b *Bucket) Refill(now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
	}
	if now.After(b.last) {
		b.last = now
	}
}

// Available earns the tokens due and reports whether one could be taken,
// without taking it.
func (b *Bucket) Available(now time.Time, rate, burst float64) bool {
	b.Refill(now, rate, burst)
	return b.tokens >= 1
}

// Full earns the tokens due and reports whether the bucket is full: its
// owner has been quiet long enough for the bucket to be forgotten (a new
// one starts full).
func (b *Bucket) Full(now time.Time, rate, burst float64) bool {
	b.Refill(now, rate, burst)
	return b.tokens >= burst
}
