package cptload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchboard/internal/loadstat"
)

// IdleConfig describes an idle-connections run.
type IdleConfig struct {
	// Addr is the CPT server's address.
	Addr string
	// Conns is how many connections log in and stay idle (default
	// 10000).
	Conns int
	// Hold is how long they stay after the second reading; a third
	// reading is taken at its end.
	Hold time.Duration
	// Metrics is the server's Prometheus URL (for example
	// http://127.0.0.1:39180/metrics); without it nothing is measured on
	// the server side.
	Metrics string
	// GC asks the server for a garbage collection before each reading,
	// through /debug/pprof/heap?gc=1 next to Metrics (it needs
	// `[admin] pprof = true`; without it the readings are taken as they
	// are and IdleResult.GCForced is false).
	GC bool
	// Names is the prefix of the login names (default "lg" and a random
	// tag).
	Names string
	// Dialers is how many connections are set up at once (default 64).
	Dialers int
	// Held, if set, is called after the second reading, while the
	// connections are open.
	Held func(IdleResult)
}

// Sample is one reading of the server's memory figures.
type Sample struct {
	RSS        float64 // process_resident_memory_bytes
	HeapInuse  float64 // go_memstats_heap_inuse_bytes
	HeapAlloc  float64 // go_memstats_heap_alloc_bytes
	StackInuse float64 // go_memstats_stack_inuse_bytes
	Sys        float64 // go_memstats_sys_bytes
	Goroutines float64 // go_goroutines
	Conns      float64 // switchboard_cpt_connections
}

// IdleResult is what an idle run measured: Before the connections, After
// they all logged in, End after holding them.
type IdleResult struct {
	Conns       int
	Setup       time.Duration
	Before      Sample
	After, End  Sample
	HaveMetrics bool
	GCForced    bool
	HeldFor     time.Duration
}

// PerConn is the growth from Before to s divided by the connections.
func (r IdleResult) PerConn(s Sample) Sample {
	n := float64(max(r.Conns, 1))
	b := r.Before
	return Sample{
		RSS: (s.RSS - b.RSS) / n, HeapInuse: (s.HeapInuse - b.HeapInuse) / n,
		HeapAlloc: (s.HeapAlloc - b.HeapAlloc) / n, StackInuse: (s.StackInuse - b.StackInuse) / n,
		Sys: (s.Sys - b.Sys) / n, Goroutines: (s.Goroutines - b.Goroutines) / n, Conns: (s.Conns - b.Conns) / n,
	}
}

func (r IdleResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d connections logged in in %v", r.Conns, r.Setup.Round(time.Millisecond))
	if !r.HaveMetrics {
		b.WriteString("; no server metrics read")
		return b.String()
	}
	kib := func(v float64) string { return strconv.FormatFloat(v/1024, 'f', 2, 64) + " KiB" }
	line := func(label string, s Sample) {
		p := r.PerConn(s)
		fmt.Fprintf(&b, "; %s: RSS %s, heap in use %s (allocated %s), stacks %s, sys %s, %.2f goroutines per connection (server RSS %.1f MiB, %v connections)",
			label, kib(p.RSS), kib(p.HeapInuse), kib(p.HeapAlloc), kib(p.StackInuse), kib(p.Sys), p.Goroutines, s.RSS/(1<<20), s.Conns)
	}
	line("after login", r.After)
	if r.HeldFor > 0 {
		line(fmt.Sprintf("after %v idle", r.HeldFor), r.End)
	}
	fmt.Fprintf(&b, "; before: RSS %.1f MiB, %v connections", r.Before.RSS/(1<<20), r.Before.Conns)
	if !r.GCForced {
		b.WriteString("; no GC forced before the readings")
	}
	return b.String()
}

// RunIdle opens cfg.Conns connections that log in and then send nothing,
// reads the server's memory figures before and after, holds them for
// cfg.Hold, reads again and closes them.
func RunIdle(ctx context.Context, cfg IdleConfig) (IdleResult, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 10000
	}
	if cfg.Dialers <= 0 {
		cfg.Dialers = 64
	}
	if cfg.Names == "" {
		cfg.Names = fmt.Sprintf("lg%06x", time.Now().UnixNano()&0xffffff)
	}
	res := IdleResult{Conns: cfg.Conns, HaveMetrics: cfg.Metrics != ""}
	read := func() (Sample, error) {
		if !res.HaveMetrics {
			return Sample{}, nil
		}
		if cfg.GC {
			res.GCForced = forceGC(cfg.Metrics)
		}
		m, err := loadstat.Scrape(cfg.Metrics)
		if err != nil {
			return Sample{}, err
		}
		return Sample{
			RSS: m["process_resident_memory_bytes"], HeapInuse: m["go_memstats_heap_inuse_bytes"],
			HeapAlloc: m["go_memstats_heap_alloc_bytes"], StackInuse: m["go_memstats_stack_inuse_bytes"],
			Sys: m["go_memstats_sys_bytes"], Goroutines: m["go_goroutines"], Conns: m["switchboard_cpt_connections"],
		}, nil
	}
	var err error
	if res.Before, err = read(); err != nil {
		return res, err
	}

	conns := make([]net.Conn, cfg.Conns)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	t0 := time.Now()
	next := make(chan int)
	errc := make(chan error, cfg.Dialers)
	var wg sync.WaitGroup
	for range cfg.Dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				nc, err := idleLogin(ctx, cfg.Addr, fmt.Sprintf("%si%d", cfg.Names, i))
				if err != nil {
					errc <- err
					for range next {
					}
					return
				}
				conns[i] = nc
			}
		}()
	}
feed:
	for i := range cfg.Conns {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return res, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Setup = time.Since(t0)
	if res.After, err = read(); err != nil {
		return res, err
	}
	if cfg.Held != nil {
		cfg.Held(res)
	}
	if cfg.Hold > 0 {
		t := time.NewTimer(cfg.Hold)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		res.HeldFor = cfg.Hold
		if res.End, err = read(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// idleLogin dials and logs in, reading the ACCEPT byte-wise into a small
// buffer: an idle connection of the generator keeps no reader.
func idleLogin(ctx context.Context, addr, name string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(nc, "CONNECT "+name+"\n"); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l, err := bufio.NewReaderSize(nc, 16).ReadString('\n')
	if err != nil || l != "ACCEPT\n" {
		nc.Close()
		return nil, fmt.Errorf("%s: CONNECT answered %q (%v)", name, strings.TrimSpace(l), err)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, nil
}

// forceGC asks the server for a garbage collection through the heap
// profile endpoint next to the metrics URL, and reports whether it could.
func forceGC(metrics string) bool {
	u, err := url.Parse(metrics)
	if err != nil {
		return false
	}
	u.Path, u.RawQuery = "/debug/pprof/heap", "gc=1"
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(u.String())
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}
