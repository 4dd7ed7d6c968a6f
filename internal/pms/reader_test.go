package pms

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var synthStart = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func openTestReader(t *testing.T, path string) *Reader {
	t.Helper()
	r, err := OpenReader(path)
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestReaderEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openTestReader(t, path)
	if r.Len() != 0 || r.Base() != 0 {
		t.Fatalf("Len %d Base %d, want 0 0", r.Len(), r.Base())
	}
	if got := r.SearchTime(synthStart); got != 0 {
		t.Fatalf("SearchTime on empty = %d", got)
	}
	if err := r.Record(0, &Record{}); err == nil {
		t.Fatal("Record(0) on an empty file succeeded")
	}
}

func TestReaderMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.bin")
	_, err := OpenReader(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want not-exist naming %s", err, path)
	}
}

func TestReaderRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	writeSynthetic(t, path, 300, 200, synthStart, time.Second)
	r := openTestReader(t, path)
	if r.Len() != 500 || r.Base() != 0 {
		t.Fatalf("Len %d Base %d, want 500 0", r.Len(), r.Base())
	}
	var rec Record
	for i := range r.Len() {
		if err := r.Record(i, &rec); err != nil {
			t.Fatalf("Record(%d): %v", i, err)
		}
		if rec.Index != uint64(i) {
			t.Fatalf("Record(%d).Index = %d", i, rec.Index)
		}
		if want := synthStart.Add(time.Duration(i) * time.Second); !rec.Entry.Equal(want) {
			t.Fatalf("Record(%d).Entry = %v, want %v", i, rec.Entry, want)
		}
		if hist := rec.State.Disposition.Historical(); hist != (i < 300) {
			t.Fatalf("Record(%d) historical = %v", i, hist)
		}
		if PeekIndex(r.Raw(i)) != uint64(i) {
			t.Fatalf("Raw(%d) index mismatch", i)
		}
	}
	if err := r.Record(500, &rec); err == nil {
		t.Fatal("Record past the end succeeded")
	}
}

func TestReaderSearchTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	// All records share one entry time: the first of equals is found.
	const n = 1000
	writeSynthetic(t, path, n, 0, synthStart, 0)
	r := openTestReader(t, path)
	if got := r.SearchTime(synthStart); got != 0 {
		t.Fatalf("equal times: SearchTime = %d, want 0", got)
	}
	if got := r.SearchTime(synthStart.Add(time.Nanosecond)); got != n {
		t.Fatalf("after all: SearchTime = %d, want %d", got, n)
	}

	path2 := filepath.Join(t.TempDir(), "pms.bin")
	writeSynthetic(t, path2, n, 0, synthStart, time.Second)
	r2 := openTestReader(t, path2)
	cases := []struct {
		t    time.Time
		want int
	}{
		{time.Time{}, 0},
		{synthStart.Add(-time.Hour), 0},
		{synthStart, 0},
		{synthStart.Add(500 * time.Second), 500},
		{synthStart.Add(500*time.Second + time.Millisecond), 501},
		{synthStart.Add(999 * time.Second), 999},
		{synthStart.Add(time.Hour), n},
	}
	for _, c := range cases {
		if got := r2.SearchTime(c.t); got != c.want {
			t.Errorf("SearchTime(%v) = %d, want %d", c.t, got, c.want)
		}
	}
}

func TestReaderTornTailAndSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	writeSynthetic(t, path, 10, 0, synthStart, time.Second)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A record being written: only part of it is in the file yet.
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	r := openTestReader(t, path)
	if r.Len() != 10 {
		t.Fatalf("Len with a partial tail = %d, want 10", r.Len())
	}
	// Growth after open is not seen: the Reader is a snapshot.
	if _, err := f.Write(make([]byte, 3*RecordSize)); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 10 {
		t.Fatalf("Len after growth = %d, want 10", r.Len())
	}
	var rec Record
	if err := r.Record(9, &rec); err != nil {
		t.Fatalf("Record(9): %v", err)
	}
}

func TestReaderForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a store ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenReader(path)
	if !errors.Is(err, ErrMagic) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a switchboard message store") {
		t.Fatalf("err = %v", err)
	}
	zeros := filepath.Join(dir, "zeros.bin")
	if err := os.WriteFile(zeros, make([]byte, 2*RecordSize), 0o600); err != nil {
		t.Fatal(err)
	}
	// An all-zero file is the zero tail of a store without records.
	if r := openTestReader(t, zeros); r.Len() != 0 {
		t.Fatalf("all-zero file Len = %d", r.Len())
	}
	// A file shorter than one record is an empty store, whatever it holds.
	short := filepath.Join(dir, "short.bin")
	if err := os.WriteFile(short, []byte("xyz"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := openTestReader(t, short)
	if r.Len() != 0 {
		t.Fatalf("short file Len = %d", r.Len())
	}
}

func TestReaderCorruptRecordNamesPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	writeSynthetic(t, path, 10, 0, synthStart, time.Second)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[5*RecordSize+100] ^= 0xFF         // body of position 5
	data[7*RecordSize+stateOffset] ^= 0x01 // state trailer of position 7
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openTestReader(t, path)
	var rec Record
	err = r.Record(5, &rec)
	if !errors.Is(err, ErrBodyCRC) || !strings.Contains(err.Error(), "position 5 (index 5)") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Record(5) err = %v", err)
	}
	err = r.Record(7, &rec)
	if !errors.Is(err, ErrStateCRC) || rec.Index != 7 {
		t.Fatalf("Record(7) err = %v, index %d", err, rec.Index)
	}
}

func TestReaderBase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	var buf []byte
	for i := range 5 {
		rec := synthRecord(i, true)
		rec.Index = 8192 + uint64(i)
		rec.Entry = synthStart.Add(time.Duration(i) * time.Minute)
		var b [RecordSize]byte
		if err := Encode(b[:], rec); err != nil {
			t.Fatal(err)
		}
		buf = append(buf, b[:]...)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	r := openTestReader(t, path)
	if r.Base() != 8192 {
		t.Fatalf("Base = %d, want 8192", r.Base())
	}
	var rec Record
	if err := r.Record(4, &rec); err != nil || rec.Index != 8196 {
		t.Fatalf("Record(4) = %d, %v", rec.Index, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestWriteSyntheticSpeed guards the helper's speed, which a 10-million
// record startup benchmark depends on.
func TestWriteSyntheticSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "pms.bin")
	t0 := time.Now()
	writeSynthetic(t, path, 200_000, 1000, synthStart, time.Millisecond)
	d := time.Since(t0)
	t.Logf("writeSynthetic: 201000 records in %v", d)
	st, err := os.Stat(path)
	if err != nil || st.Size() != 201000*RecordSize {
		t.Fatalf("size %v, %v", st, err)
	}
}

func TestReaderSequentialClamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	writeSynthetic(t, path, 100, 0, synthStart, time.Second)
	r := openTestReader(t, path)
	for _, c := range [][2]int{{-5, 200}, {17, 18}, {50, 10}, {100, 100}, {0, 100}} {
		r.Sequential(c[0], c[1])
	}
	var rec Record
	if err := r.Record(99, &rec); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.bin")
	os.WriteFile(empty, nil, 0o600)
	openTestReader(t, empty).Sequential(0, 10)
}
