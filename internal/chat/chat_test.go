package chat

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"switchboard/internal/pms"
)

func TestIsPhone(t *testing.T) {
	for name, want := range map[string]bool{
		"+16195550100": true, "16195550100": true, "6195550100": true, "1234": true, "+4": true,
		"123": false, "+": false, "": false, "group1": false, "+1619555010a": false,
		"1234567890123456": false, "+1234567890123456": false, "alice": false, "12a4": false,
	} {
		if got := IsPhone(name); got != want {
			t.Errorf("IsPhone(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestTimelineOrderAndAfter(t *testing.T) {
	var tl timeline
	for _, id := range []uint64{1, 2, 5, 3, 4, 4} { // 3 and 4 late, 4 twice
		tl.add(entry{id: id, ns: int64(id) * 1000})
	}
	if tl.n != 5 {
		t.Fatalf("%d entries, want 5 (a repeat is not added)", tl.n)
	}
	for i, e := range tl.spanFrom(0).appendTo(nil) {
		if e.id != uint64(i+1) {
			t.Fatalf("entry %d is %d: not in order", i, e.id)
		}
	}
	// Strictly after.
	if got := tl.snapshot(3000).appendTo(nil); len(got) != 2 || got[0].id != 4 {
		t.Fatalf("after 3000: %v", got)
	}
	if got := tl.snapshot(2999).appendTo(nil); len(got) != 3 {
		t.Fatalf("after 2999: %v", got)
	}
	if got := tl.snapshot(5000).appendTo(nil); len(got) != 0 {
		t.Fatalf("after the last: %v", got)
	}
}

func TestMerge(t *testing.T) {
	a := []entry{{id: 1}, {id: 4}, {id: 6}}
	b := []entry{{id: 2}, {id: 3}, {id: 7}}
	got := merge(a, b)
	want := []uint64{1, 2, 3, 4, 6, 7}
	if len(got) != len(want) {
		t.Fatalf("merge: %v", got)
	}
	for i := range want {
		if got[i].id != want[i] {
			t.Fatalf("merge: %v", got)
		}
	}
}

func TestDedupRule(t *testing.T) {
	var d dedup
	d.init(time.Minute)
	k := d.key("alice", "g", true, []byte("ok"))
	if k == d.key("alice", "g", false, []byte("ok")) || k == d.key("alice", "h", true, []byte("ok")) || k == d.key("bob", "g", true, []byte("ok")) {
		t.Fatal("different messages share a key")
	}
	now := time.Now().UnixNano()
	e1, first := d.claim(k, 1, now)
	if !first {
		t.Fatal("the first copy is a duplicate")
	}
	// The same connection repeating itself is a new message.
	if _, first := d.claim(k, 1, now); !first {
		t.Fatal("a repeat on one connection was taken for a resend")
	}
	d.resolve(e1, 42, nil)
	// Another connection: a resend, answered with the stored id. (The
	// second claim on connection 1 replaced the entry, so resolve it.)
	e2, _ := d.claim(k, 1, now)
	d.resolve(e2, 43, nil)
	old, first := d.claim(k, 2, now)
	if first {
		t.Fatal("a resend from a new connection was not recognised")
	}
	<-old.done
	if old.id != 43 || old.err != nil {
		t.Fatalf("resend answered with %d, %v", old.id, old.err)
	}
	// After the window it is a new message again.
	if _, first := d.claim(k, 2, now+int64(2*time.Minute)); !first {
		t.Fatal("a message older than the window still counts")
	}
}

func TestDedupFailedStoreIsForgotten(t *testing.T) {
	var d dedup
	d.init(time.Minute)
	k := d.key("a", "b", false, []byte("x"))
	now := time.Now().UnixNano()
	e, _ := d.claim(k, 1, now)
	d.resolve(e, 0, ErrClosed)
	if _, first := d.claim(k, 2, now); !first {
		t.Fatal("a message that was never stored blocks its resend")
	}
}

func TestFlattenAndSender(t *testing.T) {
	if got := flatten("a\nb\r\tc\x7f"); got != "a b  c " {
		t.Fatalf("flatten: %q", got)
	}
	for _, c := range []struct {
		a    pms.Address
		want string
	}{
		{pms.Address{TON: 1, NPI: 1, Digits: "16195550100"}, "+16195550100"},
		{pms.Address{TON: 0, NPI: 1, Digits: "6195550100"}, "+16195550100"},
		{pms.Address{TON: 1, NPI: 1, Digits: "447700900123"}, "+447700900123"},
		{pms.Address{TON: 0, NPI: 1, Digits: "12345"}, "12345"},
		{pms.Address{TON: 5, Digits: "My Shop"}, "My_Shop"},
	} {
		if got := smsSender(c.a); got != c.want {
			t.Errorf("smsSender(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
}

// The cache keeps at most tailLen of a timeline and at most cacheMax in
// all, dropping the least recently posted-to tails first.
func TestHistoryCacheBounds(t *testing.T) {
	var h history
	h.init()
	h.cacheMax = 300
	id := uint64(0)
	post := func(group string, n int) {
		for i := 0; i < n; i++ {
			id++
			h.addChat("poster", group, true, id, int64(id), &Message{ID: id, Target: group, Group: true})
		}
	}
	post("a", 200)
	if got := len(h.groups["a"].tail); got != tailLen {
		t.Fatalf("tail of a: %d, want %d", got, tailLen)
	}
	if h.groups["a"].tail[0].ID != 200-tailLen+1 {
		t.Fatalf("tail of a starts at %d", h.groups["a"].tail[0].ID)
	}
	post("b", 200)
	post("c", 100)
	if len(h.cache) > 300 {
		t.Fatalf("cache holds %d, bound 300", len(h.cache))
	}
	if h.groups["a"].tail != nil || len(h.groups["c"].tail) != 100 || len(h.groups["b"].tail) != tailLen {
		t.Fatalf("tails a %d b %d c %d: the least recently posted-to must go first",
			len(h.groups["a"].tail), len(h.groups["b"].tail), len(h.groups["c"].tail))
	}
	for _, m := range h.groups["b"].tail {
		if h.cache[m.ID] != m {
			t.Fatalf("tail message %d not in the cache", m.ID)
		}
	}
	got := h.cached([]entry{{id: 1}, {id: 400}, {id: 500}})
	if got[0] != nil || got[1] == nil || got[1].ID != 400 || got[2] == nil {
		t.Fatalf("cached lookups %v", got)
	}
}

// A push enqueued after the fan-out stopped is not delivered, but its
// done still runs: a sender's ACK and a resend's answer wait on it, and
// Close waits for those.
func TestFanoutAfterStopStillCallsDone(t *testing.T) {
	var f fanout
	f.init()
	f.svc = New(Config{}, nil, nil)
	stop := make(chan struct{})
	close(stop)
	f.run(stop) // returns at once: nothing queued, stopped
	called := false
	f.enqueue(push{m: &Message{}, done: func() { called = true }})
	if !called {
		t.Fatal("done not called for a push after the stop")
	}
}

// The cache is bounded in text bytes too, so that long texts cannot turn
// the bound on messages into gigabytes.
func TestHistoryCacheByteBound(t *testing.T) {
	var h history
	h.init()
	h.cacheMax = 100 // 100 × 256 bytes of text
	long := make([]byte, 4096)
	for id := uint64(1); id <= 50; id++ {
		g := fmt.Sprint("g", id%10)
		h.addChat("poster", g, true, id, int64(id), &Message{ID: id, Target: g, Group: true, Text: long})
	}
	if h.cacheText > 100*avgCachedText {
		t.Fatalf("cache holds %d bytes of text, bound %d", h.cacheText, 100*avgCachedText)
	}
	n := 0
	for _, m := range h.cache {
		n += len(m.Text)
	}
	if n != h.cacheText {
		t.Fatalf("cacheText %d, the cache holds %d", h.cacheText, n)
	}
}

// TestTimelineChunks: a timeline longer than a chunk keeps its order, its
// late entries and after() across chunk boundaries.
func TestTimelineChunks(t *testing.T) {
	var tl timeline
	const n = 3*timelineChunk + 100
	for i := 1; i <= n; i++ {
		if i == timelineChunk+1 || i == 2*timelineChunk+5 {
			continue // these two come late
		}
		tl.add(entry{id: uint64(i), ns: int64(i)})
	}
	tl.add(entry{id: 2*timelineChunk + 5, ns: 2*timelineChunk + 5})
	tl.add(entry{id: timelineChunk + 1, ns: timelineChunk + 1})
	tl.add(entry{id: 7, ns: 7}) // a repeat
	if tl.n != n {
		t.Fatalf("%d entries, want %d", tl.n, n)
	}
	all := tl.spanFrom(0).appendTo(nil)
	for i, e := range all {
		if e.id != uint64(i+1) {
			t.Fatalf("entry %d is %d", i, e.id)
		}
	}
	for _, ns := range []int64{0, timelineChunk - 1, timelineChunk, 2*timelineChunk + 3, n - 1, n} {
		got := tl.snapshot(ns).appendTo(nil)
		if len(got) != n-int(ns) || (len(got) > 0 && got[0].id != uint64(ns+1)) {
			t.Fatalf("after %d: %d entries starting %v", ns, len(got), got[:min(1, len(got))])
		}
	}
}

// TestTimelineSnapshotUnchanged: a snapshot reads what the timeline held
// when it was taken, whatever is added (late entries included) after.
func TestTimelineSnapshotUnchanged(t *testing.T) {
	var tl timeline
	for i := 1; i <= 2*timelineChunk+10; i += 2 {
		tl.add(entry{id: uint64(i), ns: int64(i)})
	}
	sp := tl.snapshot(100)
	want := sp.appendTo(nil)
	for i := 2; i <= 2*timelineChunk; i += 999 { // late, across chunks
		tl.add(entry{id: uint64(i), ns: int64(i)})
	}
	for i := 2*timelineChunk + 11; i < 3*timelineChunk; i++ {
		tl.add(entry{id: uint64(i), ns: int64(i)})
	}
	got := sp.appendTo(nil)
	if len(got) != len(want) || len(want) == 0 || want[0].ns <= 100 {
		t.Fatalf("snapshot of %d entries reads %d later", len(want), len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d of the snapshot changed: %v, was %v", i, got[i], want[i])
		}
	}
	if all := tl.snapshot(0).appendTo(nil); len(all) <= len(want) {
		t.Fatalf("timeline has %d entries", len(all))
	}
}

// TestHistoryReadersWithoutLock: SYNC-like readers copy snapshots outside
// the lock while SMs, some late, are indexed (run with -race).
func TestHistoryReadersWithoutLock(t *testing.T) {
	var h history
	h.init()
	const n = 3 * timelineChunk
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			id := uint64(i)
			if i%500 == 0 {
				id = uint64(i - 3) // a late one; its slot was skipped
			} else if (i+3)%500 == 0 {
				continue
			}
			h.addSMS("16195550100", []uint64{id}, int64(id), nil)
		}
	}()
	for reads := 0; ; reads++ {
		list := h.inboxAfter("someone", "16195550100", 0)
		for j := 1; j < len(list); j++ {
			if list[j].id <= list[j-1].id {
				t.Fatalf("read %d: entries out of order at %d", reads, j)
			}
		}
		select {
		case <-done:
			if got := len(h.inboxAfter("someone", "16195550100", 0)); got != n-n/500 {
				t.Fatalf("%d entries indexed", got)
			}
			return
		default:
		}
	}
}

// A session follows at most MaxGroups groups: joining one more leaves the
// one joined longest ago, in the session and in the service's table.
func TestMaxGroups(t *testing.T) {
	s := New(Config{MaxGroups: 3}, nil, nil)
	ss, err := s.Login("joiner", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g2", "g3", "g2", "g4", "g5"} {
		ss.Join(g)
	}
	s.mu.RLock()
	var following, table []string
	for g := range ss.groups {
		following = append(following, g)
	}
	for g := range s.groups {
		table = append(table, g)
	}
	s.mu.RUnlock()
	slices.Sort(following)
	slices.Sort(table)
	want := []string{"g3", "g4", "g5"}
	if !slices.Equal(following, want) || !slices.Equal(table, want) {
		t.Fatalf("following %v, service groups %v; want %v", following, table, want)
	}
	if got := testutil.ToFloat64(s.m.groupsLeft); got != 2 {
		t.Fatalf("groups left = %v, want 2", got)
	}
	ss.Logout()
	s.mu.RLock()
	n := len(s.groups)
	s.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d groups after the only member logged out", n)
	}
}
