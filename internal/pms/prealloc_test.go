package pms

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZeroTail appends through many extensions of a small zero tail from
// several goroutines (batches of one and of many records), then checks
// that every record reads back as written, that only zeros follow the
// records, and that a reopened store and a Reader both find the end where
// the records end rather than at the end of the file.
func TestZeroTail(t *testing.T) {
	const (
		prealloc = 32 * RecordSize
		writers  = 8
		each     = 150
	)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := openStore(t, dir, Options{Preallocate: prealloc, Metrics: m}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				recs := []*Record{testRecord(w*1000+i, Active)}
				if i%10 == 0 {
					recs = append(recs, testRecord(w*1000+i, Active), testRecord(w*1000+i, Active))
				}
				if err := s.Append(context.Background(), recs...); err != nil {
					errs <- err
					return
				}
				for _, r := range recs {
					var got Record
					if err := s.Read(r.Index, &got); err != nil || string(got.UD) != string(r.UD) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal("append or read back:", err)
	}
	want := uint64(writers * (each + 2*each/10))
	if st := s.Stats(); st.Next != want {
		t.Fatalf("next %d, want %d", st.Next, want)
	}
	if got := testutil.ToFloat64(m.preallocated); got < float64(want*RecordSize) {
		t.Errorf("allocated bytes %v, want at least the %d bytes of records", got, want*RecordSize)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pmsPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(b)) <= want*RecordSize || !allZero(b[want*RecordSize:]) {
		t.Fatalf("file of %d bytes: want %d records and then a zero tail", len(b), want)
	}
	var rec Record
	for i := range want {
		if err := Decode(b[i*RecordSize:(i+1)*RecordSize], &rec); err != nil || rec.Index != i {
			t.Fatalf("position %d: index %d, %v", i, rec.Index, err)
		}
	}

	rd, err := OpenReader(pmsPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if rd.Len() != int(want) {
		t.Errorf("reader sees %d records, want %d", rd.Len(), want)
	}
	rd.Close()

	n := 0
	s = openStore(t, dir, Options{Preallocate: prealloc}, func(*Record) error { n++; return nil })
	defer s.Close()
	if n != int(want) || s.Stats().Next != want {
		t.Fatalf("reopened: %d active, next %d, want %d", n, s.Stats().Next, want)
	}
	r := testRecord(1, Active)
	if err := s.Append(context.Background(), r); err != nil || r.Index != want {
		t.Fatalf("append after reopen: index %d, %v", r.Index, err)
	}
}

// TestZeroTailEmptyStore: a store that holds no record but has its zero
// tail (a first start, then a stop) opens as empty, with the index base
// it had, and is not mistaken for a corrupt file however long the tail.
func TestZeroTailEmptyStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pmsPath(dir), make([]byte, 3*DefaultMaxBatch*RecordSize), 0o640); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{}, nil)
	defer s.Close()
	if st := s.Stats(); st.Next != 0 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
	r := testRecord(1, Active)
	if err := s.Append(context.Background(), r); err != nil || r.Index != 0 {
		t.Fatalf("first append: index %d, %v", r.Index, err)
	}
}

// TestRecordsEnd checks the Reader's search for the end of the records
// against a linear scan, for every tail length up to well past a few
// doubling steps.
func TestRecordsEnd(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64, 100} {
		for records := 0; records <= n; records++ {
			data := make([]byte, n*RecordSize)
			for i := range records {
				data[i*RecordSize], data[i*RecordSize+1] = magic0, magic1
			}
			if got := recordsEnd(data, n); got != records {
				t.Fatalf("%d positions, %d records: found %d", n, records, got)
			}
		}
	}
}

// TestMirrorUpdates updates records young enough to be in the mirror and
// records that are not, in batches that mix them, then reopens the store
// and checks every record's state and body: trailers written from the
// mirror in runs must carry each record's latest state, and the bytes
// between them must be the records as stored.
func TestMirrorUpdates(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	const n = mirrorRecords + 3000
	recs := appendBatches(t, s, n)
	ctx := context.Background()
	want := make([]Disposition, n)
	for i := range want {
		want[i] = Active
	}
	// Three passes in parallel goroutines so that updates share batches:
	// every third record delivered, every fifth then... failed (refused
	// when already delivered), every seventh expired, the old records
	// (outside the mirror) included, with and without the class known.
	type upd struct {
		i    int
		disp Disposition
	}
	var plan [][]upd
	for _, step := range []struct {
		every int
		disp  Disposition
	}{{3, Delivered}, {5, Failed}, {7, Expired}} {
		var p []upd
		for i := 0; i < n; i += step.every {
			if want[i] == Active {
				want[i] = step.disp
				p = append(p, upd{i, step.disp})
			}
		}
		plan = append(plan, p)
	}
	for _, p := range plan {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < len(p); k += 4 {
					u := p[k]
					st := State{Disposition: u.disp}
					var err error
					if u.i%2 == 0 {
						err = s.UpdateClass(ctx, recs[u.i].Index, recs[u.i].DstClass, st)
					} else {
						err = s.Update(ctx, recs[u.i].Index, st)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	// A record made historical through the mirror is refused from then on.
	young := n - 1 - (n-1)%3 // delivered in the first pass
	if err := s.Update(ctx, recs[young].Index, State{Disposition: Failed}); !errors.Is(err, ErrHistorical) {
		t.Fatalf("second discharge of a young record: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{}, nil)
	defer s.Close()
	var got Record
	for i, r := range recs {
		if err := s.Read(r.Index, &got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got.State.Disposition != want[i] || string(got.UD) != string(r.UD) || got.Dst != r.Dst {
			t.Fatalf("record %d: %s %q to %v, want %s %q to %v", i, got.State.Disposition, got.UD, got.Dst, want[i], r.UD, r.Dst)
		}
	}
}

// TestMirrorUpdatesOfRecordsBeingReplaced discharges the records that are
// about to leave the mirror while new appends take their slots, in the
// same batches: an update must be written from the old record's slot
// before a new record reuses it, or the file gets the new record's bytes
// at the old one's place and refuses to open.
func TestMirrorUpdatesOfRecordsBeingReplaced(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	recs := appendBatches(t, s, mirrorRecords)
	ctx := context.Background()
	// Step by step, 20 new records (which take the mirror slots of
	// records k..k+19) and the updates of those same 20 old records, all
	// at once so that they share group commits.
	const steps, width = 400, 20
	errs := make(chan error, steps*(width+1))
	for step := range steps {
		var wg sync.WaitGroup
		wg.Add(1 + width)
		go func() {
			defer wg.Done()
			batch := make([]*Record, width)
			for k := range batch {
				batch[k] = testRecord(mirrorRecords+step*width+k, Active)
			}
			if err := s.Append(ctx, batch...); err != nil {
				errs <- err
			}
		}()
		for k := range width {
			go func() {
				defer wg.Done()
				r := recs[step*width+k]
				if err := s.UpdateClass(ctx, r.Index, r.DstClass, State{Disposition: Delivered}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{}, nil)
	defer s.Close()
	var got Record
	for i := range mirrorRecords + steps*width {
		if err := s.Read(uint64(i), &got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := Active
		if i < steps*width {
			want = Delivered
		}
		if got.State.Disposition != want {
			t.Fatalf("record %d: %s, want %s", i, got.State.Disposition, want)
		}
	}
}
