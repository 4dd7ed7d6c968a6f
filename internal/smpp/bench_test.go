package smpp_test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/smpp/loadgen"
)

// runLoad runs the load generator against a world for d and reports.
func runLoad(tb testing.TB, addr, dst string, d time.Duration) loadgen.Result {
	cpu0 := cpuTime()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: addr, SystemID: "pa", Password: "secret", Binds: 4, Window: 100,
		Duration: d, Src: numPA, Dst: dst, Size: 40,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if res.OK > 0 {
		// The process holds the server and the load generator: this is
		// the CPU of both ends per accepted message.
		tb.Logf("CPU %.1f µs per accepted message (server and load generator)", float64((cpuTime()-cpu0).Microseconds())/float64(res.OK))
	}
	return res
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLoadSubmitSM and TestLoadRelay are the issue 7 throughput runs. They
// are opt-in (-run Load -load) because they take tens of seconds at full
// CPU; docs/benchmarks.md has the figures and the commands.
func TestLoadSubmitSM(t *testing.T) {
	if !*load {
		t.Skip("opt-in: -load")
	}
	w := startWorld(t, nil)
	res := runLoad(t, w.addr, numLocal, *loadDur)
	t.Log(res.String())
	if res.OK == 0 {
		t.Fatal("nothing accepted")
	}
}

func TestLoadRelay(t *testing.T) {
	if !*load {
		t.Skip("opt-in: -load")
	}
	sink := &loadgen.Sink{SystemID: "up", Password: "pw"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sink.Serve(ln)
	defer sink.Close()
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
		c.Uplink.SystemID, c.Uplink.Password = "up", "pw"
		c.Core.PeerWindow = *relayWindow
		c.Uplink.Window = *relayWindow
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Uplink().WaitBound(ctx); err != nil {
		t.Fatal(err)
	}
	res := runLoad(t, w.addr, "4420794600xx", *loadDur)
	// Let the queue drain into the sink.
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	err = sink.WaitReceived(dctx, res.OK)
	t.Log("peer side: " + res.String())
	t.Log("uplink side: " + sink.Result().String())
	if err != nil {
		t.Fatalf("relayed %d of %d", sink.Received(), res.OK)
	}
	// Every relayed SM is discharged on disk too. The core offers no
	// signal for "queue empty", so this polls the store's count.
	for deadline := time.Now().Add(10 * time.Second); w.srv.Store().Stats().Active > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d SMs still active after the sink got them all", w.srv.Store().Stats().Active)
		}
	}
}
