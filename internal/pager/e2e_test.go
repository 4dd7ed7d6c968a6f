package pager_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/datadir"
	"switchboard/internal/interop"
	"switchboard/internal/pager"
	"switchboard/internal/pms"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
)

// syncBuffer is a log sink the server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

const (
	senderNumber = "16195550100" // locally owned, SMS-provisioned
	guestNumber  = 447700900123  // the guest's phone, abroad: upstream
	guestDigits  = "447700900123"
	guestNat     = "7700900123"
)

// pagerWorld is a whole switchboard with its uplink bound to a node smpp
// SMSC stand-in, and its logs captured.
type pagerWorld struct {
	cfg  *config.Config
	srv  *server.Server
	smsc *interop.NodeSMSC
	logs *syncBuffer
	stop func()
}

func startPagerWorld(t testing.TB) *pagerWorld { return startPagerWorldWith(t, false) }

// startPagerWorldWith: sink makes the SMSC stand-in answer without
// keeping or printing anything (benchmarks), and logs at info.
func startPagerWorldWith(t testing.TB, sink bool) *pagerWorld {
	t.Helper()
	smsc := interop.StartNodeSMSC(t, interop.NodeSMSCConfig{SystemID: "sbup", Password: "uppw", FirstMessageID: 9000, Sink: sink})
	c := servertest.Config(t)
	c.SMPP.Listen, c.CPT.Listen, c.UDPChat.Listen, c.Voice.Listen = "", "", "", ""
	c.Pager.Sender = senderNumber
	c.Uplink.Host, c.Uplink.Port = "127.0.0.1", smsc.Port
	c.Uplink.SystemID, c.Uplink.Password = "sbup", "uppw"
	level := "debug"
	if sink {
		level = "info"
		c.Pager.MaxInFlight = 256
	}
	servertest.AddLocalNumber(t, c, senderNumber, true)
	w := &pagerWorld{cfg: c, smsc: smsc, logs: &syncBuffer{}}
	w.srv, w.stop = servertest.StartLogged(t, c, w.logs, level)
	bctx, bcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer bcancel()
	if err := w.srv.Uplink().WaitBound(bctx); err != nil {
		t.Fatalf("uplink did not bind to node smpp: %v", err)
	}
	return w
}

func (w *pagerWorld) client(t testing.TB) *pager.Client {
	t.Helper()
	path := filepath.Join(w.cfg.DataDir, server.PagerSecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("generated secret: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if !bytes.Contains(w.logs.Bytes(), []byte(path)) {
		t.Errorf("the generated secret's path is not in the log")
	}
	secret, err := server.ReadPagerSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pager.Dial(pager.ClientConfig{Server: w.srv.PagerAddr().String(), Secret: secret, Retransmit: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNotifyThroughUplinkLeavesNoTrace: pager notify -> core -> SMPP
// uplink -> node smpp receives the SMS with the greeting; afterwards the
// guest's number is in no file of the data directory and in no log line.
func TestNotifyThroughUplinkLeavesNoTrace(t *testing.T) {
	interop.Require(t, "node")
	w := startPagerWorld(t)
	c := w.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Add(ctx, guestNumber); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx, guestNumber, 12, "Table {n} is ready!"); err != nil {
		t.Fatal(err)
	}
	ev, err := w.smsc.WaitEvent(ctx, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" })
	if err != nil {
		t.Fatal(err)
	}
	if ev.DestinationAddr != guestDigits || ev.SourceAddr != senderNumber || ev.Text != "Table 12 is ready!" {
		t.Fatalf("submit_sm at the upstream: %s", ev.Line)
	}
	if err := c.Remove(ctx, guestNumber); err != nil {
		t.Fatal(err)
	}
	// A refused notification (an unroutable number) is NACKed with a
	// reason that does not carry the number.
	var ne *pager.NackError
	err = c.Notify(ctx, 11005550100, 1, "")
	if !errors.As(err, &ne) || ne.Status != pager.StatusSMSRefused || strings.Contains(ne.Reason, "1005550100") {
		t.Fatalf("unroutable notify: %v", err)
	}
	w.stop()

	// The store holds addresses in BCD and texts packed, which a grep for
	// ASCII would miss: the store must hold no record at all (nothing
	// else in this run stores one).
	r, err := pms.OpenReader(filepath.Join(w.cfg.DataDir, datadir.PMSFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Len(); n != 0 {
		t.Errorf("the message store holds %d records after pager notifies", n)
	}
	r.Close()

	files := 0
	filepath.Walk(w.cfg.DataDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		for _, needle := range []string{guestDigits, guestNat, "Table 12"} {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds %q", p, needle)
			}
		}
		return nil
	})
	if files < 3 {
		t.Fatalf("only %d files in the data dir: the walk checked nothing", files)
	}
	logs := w.logs.Bytes()
	if !bytes.Contains(logs, []byte("switchboard serving")) {
		t.Fatal("no log captured: the check below would prove nothing")
	}
	for _, needle := range []string{guestDigits, guestNat, "1005550100"} {
		if bytes.Contains(logs, []byte(needle)) {
			t.Errorf("the log holds %q", needle)
		}
	}
}

// BenchmarkNotifyEndToEnd: "table ready" notifications from 16 pager
// clients at once, each acknowledged by the server once the core took
// the ephemeral SM, then delivered through the SMPP uplink to node smpp
// (sink mode). Reported: acknowledged/s, and delivered/s (until the
// upstream has counted every submit_sm).
func BenchmarkNotifyEndToEnd(b *testing.B) {
	interop.Require(b, "node")
	w := startPagerWorldWith(b, true)
	const clients = 16
	cs := make([]*pager.Client, clients)
	for i := range cs {
		cs[i] = w.client(b)
	}
	base, err := w.smsc.Stats()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < b.N; j += clients {
				if err := c.Notify(ctx, 447700900000+uint64(j%100000), uint16(j), "Table {n} is ready"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	acked := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for {
		st, err := w.smsc.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if st.Submits-base.Submits >= b.N {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("upstream got %d of %d", st.Submits-base.Submits, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	delivered := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/acked.Seconds(), "acked/s")
	b.ReportMetric(float64(b.N)/delivered.Seconds(), "delivered/s")
}
