package pms

import (
	"context"
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
