package cptload_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/config"
	"switchboard/internal/cpt/cptload"
	"switchboard/internal/pms"
	"switchboard/internal/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs a switchboard on dir (a fresh one when empty) with
// CPT limits raised for load, until the test ends; it returns the CPT
// address and the metrics URL.
func startServer(t *testing.T, dir string) (addr, metrics string) {
	t.Helper()
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	c.DataDir = dir
	c.Admin.Listen = "127.0.0.1:0"
	c.Admin.PProf = true
	c.SMPP.Listen = ""
	c.CPT.Listen = "127.0.0.1:0"
	c.Pager.Listen = "127.0.0.1:0"
	c.CPT.Rate = 1e7
	c.CPT.Burst = 1e6
	c.Shutdown.DrainTimeout.Duration = 3 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *server.Server, 1)
	errc := make(chan error, 1)
	s := server.New(c, server.NewLogger(io.Discard, "text", "info"))
	go func() { errc <- s.Run(ctx, func(s *server.Server) { ready <- s }) }()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return s.CPTAddrs()[0].String(), "http://" + s.AdminAddr().String() + "/metrics"
}

// TestRunCountsAddUp: with a fixed number of SENDs, every one is ACKed,
// every receiver gets every message, and in one shared group every sender
// gets the other senders' messages.
func TestRunCountsAddUp(t *testing.T) {
	addr, metrics := startServer(t, "")
	for _, c := range []struct {
		name string
		cfg  cptload.Config
	}{
		{"window", cptload.Config{Receivers: 20, Senders: 2, Window: 50, Count: 400}},
		{"strict", cptload.Config{Receivers: 5, Senders: 1, Strict: true, Count: 50}},
		{"split", cptload.Config{Receivers: 10, Senders: 3, Window: 20, Count: 100, SplitGroups: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Addr, cfg.Metrics, cfg.Group = addr, metrics, "g"+c.name
			cfg.Duration, cfg.Warmup = 30*time.Second, -1
			res, err := cptload.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			msgs := int64(cfg.Senders * cfg.Count)
			if res.Sent != msgs || res.Acked != msgs || res.Declined != 0 {
				t.Fatalf("sent %d, acked %d, declined %d; want %d, %d, 0", res.Sent, res.Acked, res.Declined, msgs, msgs)
			}
			want := msgs * int64(cfg.Receivers)
			wantSenders := msgs * int64(cfg.Senders-1)
			if cfg.SplitGroups {
				// Each group has its own sender and a share of the
				// receivers, so each receiver hears one sender only.
				want, wantSenders = int64(cfg.Count*cfg.Receivers), 0
			}
			if res.Expected != want || res.ExpectedSender != wantSenders {
				t.Fatalf("expected %d + %d deliveries, want %d + %d", res.Expected, res.ExpectedSender, want, wantSenders)
			}
			if !res.Complete() || res.TotalDeliveries == 0 {
				t.Fatalf("not complete: %s", res)
			}
			// The window ends when the last SEND is written; the drain
			// after it is in the totals only.
			if res.Deliveries <= 0 || res.Deliveries > res.TotalDeliveries || res.Acks <= 0 || res.Acks > msgs {
				t.Fatalf("window counted %d deliveries and %d ACKs of %d and %d", res.Deliveries, res.Acks, res.TotalDeliveries, msgs)
			}
			if res.AckP50 <= 0 || res.AckMax < res.AckP99 || res.MsgP50 <= 0 {
				t.Fatalf("latencies not measured: %s", res)
			}
		})
	}
}

