package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/config"
	"switchboard/internal/datadir"
	"switchboard/internal/pms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.Admin.Listen = "127.0.0.1:0"
	c.Voice.Listen = "127.0.0.1:0"
	c.SMPP.Listen = "127.0.0.1:0"
	c.CPT.Listen = "127.0.0.1:0"
	c.UDPChat.Listen = "127.0.0.1:0"
	c.Pager.Listen = "127.0.0.1:0"
	c.Shutdown.DrainTimeout.Duration = 2 * time.Second
	return c
}

// start runs a server until the test ends and returns it once ready.
func start(t *testing.T, c *config.Config) (*Server, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Server, 1)
	errc := make(chan error, 1)
	s := New(c, NewLogger(io.Discard, "text", "info"))
	go func() { errc <- s.Run(ctx, func(s *Server) { ready <- s }) }()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	return s, cancel, errc
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeHealthMetricsAndShutdown(t *testing.T) {
	c := testConfig(t)
	s, cancel, errc := start(t, c)
	base := "http://" + s.AdminAddr().String()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{"switchboard_pms_appended_records_total", "switchboard_pms_active_records", "switchboard_pms_file_bytes", "go_goroutines"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s (status %d)", want, code)
		}
	}
	if code, _ := get(t, base+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof served while disabled: %d", code)
	}

	// A second server on the same data directory is refused.
	c2 := *c
	err := New(&c2, NewLogger(io.Discard, "text", "info")).Run(context.Background(), nil)
	if !errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("second serve: %v", err)
	}

	// The store goes bad: health says so.
	s.Store().Close()
	if code, body := get(t, base+"/healthz"); code != 503 || !strings.Contains(body, "message store") {
		t.Fatalf("healthz with a closed store: %d %q", code, body)
	}

	cancel()
	// Run closes the store itself, and reports that it had been closed.
	if err := <-errc; !errors.Is(err, pms.ErrClosed) {
		t.Fatalf("run returned %v", err)
	}
	if _, err := net.Dial("tcp", s.AdminAddr().String()); err == nil {
		t.Fatal("admin listener still open after shutdown")
	}
}

func TestCleanShutdownReleasesEverything(t *testing.T) {
	c := testConfig(t)
	c.Admin.PProf = true
	s, cancel, errc := start(t, c)
	if code, _ := get(t, "http://"+s.AdminAddr().String()+"/debug/pprof/"); code != 200 {
		t.Fatalf("pprof enabled but status %d", code)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run: %v", err)
	}
	// The lock is free again.
	l, err := datadir.Acquire(c.DataDir)
	if err != nil {
		t.Fatalf("lock after shutdown: %v", err)
	}
	l.Release()
}

func TestOccupiedPortNamesTheAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := testConfig(t)
	c.Admin.Listen = ln.Addr().String()
	err = New(c, NewLogger(io.Discard, "text", "info")).Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "admin.listen") {
		t.Fatalf("run on an occupied port: %v", err)
	}
}
