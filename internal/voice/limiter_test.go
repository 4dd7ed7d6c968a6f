package voice

import (
	"net/netip"
	"testing"
	"time"
)

func addrN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// exhaust takes all of ip's tokens.
func exhaust(l *failLimiter, ip netip.Addr, now time.Time) {
	for range int(l.burst) {
		l.fail(ip, now)
	}
}

func TestFailLimiterBudget(t *testing.T) {
	l := newFailLimiter(3, 1, 100)
	t0 := time.Unix(1000, 0)
	a := addrN(1)
	if l.limited(a, t0) {
		t.Fatal("an unknown address is limited")
	}
	exhaust(l, a, t0)
	if !l.limited(a, t0) {
		t.Fatal("not limited after the burst")
	}
	if l.limited(addrN(2), t0) {
		t.Fatal("another address is limited")
	}
	// One token back a second later; a full bucket is forgotten.
	if l.limited(a, t0.Add(time.Second)) {
		t.Fatal("still limited after a refill")
	}
	if l.limited(a, t0.Add(time.Hour)) || l.len() != 0 {
		t.Fatalf("a refilled bucket is kept (%d addresses)", l.len())
	}
}

// TestFailLimiterEvictsLeastRecentlyUsed: the table never holds more
// than max addresses; a new one evicts the least recently used, and an
// address that is still being refused counts as used.
func TestFailLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	l := newFailLimiter(2, 0.0001, 3)
	t0 := time.Unix(1000, 0)
	a, b, c, d := addrN(1), addrN(2), addrN(3), addrN(4)
	for _, ip := range []netip.Addr{a, b, c} {
		exhaust(l, ip, t0)
	}
	// a keeps trying and is refused: it becomes the most recently used,
	// and b the least.
	if !l.limited(a, t0) {
		t.Fatal("a not limited")
	}
	exhaust(l, d, t0)
	if l.len() != 3 {
		t.Fatalf("%d addresses, want the bound of 3", l.len())
	}
	for ip, want := range map[netip.Addr]bool{a: true, b: false, c: true, d: true} {
		if got := l.limited(ip, t0); got != want {
			t.Errorf("%v limited = %v, want %v", ip, got, want)
		}
	}
}

// TestFailLimiterFullIsBounded fills the table with addresses that are
// all still limited (none has refilled, the case the old map scan was
// slow for and did not bound) and then adds many more: the table stays
// at its bound, and the newest addresses are the ones kept.
func TestFailLimiterFullIsBounded(t *testing.T) {
	const max = 1000
	l := newFailLimiter(1, 1e-9, max)
	t0 := time.Unix(1000, 0)
	for i := range 20 * max {
		l.fail(addrN(i), t0)
		if l.len() > max {
			t.Fatalf("%d addresses after %d", l.len(), i+1)
		}
	}
	for i := 19 * max; i < 20*max; i++ {
		if !l.limited(addrN(i), t0) {
			t.Fatalf("recent address %d forgotten", i)
		}
	}
	if l.limited(addrN(0), t0) {
		t.Fatal("the oldest address is still remembered")
	}
}

// BenchmarkFailLimiterFull is the cost of a refusal from a new address
// when the table is full of addresses that are all still limited: with
// the list it does not depend on the table's size.
func BenchmarkFailLimiterFull(b *testing.B) {
	l := newFailLimiter(1, 1e-9, defaultMaxFailAddrs)
	t0 := time.Unix(1000, 0)
	for i := range defaultMaxFailAddrs {
		l.fail(addrN(i), t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.fail(addrN(defaultMaxFailAddrs+i), t0)
	}
}