// TestRunDuration: a run bounded by time measures a window after its
// warm-up and still drains to complete counts.
func TestRunDuration(t *testing.T) {
	addr, _ := startServer(t, "")
	res, err := cptload.Run(context.Background(), cptload.Config{Addr: addr, Receivers: 10, Senders: 1,
		Window: 100, Duration: 600 * time.Millisecond, Warmup: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Acks <= 0 || res.Deliveries <= 0 || res.Acks > res.Acked || res.Deliveries > res.TotalDeliveries {
		t.Fatalf("window counts %d ACKs, %d deliveries of %d, %d", res.Acks, res.Deliveries, res.Acked, res.TotalDeliveries)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > 500*time.Millisecond {
		t.Fatalf("measured %v, want about 400ms", res.Elapsed)
	}
	if !res.Complete() {
		t.Fatalf("not complete: %s", res)
	}
}

// TestRunRefused: a name the server refuses (too long) is an error, not a hang.
func TestRunRefused(t *testing.T) {
	addr, _ := startServer(t, "")
	_, err := cptload.Run(context.Background(), cptload.Config{Addr: addr, Receivers: 1, Names: strings.Repeat("n", 40), Count: 1})
	if err == nil || !strings.Contains(err.Error(), "CONNECT answered") {
		t.Fatalf("err = %v, want a refused CONNECT", err)
	}
}

// TestRunIdle: the idle run logs its connections in and reads the
// server's connection gauge and memory before and after.
func TestRunIdle(t *testing.T) {
	addr, metrics := startServer(t, "")
	held := false
	res, err := cptload.RunIdle(context.Background(), cptload.IdleConfig{Addr: addr, Conns: 50, Metrics: metrics, GC: true,
		Hold: time.Millisecond, Held: func(r cptload.IdleResult) { held = true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if !held || !res.GCForced {
		t.Fatalf("held %v, GC forced %v", held, res.GCForced)
	}
	if got := res.After.Conns - res.Before.Conns; got != 50 {
		t.Fatalf("server counts %v more connections, want 50", got)
	}
	// Idle connections park without a goroutine on Linux, and keep one
	// elsewhere: never more than one each.
	if res.After.RSS <= 0 || res.After.HeapInuse <= 0 || res.After.Goroutines > res.Before.Goroutines+50 {
		t.Fatalf("readings: before %+v after %+v", res.Before, res.After)
	}
}

// TestWriteStore: a small synthetic store decodes record by record, in
// index and time order, and a server started on it answers a SYNC of the
// target group's last messages with exactly those.
func TestWriteStore(t *testing.T) {
	dir := t.TempDir()
	info, err := cptload.WriteStore(dir, cptload.StoreConfig{Records: 40_000, TargetMessages: 40, Groups: 50, Users: 10})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pms.OpenReader(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	var rec pms.Record
	kinds := map[pms.Kind]int{}
	local, target := 0, 0
	var last time.Time
	for i := range r.Len() {
		if err := r.Record(i, &rec); err != nil {
			r.Close()
			t.Fatal(err)
		}
		if rec.Index != uint64(i) || rec.Entry.Before(last) || !rec.State.Disposition.Historical() {
			r.Close()
			t.Fatalf("record %d: index %d, entry %v after %v, disposition %v", i, rec.Index, rec.Entry, last, rec.State.Disposition)
		}
		last = rec.Entry
		kinds[rec.Kind]++
		if rec.Kind == pms.KindSM && rec.DstClass == pms.ClassLocal {
			local++
		}
		if rec.Kind == pms.KindChat && rec.To == info.Target {
			target++
		}
	}
	n := r.Len()
	r.Close()
	if n != 40_000 || kinds[pms.KindSM] != info.SM || kinds[pms.KindChat] != info.Chat || local != info.LocalSM || target != 40 {
		t.Fatalf("%d records, kinds %v, %d local, %d target; info %+v", n, kinds, local, target, info)
	}
	if info.SM < 2*info.Chat || info.LocalSM == 0 {
		t.Fatalf("mix: %d SM (%d local), %d chat", info.SM, info.LocalSM, info.Chat)
	}
	after, count := info.AfterForLast(10)
	if count != 10 {
		t.Fatalf("AfterForLast(10) = %d, %d", after, count)
	}

	addr, _ := startServer(t, dir)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "CONNECT reader\nSYNC %s %d\n", info.Target, after)
	br := bufio.NewReader(nc)
	if l, _ := br.ReadString('\n'); l != "ACCEPT\n" {
		t.Fatalf("CONNECT: %q", l)
	}
	var msgs []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "ENDSYNC\n" {
			break
		}
		msgs = append(msgs, l)
	}
	if len(msgs) != 10 {
		t.Fatalf("SYNC returned %d messages, want 10: %q", len(msgs), msgs)
	}
	want := fmt.Sprintf("MSG %s u1 %d message to the target group", info.Target, info.TargetTimes[len(info.TargetTimes)-10]/1e9)
	if !strings.HasPrefix(msgs[0], want) {
		t.Fatalf("first message %q, want %q...", msgs[0], want)
	}
}
