// Package servertest runs whole switchboard servers in-process for the
// tests of other packages: one place that knows every listener, so that a
// service added later is moved to a free port in every test at once.
//
// Only tests may import it (internal/interop's TestOnlyTestsImportInterop
// checks that too).
package servertest

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/numbering"
	"switchboard/internal/server"
)

// Config is the built-in default configuration with a fresh data
// directory, every listener on a free loopback port and a short drain.
func Config(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.Admin.Listen = "127.0.0.1:0"
	c.SMPP.Listen = "127.0.0.1:0"
	c.CPT.Listen = "127.0.0.1:0"
	c.UDPChat.Listen = "127.0.0.1:0"
	c.Voice.Listen = "127.0.0.1:0"
	c.Pager.Listen = "127.0.0.1:0"
	c.Shutdown.DrainTimeout.Duration = 3 * time.Second
	return c
}

// AddLocalNumber provisions a locally owned number (E.164 digits), with the
// SMS-provisioned flag as given, in c's data directory before the server
// starts.
func AddLocalNumber(t testing.TB, c *config.Config, e164 string, smsProvisioned bool) {
	t.Helper()
	db, err := numbering.Open(filepath.Join(c.DataDir, numbering.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := numbering.ParseNumberArg("+" + e164)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddNumber(n, numbering.Local, smsProvisioned); err != nil {
		t.Fatal(err)
	}
}

// Start runs a server on c until the test ends or stop is called (stop
// waits for it and may be called more than once). A server that fails to
// start, or returns an error, fails the test.
func Start(t testing.TB, c *config.Config) (s *server.Server, stop func()) {
	t.Helper()
	return StartLogged(t, c, io.Discard, "info")
}

// StartLogged is Start with the server's log written to w at level.
func StartLogged(t testing.TB, c *config.Config, w io.Writer, level string) (s *server.Server, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *server.Server, 1)
	errc := make(chan error, 1)
	s = server.New(c, server.NewLogger(w, "text", level))
	go func() { errc <- s.Run(ctx, func(s *server.Server) { ready <- s }) }()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}
