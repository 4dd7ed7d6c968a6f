package coresock

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pingHandler answers PING and SUBMIT at once, so the benchmarks measure the
// transport alone.
type pingHandler struct{}

func (pingHandler) HandleRequest(p *Peer, h Header, body Body) {
	switch body.(type) {
	case *Submit:
		p.Reply(h, StatusOK, 0, &SubmitResp{Index: 1})
	default:
		p.Reply(h, StatusOK, 0, nil)
	}
}

// benchCalls runs b.N calls from 32 goroutines spread over conns
// connections and reports calls per second.
func benchCalls(b *testing.B, conns int, req func() Body) {
	_, path := testServer(b, Config{}, func(*Peer) Handler { return pingHandler{} })
	peers := make([]*Peer, conns)
	for i := range peers {
		peers[i] = dial(b, path, nil)
	}
	const callers = 32
	var next atomic.Int64
	b.SetParallelism((callers + 1) / 2) // GOMAXPROCS × this ≥ 32 goroutines
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := peers[int(next.Add(1))%conns]
		m := req()
		for pb.Next() {
			if _, st, err := p.Call(context.Background(), m); err != nil || st != StatusOK {
				b.Error(st, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	// CPU time per call (both ends, as they share the process) is steadier
	// than throughput on a machine that other work shares.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/call")
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkPing(b *testing.B) {
	ping := func() Body { return &Ping{} }
	b.Run("1conn-32callers", func(b *testing.B) { benchCalls(b, 1, ping) })
	b.Run("32conns-32callers", func(b *testing.B) { benchCalls(b, 32, ping) })
}

func BenchmarkSubmit(b *testing.B) {
	sub := func() Body { return submitFor(b, 1, 2) }
	b.Run("1conn-32callers", func(b *testing.B) { benchCalls(b, 1, sub) })
	b.Run("32conns-32callers", func(b *testing.B) { benchCalls(b, 32, sub) })
}

func BenchmarkMarshalSubmit(b *testing.B) {
	s := submitFor(b, 1, 2)
	buf := make([]byte, 0, MaxMessage)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Marshal(buf[:0], Header{ID: 1}, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalSubmit(b *testing.B) {
	pkt, err := Marshal(nil, Header{ID: 1}, submitFor(b, 1, 2))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
