package numbering

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSnapshotLookups(t *testing.T) {
	db, path := openTemp(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddNumber(num(t, "6195550100"), GSM, true))
	must(db.AddNumber(num(t, "6195550101"), Local, false))
	must(db.AddNumber(num(t, "8585550100"), None, false)) // under peer wide's prefix
	must(db.AddNumber(num(t, "4242"), Local, false))
	must(db.AddPeer(Peer{Name: "wide", Pool: []string{"1858"}}))
	must(db.AddPeer(Peer{Name: "narrow", Pool: []string{"1858555", "18585550177"}}))
	must(db.AddPeer(Peer{Name: "exact", Pool: []string{"18585550199"}}))
	must(db.AddPeer(Peer{Name: "wider", Pool: []string{"18"}}))

	tab, err := db.Snapshot()
	must(err)

	if e, ok := tab.LookupLocal("16195550100"); !ok || e != (Entry{"16195550100", GSM, true}) {
		t.Errorf("LookupLocal = %+v, %v", e, ok)
	}
	if _, ok := tab.LookupLocal("16195550102"); ok {
		t.Error("LookupLocal found a number never added")
	}
	if _, ok := tab.LookupLocal("4242"); ok {
		t.Error("a special number is not a local NANP number")
	}
	if e, ok := tab.LookupSpecial("4242"); !ok || e.Type != Local {
		t.Errorf("LookupSpecial = %+v, %v", e, ok)
	}
	if _, ok := tab.LookupSpecial("4243"); ok {
		t.Error("LookupSpecial found a number never added")
	}

	for _, tt := range []struct {
		e164, peer string
	}{
		{"18585550199", "exact"},  // exact entry
		{"18585550177", "narrow"}, // exact entry beats the prefix of another peer
		{"18585550100", "narrow"}, // 1858555 beats 1858 and 18
		{"18585560000", "wide"},   // 1858 beats 18
		{"18005550100", "wider"},  // only 18 matches
		{"16195550100", ""},       // no pool entry (local numbers are the router's first lookup)
		{"1858555010", ""},        // not 11 digits
		{"", ""},
	} {
		got, ok := tab.LookupPeer(tt.e164)
		if got != tt.peer || ok != (tt.peer != "") {
			t.Errorf("LookupPeer(%q) = %q, %v; want %q", tt.e164, got, ok, tt.peer)
		}
	}

	p, ok := tab.Peer("narrow")
	if !ok || len(p.Pool) != 2 {
		t.Fatalf("Peer = %+v, %v", p, ok)
	}
	// The table is immutable: changing what it handed out changes nothing.
	p.Pool[0] = "1999"
	if p2, _ := tab.Peer("narrow"); p2.Pool[0] != "1858555" {
		t.Fatal("Peer returned the table's own slice")
	}
	if _, ok := tab.Peer("nobody"); ok {
		t.Error("Peer found a peer never added")
	}
	if ps := tab.Peers(); len(ps) != 4 || ps[0].Name != "exact" || ps[3].Name != "wider" {
		t.Errorf("Peers = %+v", ps)
	}
	if ns := tab.Numbers(); len(ns) != 4 || ns[3].Number != "4242" {
		t.Errorf("Numbers = %+v", ns)
	}

	// The snapshot is unaffected by later changes.
	must(db.RemovePeer("exact"))
	if got, _ := tab.LookupPeer("18585550199"); got != "exact" {
		t.Error("snapshot changed under a later write")
	}
	must(db.Close())

	// LoadTable sees the change.
	tab2, err := LoadTable(path)
	must(err)
	if got, _ := tab2.LookupPeer("18585550199"); got != "narrow" {
		t.Errorf("after removal, LookupPeer = %q, want narrow", got)
	}
}

