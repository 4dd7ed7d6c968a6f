package core

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"switchboard/internal/config"
	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/runtimecfg"
)

// benchRuntime sets the benchmark process up as serve sets itself up with
// the default configuration ([runtime]: the GC target and huge pages for
// the heap's growth), once; newHarness calls it for benchmarks. GOGC=100
// or SWITCHBOARD_BENCH_HUGEPAGES=0 in the environment measure without
// either.
var benchRuntime = sync.OnceFunc(func() {
	cfg, err := config.Load("")
	if err != nil {
		panic(err)
	}
	if os.Getenv("SWITCHBOARD_BENCH_HUGEPAGES") == "0" {
		cfg.Runtime.HeapHugePagesMB = 0
	}
	runtimecfg.Apply(cfg.Runtime, slog.New(slog.DiscardHandler))
})

// BenchmarkSubmitSocket measures durable SMSC_REQ_SUBMIT through the core
// socket: clients connections, each keeping depth requests in flight, to a
// core over a real store (group commit) and numbering database. Target
// (issue 3): 100,000 SM/s with 32 concurrent clients.
func BenchmarkSubmitSocket(b *testing.B) {
	for _, c := range []struct{ clients, depth int }{{32, 1}, {32, 4}, {32, 8}, {32, 16}, {4, 8}, {1, 32}} {
		b.Run(fmt.Sprintf("clients=%d/depth=%d", c.clients, c.depth), func(b *testing.B) {
			benchSubmit(b, c.clients, c.depth)
		})
	}
}

func benchSubmit(b *testing.B, clients, depth int) {
	h := newHarness(b, Config{})
	sock := filepath.Join(b.TempDir(), "core.sock")
	ln, err := coresock.Listen(sock, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	// The core's side counts its packets, to report messages per packet.
	reg := prometheus.NewRegistry()
	srv := &coresock.Server{Config: coresock.Config{Metrics: coresock.NewMetrics(reg), MaxBatch: benchMaxBatch}}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background(), ln, h.core.SocketHandler(nil)) }()
	defer func() { srv.Shutdown(context.Background()); <-done }()

	peers := make([]*coresock.Peer, clients)
	for i := range peers {
		if peers[i], err = coresock.Dial(context.Background(), sock, &coresock.Config{MaxBatch: benchMaxBatch}); err != nil {
			b.Fatal(err)
		}
		defer peers[i].Close()
	}
	// Every SM differs (MR and text), so none is taken for a duplicate.
	var seq atomic.Uint64
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	b.ResetTimer()
	syncs0 := h.syncs()
	cpu0 := cpuTime()
	in0, out0 := packetCounts(b, reg)
	t0 := time.Now()
	// Each client keeps depth SUBMITs in flight as chains of Go calls:
	// each answer's callback (on the client's reader) sends the chain's
	// next request, so the answers of one packet become the requests of
	// the next without a goroutine woken per call.
	var wg sync.WaitGroup
	var next func(p *coresock.Peer, req *coresock.Submit)
	next = func(p *coresock.Peer, req *coresock.Submit) {
		if remaining.Add(-1) < 0 {
			wg.Done()
			return
		}
		n := seq.Add(1)
		r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, fmt.Sprintf("benchmark message %d", n))
		r.MR = uint8(n)
		if err := req.Record.Encode(r); err != nil {
			b.Error(err)
			wg.Done()
			return
		}
		// req is marshalled before Go returns, so the chain may reuse it.
		err := p.Go(context.Background(), req, func(_ coresock.Body, st coresock.Status, err error) {
			if err != nil || st != coresock.StatusOK {
				b.Errorf("submit: %v %v", st, err)
				wg.Done()
				return
			}
			next(p, req)
		})
		if err != nil {
			b.Errorf("submit: %v", err)
			wg.Done()
		}
	}
	for _, p := range peers {
		for range depth {
			wg.Add(1)
			next(p, new(coresock.Submit))
		}
	}
	wg.Wait()
	reportSubmits(b, h, t0, syncs0, cpu0)
	in1, out1 := packetCounts(b, reg)
	b.ReportMetric(float64(b.N)/max(1, in1-in0), "SM/pkt-in")
	b.ReportMetric(float64(b.N)/max(1, out1-out0), "SM/pkt-out")
}

// benchMaxBatch is the MaxBatch of both ends in BenchmarkSubmitSocket;
// -sock.batch=false sets it to -1 (no BATCH), for comparing in one binary.
var benchMaxBatch = 0

