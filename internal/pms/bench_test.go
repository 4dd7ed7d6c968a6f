package pms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"switchboard/internal/datadir"
)

// BenchmarkAppend64 measures durable appends from 64 concurrent appenders,
// one record per call, each waiting for its fdatasync (group commit). The
// issue's target is 200,000 records/s on the 2-core reference machine.
func BenchmarkAppend64(b *testing.B) {
	s := openStore(b, b.TempDir(), Options{}, nil)
	defer s.Close()
	b.SetParallelism((64 + 1) / 2) // RunParallel starts parallelism × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := testRecord(1, Active)
		for pb.Next() {
			if err := s.Append(context.Background(), r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/testutilSyncs(s), "records/sync")
	// The disk's fdatasync time moves the figure more than anything the
	// store does, and varies between runs (and with other work on the
	// machine): report it, and what each commit cycle spends besides it.
	syncs, syncSecs := syncStats(s)
	if syncs > 0 {
		f := syncSecs / syncs
		b.ReportMetric(f*1e6, "fdatasync-µs")
		b.ReportMetric((b.Elapsed().Seconds()/syncs-f)*1e6, "other-µs/cycle")
	}
}

// syncStats returns how many fdatasync calls the store made and the
// seconds they took.
func syncStats(s *Store) (n, secs float64) {
	return float64(s.syncCount.Load()), time.Duration(s.syncNanos.Load()).Seconds()
}

func testutilSyncs(s *Store) float64 { return max(1, readCounter(s.m.syncs)) }

var (
	benchDirsMu sync.Mutex
	benchDirs   = map[string]string{}
)

// benchStore returns a data directory holding a synthetic store, built once
// per process (10 M records take a few seconds and 2.5 GB) and removed when
// the test binary exits.
func benchStore(b *testing.B, historical, active int) string {
	b.Helper()
	key := fmt.Sprintf("%d-%d", historical, active)
	benchDirsMu.Lock()
	defer benchDirsMu.Unlock()
	if dir, ok := benchDirs[key]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "switchboard-bench-"+key)
	if err != nil {
		b.Fatal(err)
	}
	writeSynthetic(b, filepath.Join(dir, datadir.PMSFile), historical, active, time.Unix(1700000000, 0), time.Millisecond)
	// As the running store leaves it: the leading all-historical megabytes
	// are recorded.
	if err := WriteHistoricalMB(dir, uint64(historical/RecordsPerMB)); err != nil {
		b.Fatal(err)
	}
	benchDirs[key] = dir
	return dir
}

func removeBenchFiles() {
	benchDirsMu.Lock()
	defer benchDirsMu.Unlock()
	for _, dir := range benchDirs {
		os.RemoveAll(dir)
	}
}

// BenchmarkStartup10M opens a store of 10 M historical and 10 k active
// records, collecting the active ones, and closes it. Target: under 1 s.
func BenchmarkStartup10M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 2.5 GB file")
	}
	dir := benchStore(b, 10_000_000, 10_000)
	// One start and stop before the clock runs leaves the file as serve
	// leaves it, with its zero tail; the first start writes that tail, and
	// its fdatasync also flushes the 2.5 GB just written by benchStore.
	s, err := Open(Options{Dir: dir}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		s, err := Open(Options{Dir: dir}, func(*Record) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		if n != 10_000 {
			b.Fatalf("%d active records, want 10000", n)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/startup")
}
