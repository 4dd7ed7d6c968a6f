package pms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"switchboard/internal/datadir"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		crashChild(dir)
		return
	}
	code := m.Run()
	removeBenchFiles()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func testRecord(i int, disp Disposition) *Record {
	return &Record{
		Kind:     KindSM,
		Validity: 3600,
		SrcClass: ClassLocal,
		DstClass: ClassGSM,
		Src:      Address{TON: 1, NPI: 1, Digits: "16195550100"},
		Dst:      Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1619555%04d", i%10000)},
		UDL:      uint8(len(fmt.Sprint(i))),
		UD:       []byte(fmt.Sprint(i)),
		State:    State{Disposition: disp},
	}
}

func openStore(t testing.TB, dir string, opts Options, visit func(*Record) error) *Store {
	t.Helper()
	opts.Dir = dir
	s, err := Open(opts, visit)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func appendN(t testing.TB, s *Store, n int, disp Disposition) []*Record {
	t.Helper()
	out := make([]*Record, n)
	for i := range out {
		out[i] = testRecord(i, disp)
		if err := s.Append(context.Background(), out[i]); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return out
}

func TestAppendReadUpdate(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s := openStore(t, dir, Options{Metrics: NewMetrics(reg)}, nil)
	ctx := context.Background()

	a, b := testRecord(1, Active), testRecord(2, Stored)
	if err := s.Append(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if a.Index != 0 || b.Index != 1 {
		t.Fatalf("indexes %d %d", a.Index, b.Index)
	}
	if a.Entry.IsZero() || !a.Entry.Equal(b.Entry) {
		t.Fatalf("entry times %v %v", a.Entry, b.Entry)
	}
	var got Record
	if err := s.Read(0, &got); err != nil || string(got.UD) != "1" || got.Dst != a.Dst {
		t.Fatalf("read: %v %+v", err, got)
	}
	if err := s.Update(ctx, 0, State{Disposition: Delivered, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Read(0, &got); err != nil || got.State.Disposition != Delivered || got.State.Discharged.IsZero() {
		t.Fatalf("after update: %v %+v", err, got.State)
	}
	if err := s.Update(ctx, 0, State{Disposition: Failed}); !errors.Is(err, ErrHistorical) {
		t.Fatalf("update of historical: %v", err)
	}
	if err := s.Update(ctx, 1, State{Disposition: Failed}); !errors.Is(err, ErrHistorical) {
		t.Fatalf("update of stored: %v", err)
	}
	if err := s.Update(ctx, 2, State{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update past end: %v", err)
	}
	if err := s.Read(5, &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read past end: %v", err)
	}
	bad := testRecord(3, Active)
	bad.UD = make([]byte, MaxUD+1)
	if err := s.Append(ctx, testRecord(4, Active), bad); err == nil {
		t.Fatal("bad record accepted")
	}
	if st := s.Stats(); st.Next != 2 || st.Active != 0 {
		t.Fatalf("stats after rejected append: %+v", st)
	}
	if got := testutil.ToFloat64(s.m.appends); got != 2 {
		t.Errorf("appends metric %v", got)
	}
	if got := testutil.ToFloat64(s.m.fileBytes); got != 2*RecordSize {
		t.Errorf("file bytes metric %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, testRecord(5, Active)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	// Two records, then the zero tail (docs/pms.md).
	if fi, err := os.Stat(filepath.Join(dir, datadir.PMSFile)); err != nil || fi.Size() < 2*RecordSize {
		t.Fatalf("file size: %v %v", fi.Size(), err)
	}
	rd, err := OpenReader(filepath.Join(dir, datadir.PMSFile))
	if err != nil || rd.Len() != 2 {
		t.Fatalf("reader: %v records, %v", rd.Len(), err)
	}
	rd.Close()
}

func TestConcurrentAppendsShareSyncs(t *testing.T) {
	for _, depth := range []int{1, 3} {
		t.Run(fmt.Sprint("depth=", depth), func(t *testing.T) { testConcurrentAppends(t, depth) })
	}
}

func testConcurrentAppends(t *testing.T, depth int) {
	s := openStore(t, t.TempDir(), Options{SyncDepth: depth}, nil)
	defer s.Close()
	const writers, each = 64, 50
	var wg sync.WaitGroup
	seen := make([][]uint64, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := testRecord(w*1000+i, Active)
				if err := s.Append(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
				seen[w] = append(seen[w], r.Index)
			}
		}()
	}
	wg.Wait()
	all := map[uint64]bool{}
	for w, idxs := range seen {
		for i, idx := range idxs {
			if all[idx] {
				t.Fatalf("index %d assigned twice", idx)
			}
			all[idx] = true
			var r Record
			if err := s.Read(idx, &r); err != nil || string(r.UD) != fmt.Sprint(w*1000+i) {
				t.Fatalf("record %d: %v %q", idx, err, r.UD)
			}
		}
	}
	var prev int64
	for i := uint64(0); i < writers*each; i++ {
		var r Record
		if err := s.Read(i, &r); err != nil {
			t.Fatal(err)
		}
		if r.Entry.UnixNano() < prev {
			t.Fatalf("entry time went backwards at %d", i)
		}
		prev = r.Entry.UnixNano()
	}
	syncs := testutil.ToFloat64(s.m.syncs)
	if syncs >= writers*each {
		t.Errorf("%v syncs for %d appends: no group commit", syncs, writers*each)
	}
	t.Logf("%d appends in %v syncs", writers*each, syncs)
}

func TestReopenVisitsOnlyActive(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	appendN(t, s, 10, Active)
	appendN(t, s, 5, Stored)
	ctx := context.Background()
	for _, i := range []uint64{0, 3, 9} {
		if err := s.Update(ctx, i, State{Disposition: Delivered}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, 4, State{SRR: true, IMSI: "001010123456789", Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var visited []uint64
	s = openStore(t, dir, Options{}, func(r *Record) error {
		visited = append(visited, r.Index)
		if r.Index == 4 && (r.State.IMSI != "001010123456789" || !r.State.SRR) {
			t.Errorf("state of 4 not kept: %+v", r.State)
		}
		return nil
	})
	defer s.Close()
	if want := []uint64{1, 2, 4, 5, 6, 7, 8}; fmt.Sprint(visited) != fmt.Sprint(want) {
		t.Fatalf("visited %v, want %v", visited, want)
	}
	r := testRecord(99, Active)
	if err := s.Append(ctx, r); err != nil || r.Index != 15 {
		t.Fatalf("append after reopen: index %d, %v", r.Index, err)
	}
}

// appendBatches appends n active records quickly, 512 per group commit.
func appendBatches(t testing.TB, s *Store, n int) []*Record {
	t.Helper()
	recs := make([]*Record, 0, n)
	for len(recs) < n {
		batch := make([]*Record, 0, 512)
		for len(batch) < 512 && len(recs)+len(batch) < n {
			batch = append(batch, testRecord(len(recs)+len(batch), Active))
		}
		if err := s.Append(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, batch...)
	}
	return recs
}

func pmsPath(dir string) string { return filepath.Join(dir, datadir.PMSFile) }

func TestTornTailIsCut(t *testing.T) {
	for _, prealloc := range []int64{-1, 0, 64 * RecordSize} {
		t.Run(fmt.Sprint("preallocate=", prealloc), func(t *testing.T) { testTornTailIsCut(t, prealloc) })
	}
}

// testTornTailIsCut writes a torn tail where the next records would go:
// at the end of the file without a zero tail, over the zero tail with one.
func testTornTailIsCut(t *testing.T, prealloc int64) {
	for name, tail := range map[string][]byte{
		"partial record":        bytes.Repeat([]byte{0xAA}, 100),
		"zero record":           make([]byte, RecordSize),
		"zero and partial":      make([]byte, RecordSize+17),
		"garbage after a valid": nil, // filled below
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Options{MaxBatch: 8, Preallocate: prealloc}, nil)
			appendN(t, s, 20, Active)
			s.Close()
			if tail == nil {
				// A torn batch may persist a later record and not an
				// earlier one: valid, zero, valid.
				var b [RecordSize]byte
				r := testRecord(21, Active)
				r.Index = 21
				if err := Encode(b[:], r); err != nil {
					t.Fatal(err)
				}
				tail = append(make([]byte, RecordSize), b[:]...)
			}
			f, err := os.OpenFile(pmsPath(dir), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(tail, 20*RecordSize)
			f.Close()
			reg := prometheus.NewRegistry()
			n := 0
			s = openStore(t, dir, Options{MaxBatch: 8, Metrics: NewMetrics(reg), Preallocate: prealloc}, func(*Record) error { n++; return nil })
			if n != 20 || s.Stats().Next != 20 {
				t.Fatalf("after recovery: %d active, next %d", n, s.Stats().Next)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Nothing but zeros may follow the records: the store cut the
			// torn tail (and may have written a new zero tail since).
			b, err := os.ReadFile(pmsPath(dir))
			if err != nil || len(b) < 20*RecordSize || !allZero(b[20*RecordSize:]) {
				t.Fatalf("file not cut: %d bytes, %v", len(b), err)
			}
			if prealloc < 0 && !allZero(tail) && len(b) != 20*RecordSize {
				t.Fatalf("file not cut: %d bytes", len(b))
			}
		})
	}
}

func TestCorruptionOutsideTailIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	appendBatches(t, s, DefaultMaxBatch+40)
	s.Close()
	f, err := os.OpenFile(pmsPath(dir), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xFF}, 10*RecordSize+100) // body of record 10, far from the tail
	f.Close()
	before, _ := os.ReadFile(pmsPath(dir))
	_, err = Open(Options{Dir: dir}, nil)
	if !errors.Is(err, ErrBodyCRC) || !bytes.Contains([]byte(err.Error()), []byte(pmsPath(dir))) {
		t.Fatalf("open: %v", err)
	}
	after, _ := os.ReadFile(pmsPath(dir))
	if !bytes.Equal(before, after) {
		t.Fatal("refused store was modified")
	}
}

func TestForeignFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("this is not a message store\n"), 100)
	os.WriteFile(pmsPath(dir), content, 0o640)
	_, err := Open(Options{Dir: dir}, nil)
	if !errors.Is(err, ErrForeign) {
		t.Fatalf("open: %v", err)
	}
	if got, _ := os.ReadFile(pmsPath(dir)); !bytes.Equal(got, content) {
		t.Fatal("foreign file modified")
	}
	// A newer format version is refused, not cut as torn.
	dir = t.TempDir()
	var b [RecordSize]byte
	Encode(b[:], testRecord(0, Active))
	b[2] = FormatVersion + 1
	os.WriteFile(pmsPath(dir), b[:], 0o640)
	if _, err := Open(Options{Dir: dir}, nil); !errors.Is(err, ErrVersion) {
		t.Fatalf("open newer version: %v", err)
	}
}

func TestTornStateTrailerStaysActive(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxBatch: 8}, nil)
	appendN(t, s, 30, Active)
	s.Close()
	f, _ := os.OpenFile(pmsPath(dir), os.O_WRONLY, 0)
	f.WriteAt([]byte{0x02, 0x00, 0x07}, 5*RecordSize+stateOffset) // half-written discharge
	f.Close()
	var got []uint64
	s = openStore(t, dir, Options{MaxBatch: 8}, func(r *Record) error { got = append(got, r.Index); return nil })
	defer s.Close()
	if len(got) != 30 || got[5] != 5 {
		t.Fatalf("visited %v", got)
	}
	var r Record
	if err := s.Read(5, &r); err != nil || r.State.Disposition != Active {
		t.Fatalf("trailer not rewritten: %v %+v", err, r.State)
	}
}

func TestHistoricalMB(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openStore(t, dir, Options{}, nil)
	recs := appendBatches(t, s, 2*RecordsPerMB+10)
	// Discharging all of the first megabyte but one keeps the count at 0.
	for i := 1; i < RecordsPerMB+5; i++ {
		if err := s.Update(ctx, uint64(i), State{Disposition: Delivered}); err != nil {
			t.Fatal(err)
		}
	}
	if h := s.Stats().HistoricalMB; h != 0 {
		t.Fatalf("historical-mb %d with record 0 active", h)
	}
	if err := s.Update(ctx, 0, State{Disposition: Expired}); err != nil {
		t.Fatal(err)
	}
	if h := s.Stats().HistoricalMB; h != 1 {
		t.Fatalf("historical-mb %d, want 1", h)
	}
	s.Close()
	if h, err := ReadHistoricalMB(dir); err != nil || h != 1 {
		t.Fatalf("historical-mb file: %d %v", h, err)
	}

	// Prove the first megabyte is skipped: damage a record in it, which a
	// full scan would refuse, and reopen.
	f, _ := os.OpenFile(pmsPath(dir), os.O_WRONLY, 0)
	f.WriteAt([]byte{0xEE}, 7*RecordSize+50)
	f.Close()
	n := 0
	s = openStore(t, dir, Options{}, func(*Record) error { n++; return nil })
	s.Close()
	if want := len(recs) - (RecordsPerMB + 5); n != want {
		t.Fatalf("%d active after reopen, want %d", n, want)
	}

	// A garbled historical-mb falls back to a full scan, which now finds
	// the damage and refuses to start.
	os.WriteFile(filepath.Join(dir, datadir.HistoricalMB), []byte("lots\n"), 0o640)
	if _, err := Open(Options{Dir: dir}, nil); !errors.Is(err, ErrBodyCRC) {
		t.Fatalf("open with garbled historical-mb: %v", err)
	}
	// Repair the damage: a garbled or oversized file then only costs a scan.
	f, _ = os.OpenFile(pmsPath(dir), os.O_RDWR, 0)
	var b [RecordSize]byte
	f.ReadAt(b[:], 7*RecordSize)
	b[50] ^= 0xEE
	f.WriteAt(b[:], 7*RecordSize)
	f.Close()
	for _, content := range []string{"lots\n", "999\n", ""} {
		os.WriteFile(filepath.Join(dir, datadir.HistoricalMB), []byte(content), 0o640)
		n = 0
		s = openStore(t, dir, Options{}, func(*Record) error { n++; return nil })
		s.Close()
		if want := len(recs) - (RecordsPerMB + 5); n != want {
			t.Fatalf("historical-mb %q: %d active, want %d", content, n, want)
		}
		if h, _ := ReadHistoricalMB(dir); h != 1 {
			t.Fatalf("historical-mb %q not rewritten: %d", content, h)
		}
	}
}

func TestWriteFailureStopsAcknowledging(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{}, nil)
	appendN(t, s, 3, Active)
	s.f.Close() // the disk goes away underneath the store
	if err := s.Append(context.Background(), testRecord(9, Active)); !errors.Is(err, ErrFailed) {
		t.Fatalf("append on a dead file: %v", err)
	}
	if err := s.Healthy(); !errors.Is(err, ErrFailed) {
		t.Fatalf("healthy: %v", err)
	}
	if err := s.Append(context.Background(), testRecord(10, Active)); !errors.Is(err, ErrFailed) {
		t.Fatalf("second append: %v", err)
	}
	s.Close()
}

func TestEntryTimesNeverGoBackwards(t *testing.T) {
	now := time.Unix(1700000000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, t.TempDir(), Options{Now: clock}, nil)
	defer s.Close()
	a := testRecord(0, Active)
	s.Append(context.Background(), a)
	mu.Lock()
	now = now.Add(-time.Hour) // the wall clock is set back
	mu.Unlock()
	b := testRecord(1, Active)
	s.Append(context.Background(), b)
	if b.Entry.Before(a.Entry) {
		t.Fatalf("entry %v before %v", b.Entry, a.Entry)
	}
}

func encoded(t *testing.T, r *Record) *[RecordSize]byte {
	t.Helper()
	var b [RecordSize]byte
	if err := Encode(b[:], r); err != nil {
		t.Fatal(err)
	}
	return &b
}

func TestAppendRaw(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	ctx := context.Background()
	appendN(t, s, 2, Active)
	a, b := encoded(t, testRecord(10, Active)), encoded(t, testRecord(11, Delivered))
	first, entry, err := s.AppendRaw(ctx, a, b)
	if err != nil || first != 2 || entry.IsZero() {
		t.Fatalf("AppendRaw: %d %v %v", first, entry, err)
	}
	for i, raw := range []*[RecordSize]byte{a, b} {
		var r Record
		if err := s.Read(first+uint64(i), &r); err != nil {
			t.Fatal(err)
		}
		if r.Index != first+uint64(i) || !r.Entry.Equal(entry) || string(r.UD) != fmt.Sprint(10+i) {
			t.Fatalf("record %d: %+v", i, r)
		}
		// The caller's bytes are the stored ones: index, entry time and
		// body CRC included.
		var disk [RecordSize]byte
		if err := s.ReadRaw(first+uint64(i), &disk); err != nil || disk != *raw {
			t.Fatalf("record %d: caller's bytes differ from the stored ones (%v)", i, err)
		}
	}
	if st := s.Stats(); st.Active != 3 || st.Next != 4 {
		t.Fatalf("stats %+v, want 3 active of 4", st)
	}

	// Asynchronous: the callback gets the outcome, after the sync.
	c := encoded(t, testRecord(12, Active))
	got := make(chan uint64, 1)
	if err := s.AppendRawAsync(ctx, []*[RecordSize]byte{c}, func(first uint64, _ time.Time, err error) {
		if err != nil {
			t.Error(err)
		}
		got <- first
	}); err != nil {
		t.Fatal(err)
	}
	if idx := <-got; idx != 4 {
		t.Fatalf("async append got index %d, want 4", idx)
	}

	// Bytes the store cannot take are refused before anything is queued.
	bad := encoded(t, testRecord(13, Active))
	bad[stateOffset] = 9 // disposition out of range, state CRC now wrong
	if _, _, err := s.AppendRaw(ctx, bad); !errors.Is(err, ErrStateCRC) {
		t.Fatalf("bad state: %v", err)
	}
	bad = encoded(t, testRecord(13, Active))
	bad[0] = 'X'
	if err := s.AppendRawAsync(ctx, []*[RecordSize]byte{bad}, func(uint64, time.Time, error) { t.Error("callback for a refused record") }); !errors.Is(err, ErrMagic) {
		t.Fatalf("bad magic: %v", err)
	}
	s.Close()
	if err := s.AppendRawAsync(ctx, []*[RecordSize]byte{c}, func(uint64, time.Time, error) { t.Error("callback after close") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}

	// Reopened, the raw records are there like any others.
	var active []uint64
	s = openStore(t, dir, Options{}, func(r *Record) error { active = append(active, r.Index); return nil })
	defer s.Close()
	if fmt.Sprint(active) != "[0 1 2 4]" {
		t.Fatalf("active after reopen: %v", active)
	}
}

func TestAsyncAppendAfterWriteFailure(t *testing.T) {
	for _, depth := range []int{1, 2} {
		s := openStore(t, t.TempDir(), Options{SyncDepth: depth}, nil)
		appendN(t, s, 1, Active)
		s.f.Close() // the disk goes away underneath the store
		got := make(chan error, 1)
		if err := s.AppendRawAsync(context.Background(), []*[RecordSize]byte{encoded(t, testRecord(2, Active))},
			func(_ uint64, _ time.Time, err error) { got <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-got; !errors.Is(err, ErrFailed) {
			t.Fatalf("depth %d: async append on a dead file: %v", depth, err)
		}
		if err := s.Append(context.Background(), testRecord(3, Active)); !errors.Is(err, ErrFailed) {
			t.Fatalf("depth %d: append after the failure: %v", depth, err)
		}
		s.Close()
	}
}

// UpdateClass writes the trailer without reading the record, and still
// refuses historical records: those discharged earlier, those stored
// historical, and one made historical by a batch not yet acknowledged
// (several syncs in flight).
func TestUpdateClass(t *testing.T) {
	for _, depth := range []int{1, 3} {
		t.Run(fmt.Sprint("depth=", depth), func(t *testing.T) {
			s := openStore(t, t.TempDir(), Options{SyncDepth: depth}, nil)
			defer s.Close()
			ctx := context.Background()
			recs := appendN(t, s, 3, Active)
			if err := s.Append(ctx, testRecord(9, Stored)); err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateClass(ctx, recs[0].Index, ClassGSM, State{Disposition: Active, Attempts: 2, IMSI: "310150123456789"}); err != nil {
				t.Fatal(err)
			}
			var got Record
			if err := s.Read(recs[0].Index, &got); err != nil || got.State.Attempts != 2 || got.State.IMSI != "310150123456789" {
				t.Fatalf("after UpdateClass: %v %+v", err, got.State)
			}
			if err := s.UpdateClass(ctx, recs[0].Index, ClassGSM, State{Disposition: Delivered}); err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateClass(ctx, recs[0].Index, ClassGSM, State{Disposition: Failed}); !errors.Is(err, ErrHistorical) {
				t.Fatalf("update of a discharged record: %v", err)
			}
			if err := s.UpdateClass(ctx, 3, ClassGSM, State{Disposition: Failed}); !errors.Is(err, ErrHistorical) {
				t.Fatalf("update of a record stored historical: %v", err)
			}
			if err := s.UpdateClass(ctx, 4, ClassGSM, State{}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("update past the end: %v", err)
			}
			// Two discharges of one record queued together: the first
			// wins, the second is refused, wherever the batches fall.
			errs := make(chan error, 2)
			for _, d := range []Disposition{Delivered, Expired} {
				go func() { errs <- s.UpdateClass(ctx, recs[1].Index, ClassGSM, State{Disposition: d}) }()
			}
			e1, e2 := <-errs, <-errs
			if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, ErrHistorical) || errors.Is(e2, ErrHistorical)) {
				t.Fatalf("two discharges: %v, %v", e1, e2)
			}
			if st := s.Stats(); st.Active != 1 {
				t.Fatalf("%d active, want 1", st.Active)
			}
		})
	}
}

// UpdateClassAsync: done comes once the update is durable, with the
// outcome UpdateClass would have returned; the writes keep their order.
func TestUpdateClassAsync(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{}, nil)
	defer s.Close()
	ctx := context.Background()
	recs := appendN(t, s, 2, Active)
	errs := make(chan error, 4)
	done := func(err error) { errs <- err }
	// Queued one after another: the active update, then the discharge,
	// then a second discharge, which must be refused.
	for _, st := range []State{{Disposition: Active, Attempts: 3}, {Disposition: Delivered, Attempts: 4}, {Disposition: Expired}} {
		if err := s.UpdateClassAsync(ctx, recs[0].Index, ClassGSM, st, done); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateClassAsync(ctx, 99, ClassGSM, State{}, done); err != nil {
		t.Fatal(err)
	}
	var got []error
	for range 4 {
		got = append(got, <-errs)
	}
	nils, hist, notFound := 0, 0, 0
	for _, err := range got {
		switch {
		case err == nil:
			nils++
		case errors.Is(err, ErrHistorical):
			hist++
		case errors.Is(err, ErrNotFound):
			notFound++
		}
	}
	if nils != 2 || hist != 1 || notFound != 1 {
		t.Fatalf("outcomes %v", got)
	}
	var r Record
	if err := s.Read(recs[0].Index, &r); err != nil || r.State.Disposition != Delivered || r.State.Attempts != 4 {
		t.Fatalf("after the updates: %v %+v", err, r.State)
	}
	if st := s.Stats(); st.Active != 1 {
		t.Fatalf("%d active, want 1", st.Active)
	}
	s.Close()
	if err := s.UpdateClassAsync(ctx, recs[1].Index, ClassGSM, State{}, func(error) { t.Error("done called after a refused update") }); !errors.Is(err, ErrClosed) {
		t.Fatalf("update after close: %v", err)
	}
}
