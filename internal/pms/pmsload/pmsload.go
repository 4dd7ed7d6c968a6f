// Package pmsload is the load generator behind `switchboard bench store`:
// it measures how fast this machine's disk makes a group commit durable,
// then drives a store of its own (in a scratch directory on the file
// system under test, removed afterwards) with many concurrent appenders,
// and reports both, so that an operator can tell the store's share of a
// figure from the disk's.
//
// Each appender has PerCall records in flight and waits for them to be
// acknowledged before it appends again, as an SMPP session with a window
// of one does. A group commit therefore carries at most Appenders ×
// PerCall records, and no store can exceed that many records per flush
// time: Result.Ceiling is that bound for the flush time the run measured.
package pmsload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"switchboard/internal/loadstat"
	"switchboard/internal/pms"
)

// Config describes a run.
type Config struct {
	// Dir is where the scratch directory is made: a directory on the file
	// system whose disk is to be measured (the server's data directory,
	// typically). It is not touched otherwise.
	Dir string
	// Appenders append concurrently, each waiting for its records'
	// acknowledgement before appending again.
	Appenders int
	// PerCall is how many records each Append call carries.
	PerCall  int
	Duration time.Duration
	// Warmup is the start of the run left out of the figures (default a
	// fifth of Duration, at most 2 s; negative: none).
	Warmup time.Duration
	// Probe is how long the disk is measured on its own before the store
	// runs (default 1 s; negative: not at all).
	Probe time.Duration
}

func (c *Config) setDefaults() {
	if c.Dir == "" {
		c.Dir = "."
	}
	if c.Appenders <= 0 {
		c.Appenders = 64
	}
	if c.PerCall <= 0 {
		c.PerCall = 1
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	c.Warmup = loadstat.Warmup(c.Warmup, c.Duration)
	if c.Probe == 0 {
		c.Probe = time.Second
	}
}

// Result is what a run measured.
type Result struct {
	Appenders, PerCall int
	// Elapsed is the measured part of the run (after the warm-up).
	Elapsed time.Duration
	// Records were acknowledged in Elapsed; Flushes made them durable,
	// taking FlushTime in all.
	Records   int64
	Flushes   int64
	FlushTime time.Duration
	// AckP50 and AckP99 are the latencies of Append calls (the whole run).
	AckP50, AckP99 time.Duration
	// Probe* describe the disk on its own: ProbeWrites writes of
	// ProbeBytes each, made durable one at a time by the store's own
	// method (ProbeMethod), and their latencies. ProbeWrites is 0 when
	// the probe did not run.
	ProbeWrites                   int
	ProbeBytes                    int
	ProbeMethod                   string
	ProbeMean, ProbeP50, ProbeP99 time.Duration
}

// Rate is acknowledged records per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// PerFlush is the mean number of records one flush made durable.
func (r Result) PerFlush() float64 { return float64(r.Records) / float64(max(1, r.Flushes)) }

// MeanFlush is the mean time of one flush in the store.
func (r Result) MeanFlush() time.Duration {
	return r.FlushTime / time.Duration(max(1, r.Flushes))
}

// Ceiling is the most records per second any store could acknowledge at
// the flush time measured: every record in flight in every flush, and
// nothing but the flush in a commit cycle. The flush inside the store may
// take longer than the same write alone (DiskCeiling): on the reference
// machine the appenders' work just before it, on the other CPU, made it
// slower (docs/benchmarks.md).
func (r Result) Ceiling() float64 {
	if r.Flushes == 0 {
		return 0
	}
	return float64(r.Appenders*r.PerCall) / r.MeanFlush().Seconds()
}

// DiskCeiling is Ceiling at the disk's mean flush time as the probe
// measured it (comparable with MeanFlush), or 0 without a probe.
func (r Result) DiskCeiling() float64 {
	if r.ProbeWrites == 0 || r.ProbeMean <= 0 {
		return 0
	}
	return float64(r.Appenders*r.PerCall) / r.ProbeMean.Seconds()
}

// Other is the mean time of each commit cycle spent besides the flush:
// waking the appenders, taking their next records, the write when it is
// not part of the flush.
func (r Result) Other() time.Duration {
	if r.Flushes == 0 {
		return 0
	}
	return r.Elapsed/time.Duration(r.Flushes) - r.MeanFlush()
}

func (r Result) String() string {
	var b strings.Builder
	if r.ProbeWrites > 0 {
		fmt.Fprintf(&b, "disk: %d durable writes of %d bytes (%s), one at a time: mean %v p50 %v p99 %v\n",
			r.ProbeWrites, r.ProbeBytes, r.ProbeMethod, r.ProbeMean.Round(time.Microsecond),
			r.ProbeP50.Round(time.Microsecond), r.ProbeP99.Round(time.Microsecond))
	}
	fmt.Fprintf(&b, "store: %d appenders × %d record(s) per call: %.0f records/s acknowledged over %v; %.1f records per flush, flush %v, rest of each cycle %v; ack p50 %v p99 %v",
		r.Appenders, r.PerCall, r.Rate(), r.Elapsed.Round(time.Millisecond), r.PerFlush(),
		r.MeanFlush().Round(time.Microsecond), r.Other().Round(time.Microsecond),
		r.AckP50.Round(time.Microsecond), r.AckP99.Round(time.Microsecond))
	if c := r.Ceiling(); c > 0 {
		fmt.Fprintf(&b, "\nceiling: %d records in flight per flush; at the store's flush time %.0f records/s (the store reached %.0f %%)",
			r.Appenders*r.PerCall, c, 100*r.Rate()/c)
		if d := r.DiskCeiling(); d > 0 {
			fmt.Fprintf(&b, ", at the disk's own (probe) flush time %.0f records/s", d)
		}
	}
	return b.String()
}

// Run measures the disk, then the store. It stops early, with what it
// has, when ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	res := Result{Appenders: cfg.Appenders, PerCall: cfg.PerCall}
	scratch, err := os.MkdirTemp(cfg.Dir, "bench-store-")
	if err != nil {
		return res, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)

	if cfg.Probe > 0 {
		// One flush carries what every appender has in flight, up to
		// the store's batch limit.
		size := min(cfg.Appenders*cfg.PerCall, pms.DefaultMaxBatch) * pms.RecordSize
		if err := probe(ctx, filepath.Join(scratch, "probe"), size, cfg.Probe, &res); err != nil {
			return res, err
		}
	}
	if err := runStore(ctx, scratch, cfg, &res); err != nil {
		return res, err
	}
	return res, nil
}