func TestEmptyTables(t *testing.T) {
	tab, err := LoadTable(filepath.Join(t.TempDir(), "missing", FileName))
	if err != nil {
		t.Fatal(err)
	}
	var nilTab *Table
	for _, tb := range []*Table{tab, {}, nilTab} {
		if _, ok := tb.LookupLocal("16195550100"); ok {
			t.Error("empty table has a local number")
		}
		if _, ok := tb.LookupSpecial("4242"); ok {
			t.Error("empty table has a special")
		}
		if _, ok := tb.LookupPeer("16195550100"); ok {
			t.Error("empty table has a peer number")
		}
		if _, ok := tb.Peer("x"); ok || len(tb.Peers()) != 0 || len(tb.Numbers()) != 0 {
			t.Error("empty table has peers or numbers")
		}
		if _, err := tb.AuthPeer("x", "y", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrUnknownSystemID) {
			t.Errorf("AuthPeer on empty table: %v", err)
		}
	}
}

func TestAuthPeer(t *testing.T) {
	db, _ := openTemp(t)
	err := db.AddPeer(Peer{
		Name: "fief", SystemID: "fief01", PasswordHash: mustHash(t, "s3cret"),
		AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(Peer{Name: "open", SystemID: "open", PasswordHash: mustHash(t, "pw")}); err != nil {
		t.Fatal(err)
	}
	// A peer without credentials can never bind, even with an empty
	// system ID and password.
	if err := db.AddPeer(Peer{Name: "nocreds"}); err != nil {
		t.Fatal(err)
	}
	tab, err := db.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	for _, tt := range []struct {
		sysid, pw string
		addr      netip.Addr
		peer      string
		err       error
	}{
		{"fief01", "s3cret", ip("192.0.2.9"), "fief", nil},
		{"fief01", "s3cret", ip("::ffff:192.0.2.9"), "fief", nil},
		{"fief01", "s3cret", ip("2001:db8::1"), "fief", nil},
		{"fief01", "s3cret", ip("198.51.100.1"), "", ErrIPNotAllowed},
		{"fief01", "wrong", ip("192.0.2.9"), "", ErrBadPassword},
		{"fief01", "", ip("192.0.2.9"), "", ErrBadPassword},
		{"FIEF01", "s3cret", ip("192.0.2.9"), "", ErrUnknownSystemID},
		{"", "", ip("192.0.2.9"), "", ErrUnknownSystemID},
		{"open", "pw", ip("203.0.113.5"), "open", nil},
		{"open", "pw", ip("fe80::1%eth0"), "open", nil},
	} {
		p, err := tab.AuthPeer(tt.sysid, tt.pw, tt.addr)
		if tt.err != nil {
			if !errors.Is(err, tt.err) || !errors.Is(err, ErrAuth) {
				t.Errorf("%s/%s@%v: err = %v, want %v", tt.sysid, tt.pw, tt.addr, err, tt.err)
			}
			continue
		}
		if err != nil || p.Name != tt.peer {
			t.Errorf("%s/%s@%v: got %q, %v", tt.sysid, tt.pw, tt.addr, p.Name, err)
		}
	}
}

// The server reloads while the CLI writes: bbolt's locks make them take
// turns, and neither fails.
func TestLoadTableBesideWriter(t *testing.T) {
	db, path := openTemp(t)
	if err := db.AddNumber(num(t, "6195550100"), GSM, false); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			tab, err := LoadTable(path)
			if err == nil {
				if _, ok := tab.LookupLocal("16195550100"); !ok {
					err = fmt.Errorf("reload lost a number")
				}
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			db, err := Open(path)
			if err == nil {
				err = db.AddNumber(num(t, fmt.Sprintf("61955502%02d", i)), Local, false)
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	tab, err := LoadTable(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tab.Numbers()); n != 11 {
		t.Fatalf("%d numbers, want 11", n)
	}
}

// A reader facing a writer that keeps the file gives up after the lock
// timeout rather than hanging forever.
func TestOpenTimeout(t *testing.T) {
	saved := lockTimeout
	lockTimeout = 200 * time.Millisecond
	defer func() { lockTimeout = saved }()
	_, path := openTemp(t) // held open until cleanup
	start := time.Now()
	if _, err := LoadTable(path); !errors.Is(err, ErrBusy) {
		t.Fatalf("LoadTable while a writer held the file: err = %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrBusy) {
		t.Fatalf("Open while a writer held the file: err = %v", err)
	}
	// bbolt polls the lock every 50 ms and stops a poll early, so each
	// attempt waits a little less than the timeout.
	if d := time.Since(start); d < lockTimeout {
		t.Fatalf("gave up after %v", d)
	}
}

// poolTable builds a table of n pool entries straight from a database: a
// mix of exact numbers and prefixes of every length, spread over peers.
func poolTable(tb testing.TB, n int) (*Table, []string, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), FileName)
	db, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	var probes []string
	const peers = 100
	perPeer := make([][]string, peers)
	for len(seen) < n {
		// NPA 200-999 avoiding N11, NXX likewise, then the line.
		npa := 200 + rng.IntN(800)
		nxx := 200 + rng.IntN(800)
		if npa%100 == 11 || nxx%100 == 11 {
			continue
		}
		full := fmt.Sprintf("1%03d%03d%04d", npa, nxx, rng.IntN(10000))
		// Half exact numbers, half prefixes of 4 to 10 digits.
		e := full
		if rng.IntN(2) == 0 {
			e = full[:4+rng.IntN(7)]
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		p := rng.IntN(peers)
		perPeer[p] = append(perPeer[p], e)
		probes = append(probes, full)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		// Straight into the buckets: AddPeer's checks are not what is
		// measured, and nested prefixes across peers are allowed anyway.
		for i, entries := range perPeer {
			name := fmt.Sprintf("peer%03d", i)
			if err := tx.Bucket(bucketPeers).Put([]byte(name), []byte("{}")); err != nil {
				return err
			}
			for _, e := range entries {
				if err := tx.Bucket(bucketPool).Put([]byte(e), []byte(name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	tab, err := db.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	// Misses too: numbers in no pool (most random numbers are).
	for range len(probes) {
		probes = append(probes, fmt.Sprintf("1%03d%03d%04d", 200+rng.IntN(800), 200+rng.IntN(800), rng.IntN(10000)))
	}
	rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
	return tab, probes, path
}

func TestPoolTableLookups(t *testing.T) {
	tab, probes, _ := poolTable(t, 2000)
	hits := 0
	for _, p := range probes {
		if _, ok := tab.LookupPeer(p); ok {
			hits++
		}
	}
	if hits < 2000 {
		t.Fatalf("%d hits, want at least the 2000 numbers drawn from the pool", hits)
	}
	if testing.AllocsPerRun(100, func() { tab.LookupPeer(probes[0]) }) != 0 {
		t.Fatal("LookupPeer allocates")
	}
}

// BenchmarkLookupPeer measures routing's peer lookup over 10,000 pool
// entries (half exact numbers, half prefixes), half hits and half misses.
func BenchmarkLookupPeer(b *testing.B) {
	tab, probes, _ := poolTable(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tab.LookupPeer(probes[i%len(probes)])
		i++
	}
}

func BenchmarkLookupPeerParallel(b *testing.B) {
	tab, probes, _ := poolTable(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(probes))
		for pb.Next() {
			tab.LookupPeer(probes[i%len(probes)])
			i++
		}
	})
}

// BenchmarkLoadTable measures a reload of 10,000 numbers and 10,000 pool
// entries: the time the server holds the file.
func BenchmarkLoadTable(b *testing.B) {
	_, _, path := poolTable(b, 10_000)
	db, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for i := range 10_000 {
			key := fmt.Sprintf("1619%03d%04d", 200+i%700, i)
			if err := tx.Bucket(bucketNumbers).Put([]byte(key), encodeEntry(GSM, i%2 == 0)); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LoadTable(path); err != nil {
			b.Fatal(err)
		}
	}
}
