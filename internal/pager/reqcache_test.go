package pager

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// cacheServer is a server whose request cache is filled directly, on a
// fixed clock.
func cacheServer(t testing.TB) (*Server, time.Time) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	s, err := New(Config{Secret: testSecret, ReplayWindow: time.Minute, Now: func() time.Time { return now }}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, now
}

// addCached puts a request into the cache as request does; answered says
// whether it has its answer yet.
func addCached(s *Server, id int, at time.Time, answered bool) reqKey {
	k := reqKey{client: uint32(id), addr: netip.MustParseAddrPort("127.0.0.1:9"), seq: uint16(id)}
	r := &request{at: at}
	if answered {
		r.answer = []byte{1}
	}
	s.requests[k] = r
	s.reqOrder = append(s.reqOrder, k)
	return k
}

func liveKeys(s *Server) []uint16 {
	var out []uint16
	for _, k := range s.reqOrder[s.reqHead:] {
		out = append(out, k.seq)
	}
	return out
}

// Expiry forgets the old answered requests, keeps the ones in progress
// (moved to the front, in order) and the fresh ones, and the queue names
// exactly the cached requests.
func TestExpireRequestsKeepsInProgress(t *testing.T) {
	s, now := cacheServer(t)
	old := now.Add(-2 * time.Minute)
	addCached(s, 1, old, true)
	addCached(s, 2, old, false)
	addCached(s, 3, old, true)
	addCached(s, 4, old, false)
	addCached(s, 5, now, true)
	addCached(s, 6, now, false)
	s.expireRequestsLocked(now)
	if got, want := liveKeys(s), []uint16{2, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	if len(s.requests) != 4 {
		t.Fatalf("%d requests cached, want 4", len(s.requests))
	}
	// Nothing more to forget: the queue stays as it is.
	s.expireRequestsLocked(now)
	if got, want := liveKeys(s), []uint16{2, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("second pass: queue %v, want %v", got, want)
	}
}

// The expiry that runs for every request allocates nothing, with a full
// cache and with requests in progress at its front.
func TestExpireRequestsAllocatesNothing(t *testing.T) {
	s, now := cacheServer(t)
	for i := range 8000 {
		addCached(s, i, now, i%1000 != 0)
	}
	if n := testing.AllocsPerRun(100, func() { s.expireRequestsLocked(now) }); n != 0 {
		t.Fatalf("%v allocations per expiry, want 0", n)
	}
	if len(s.reqOrder)-s.reqHead != 8000 {
		t.Fatalf("%d keys queued, want 8000", len(s.reqOrder)-s.reqHead)
	}
}

// A steady stream of requests, each expiring an older one, keeps the
// queue's array bounded: the dead prefix is compacted away.
func TestExpireRequestsMemoryBounded(t *testing.T) {
	s, now := cacheServer(t)
	for i := range 200_000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		s.expireRequestsLocked(at)
		addCached(s, i, at, true)
	}
	// The window would hold 60,000 requests at one a millisecond; the
	// cache's bound (4×MaxNumbers+4096) keeps fewer. The array may be up
	// to about twice that, plus append's headroom.
	const bound = 4*1000 + 4096
	if live := len(s.reqOrder) - s.reqHead; live > bound+1 || live != len(s.requests) {
		t.Fatalf("%d keys queued for %d requests, want at most %d", live, len(s.requests), bound+1)
	}
	if c := cap(s.reqOrder); c > 4*bound {
		t.Fatalf("queue array of %d keys for at most %d requests", c, bound+1)
	}
}

func BenchmarkExpireRequests(b *testing.B) {
	s, now := cacheServer(b)
	for i := range 8000 {
		addCached(s, i, now, true)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.expireRequestsLocked(now)
	}
}