// probeFile is the size of the probe's file of written zeros, which its
// writes go round: the store's zero tail (docs/pms.md) makes its group
// commits overwrite written blocks, and so does the probe.
const probeFile = 8 << 20

// probe writes size bytes at a time into a file of written zeros with
// pwritev2(RWF_DSYNC), as the store's committer does (or pwrite and
// fdatasync where the flag is refused), one at a time, for d.
func probe(ctx context.Context, path string, size int, d time.Duration, res *Result) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("disk probe: %w", err)
	}
	defer f.Close()
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < probeFile; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return fmt.Errorf("disk probe: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("disk probe: %w", err)
	}
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	fd := int(f.Fd())
	method := "pwritev2 RWF_DSYNC"
	var lat []time.Duration
	off := int64(0)
	for end := time.Now().Add(d); time.Now().Before(end) && ctx.Err() == nil; {
		if off+int64(size) > probeFile {
			off = 0
		}
		t0 := time.Now()
		_, err := unix.Pwritev2(fd, [][]byte{buf}, off, unix.RWF_DSYNC)
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
			method = "pwrite + fdatasync"
			if _, err = f.WriteAt(buf, off); err == nil {
				err = unix.Fdatasync(fd)
			}
		}
		if err != nil {
			return fmt.Errorf("disk probe: %w", err)
		}
		lat = append(lat, time.Since(t0))
		off += int64(size)
	}
	res.ProbeWrites, res.ProbeBytes, res.ProbeMethod = len(lat), size, method
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	if len(lat) > 0 {
		res.ProbeMean = sum / time.Duration(len(lat))
	}
	res.ProbeP50, res.ProbeP99, _ = loadstat.Percentiles(lat)
	return nil
}

// runStore opens a store in dir and appends to it from cfg.Appenders
// goroutines for cfg.Duration.
func runStore(ctx context.Context, dir string, cfg Config, res *Result) error {
	s, err := pms.Open(pms.Options{Dir: dir}, nil)
	if err != nil {
		return err
	}
	defer s.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		acked atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex // guards lat and first
		lat   []time.Duration
		first error
	)
	for a := range cfg.Appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]*pms.Record, cfg.PerCall)
			for i := range recs {
				recs[i] = record(a*cfg.PerCall + i)
			}
			// Latencies are kept per appender and merged once, so that
			// the measurement adds no lock to the appenders' loop.
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := s.Append(ctx, recs...); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						cancel()
					}
					break
				}
				mine = append(mine, time.Since(t0))
				acked.Add(int64(cfg.PerCall))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}

	timer := time.NewTimer(cfg.Warmup)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	t0, n0, st0 := time.Now(), acked.Load(), s.Stats()
	timer.Reset(cfg.Duration - cfg.Warmup)
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	res.Elapsed, res.Records = time.Since(t0), acked.Load()-n0
	st1 := s.Stats()
	res.Flushes, res.FlushTime = st1.Flushes-st0.Flushes, st1.FlushTime-st0.FlushTime
	cancel()
	wg.Wait()
	res.AckP50, res.AckP99, _ = loadstat.Percentiles(lat)
	if first != nil {
		return fmt.Errorf("append: %w", first)
	}
	return nil
}

// record is a short SM from one local number to another, as the core
// stores one; the store's cost does not depend on the content.
func record(i int) *pms.Record {
	text := []byte("switchboard bench store")
	return &pms.Record{
		Kind:     pms.KindSM,
		Validity: 3600,
		SrcClass: pms.ClassLocal,
		DstClass: pms.ClassLocal,
		Src:      pms.Address{TON: 1, NPI: 1, Digits: "15550100000"},
		Dst:      pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1555%07d", i%10_000_000)},
		UDL:      uint8(len(text)),
		UD:       text,
		State:    pms.State{Disposition: pms.Active},
	}
}