func init() {
	flag.Func("sock.batch", "BenchmarkSubmitSocket: use BATCH packets (default true)", func(s string) error {
		on, err := strconv.ParseBool(s)
		if !on {
			benchMaxBatch = -1
		}
		return err
	})
}

// packetCounts returns the packets the core's side of the socket has
// received and sent.
func packetCounts(b *testing.B, reg *prometheus.Registry) (in, out float64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "switchboard_coresock_packets_in_total":
			in = mf.GetMetric()[0].GetCounter().GetValue()
		case "switchboard_coresock_packets_out_total":
			out = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return in, out
}

// reportSubmits reports a submit benchmark's rate, records per fdatasync
// and CPU per SM. CPU per SM (both ends share the process) says more than
// SM/s on a machine that other work shares.
func reportSubmits(b *testing.B, h *harness, t0 time.Time, syncs0 float64, cpu0 time.Duration) {
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "SM/s")
	b.ReportMetric(float64(b.N)/max(1, h.syncs()-syncs0), "SM/sync")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/SM")
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRestart1M measures startup with 1 M active SMs queued for the
// uplink: store recovery plus rebuilding the core's queues. Target: under
// 2 s to serving.
func BenchmarkRestart1M(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 1 M records")
	}
	dir := b.TempDir()
	dirNum := testDirectory(b)
	{
		c, err := New(Config{}, dirNum, Options{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := pms.Open(pms.Options{Dir: dir}, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Start(s)
		batch := make([]*pms.Record, 0, 4096)
		for i := range 1_000_000 {
			r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, fmt.Sprint("m", i))
			r.DstClass, r.Validity = pms.ClassUpstream, 86400
			batch = append(batch, r)
			if len(batch) == cap(batch) || i == 999_999 {
				if err := s.Append(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		c.Close()
		s.Close()
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := New(Config{}, dirNum, Options{})
		if err != nil {
			b.Fatal(err)
		}
		c.Reserve(pms.ActiveEstimate(dir))
		s, err := pms.Open(pms.Options{Dir: dir}, c.Restore)
		if err != nil {
			b.Fatal(err)
		}
		c.Start(s)
		if n := s.Stats().Active; n != 1_000_000 {
			b.Fatalf("%d active", n)
		}
		b.StopTimer()
		c.Close()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/restart")
}

// BenchmarkSubmitDirect measures durable Core.Submit called from Go, as the
// SMPP server in the same process calls it: goroutines concurrent callers,
// each waiting for its SM to be on disk before it submits the next.
func BenchmarkSubmitDirect(b *testing.B) {
	for _, g := range []int{32, 400} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) { benchSubmitDirect(b, g) })
	}
}

// benchRecords makes n distinct SMs (MR and text differ, so none is taken
// for a duplicate) before the clock starts: the benchmarks that use them
// measure the core, not the making of records.
func benchRecords(n int) []*pms.Record {
	recs := make([]*pms.Record, n)
	for i := range recs {
		recs[i] = sms(intl(numProv), intl(numOutside), pms.ClassGSM, fmt.Sprintf("benchmark message %d", i))
		recs[i].MR = uint8(i)
	}
	return recs
}

func benchSubmitDirect(b *testing.B, goroutines int) {
	h := newHarness(b, Config{})
	recs := benchRecords(b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	syncs0 := h.syncs()
	cpu0 := cpuTime()
	t0 := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(recs)) {
					return
				}
				if _, dup, err := h.core.Submit(context.Background(), recs[i], false); err != nil || dup {
					b.Errorf("submit: %v (duplicate %v)", err, dup)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportSubmits(b, h, t0, syncs0, cpu0)
}

// BenchmarkSubmitAsync measures Core.SubmitAsync as the SMPP server's
// sessions call it: 32 callers, each keeping 16 SMs in flight (a session's
// window), the next submitted from the outcome's callback.
func BenchmarkSubmitAsync(b *testing.B) {
	const callers, window = 32, 16
	h := newHarness(b, Config{})
	recs := benchRecords(b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var submit func()
	submit = func() {
		i := next.Add(1) - 1
		if i >= int64(len(recs)) {
			wg.Done()
			return
		}
		h.core.SubmitAsync(recs[i], false, func(_ uint64, dup bool, err error) {
			if err != nil || dup {
				b.Errorf("submit: %v (duplicate %v)", err, dup)
			}
			submit()
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	syncs0 := h.syncs()
	cpu0 := cpuTime()
	t0 := time.Now()
	wg.Add(callers * window)
	for range callers * window {
		submit()
	}
	wg.Wait()
	reportSubmits(b, h, t0, syncs0, cpu0)
}
