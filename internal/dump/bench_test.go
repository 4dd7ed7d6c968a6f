package dump

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"switchboard/internal/pms"
)

// The 10-million-record file is 2.5 GB, so it is built once per test binary
// and removed by TestMain.
var (
	bigOnce sync.Once
	bigDir  string
	bigPath string
	bigErr  error
)

const bigRecords = 10_000_000

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// buildBig writes bigRecords records, one per 10 ms of entry time, with
// varied addresses; all historical except the last megabyte; then a zero
// tail.
func buildBig() (string, error) {
	dir, err := os.MkdirTemp("", "switchboard-dump-bench-")
	if err != nil {
		return "", err
	}
	bigDir = dir
	path := filepath.Join(dir, "pms.bin")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 8<<20)
	var addrs [64]pms.Address
	for i := range addrs {
		addrs[i] = pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1202555%04d", i)}
	}
	udl, ud := uint8(5), []byte{0xE8, 0x32, 0x9B, 0xFD, 0x06} // "hello"
	rec := pms.Record{Kind: pms.KindSM, SrcClass: pms.ClassLocal, DstClass: pms.ClassGSM, UDL: udl, UD: ud}
	var b [pms.RecordSize]byte
	for i := range bigRecords {
		rec.Index = uint64(i)
		rec.Entry = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		rec.Src, rec.Dst = addrs[i%64], addrs[(i/64)%64]
		rec.State.Disposition = pms.Delivered
		if i >= bigRecords-pms.RecordsPerMB {
			rec.State.Disposition = pms.Active
		}
		if err := pms.Encode(b[:], &rec); err != nil {
			return "", err
		}
		if _, err := w.Write(b[:]); err != nil {
			return "", err
		}
	}
	// As serve leaves it: the records, then the default zero tail, which
	// the reader must find the end of without reading it.
	if _, err := w.Write(make([]byte, pms.DefaultPreallocate)); err != nil {
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	// Clean pages can be dropped from the cache for the cold case.
	if err := f.Sync(); err != nil {
		return "", err
	}
	return path, f.Close()
}

// BenchmarkDumpSince10M times what `switchboard dump --since T --count 1`
// does on a 10-million-record store: map the file, binary-search the start
// time, decode and format the first row. The target is well under 50 ms.
// "warm" has the file in the page cache; "cold" drops it from the cache
// before each run (posix_fadvise), so the ~24 pages of the search and the
// first row's page come from the disk.
func BenchmarkDumpSince10M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 2.5 GB file")
	}
	bigOnce.Do(func() {
		t := time.Now()
		bigPath, bigErr = buildBig()
		fmt.Fprintf(os.Stderr, "built %d records in %v\n", bigRecords, time.Since(t).Round(time.Millisecond))
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	b.Run("warm", func(b *testing.B) { benchSince(b, false) })
	b.Run("cold", func(b *testing.B) { benchSince(b, true) })
}

func benchSince(b *testing.B, cold bool) {
	// A time that falls between two records, three quarters in.
	since := t0.Add(time.Duration(bigRecords*3/4)*10*time.Millisecond + 5*time.Millisecond)
	var out strings.Builder
	for b.Loop() {
		if cold {
			b.StopTimer()
			dropCache(b, bigPath)
			b.StartTimer()
		}
		out.Reset()
		r, err := pms.OpenReader(bigPath)
		if err != nil {
			b.Fatal(err)
		}
		st, err := Run(&out, r, Options{Since: since, Count: 1})
		r.Close()
		if err != nil || st.Printed != 1 {
			b.Fatalf("stats %+v, err %v", st, err)
		}
	}
	b.StopTimer()
	if want := fmt.Sprint(bigRecords*3/4 + 1); !strings.Contains(out.String(), "\n"+want+" ") {
		b.Fatalf("first row is not index %s:\n%s", want, out.String())
	}
}

func dropCache(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}
