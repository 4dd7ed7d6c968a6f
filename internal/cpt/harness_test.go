package cpt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/server"
)

// world is a running switchboard whose CPT listener tests talk to.
type world struct {
	t    *testing.T
	dir  string
	cfg  *config.Config
	srv  *server.Server
	addr string
	stop func()
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.Admin.Listen = "127.0.0.1:0"
	c.SMPP.Listen = ""
	c.CPT.Listen = "127.0.0.1:0"
	c.Pager.Listen = "127.0.0.1:0"
	c.Shutdown.DrainTimeout.Duration = 3 * time.Second
	return c
}

// startWorld runs a server on c until the test ends.
func startWorld(t *testing.T, c *config.Config) *world {
	t.Helper()
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
	w := &world{t: t, dir: c.DataDir, cfg: c, srv: s, addr: s.CPTAddrs()[0].String()}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(w.stop)
	return w
}

// client is a raw CPT connection with send/expect helpers, so that tests
// see the exact bytes the server writes.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (w *world) dial(t *testing.T) *client {
	t.Helper()
	nc, err := net.Dial("tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, c: nc, r: bufio.NewReader(nc)}
}

// login connects and logs in as name.
func (w *world) login(t *testing.T, name string) *client {
	t.Helper()
	c := w.dial(t)
	c.send("CONNECT " + name)
	c.expect("ACCEPT")
	return c
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// line reads the next line, failing the test after 5 s.
func (c *client) line() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (partial %q)", err, l)
	}
	if !strings.HasSuffix(l, "\n") || strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line %q does not end in a bare LF", l)
	}
	return strings.TrimSuffix(l, "\n")
}

func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectMsg reads a MSG line and checks its fields; the timestamp must be
// within a minute of now.
func (c *client) expectMsg(group, sender, text string) int64 {
	c.t.Helper()
	l := c.line()
	var ts int64
	m := msgLine.FindStringSubmatch(l)
	if m == nil {
		c.t.Fatalf("got %q, want MSG %s %s <ts> %s", l, group, sender, text)
	}
	fmt.Sscan(m[3], &ts)
	if m[1] != group || m[2] != sender || m[4] != text {
		c.t.Fatalf("got %q, want MSG %s %s <ts> %s", l, group, sender, text)
	}
	if d := time.Since(time.Unix(ts, 0)); d < -time.Minute || d > time.Minute {
		c.t.Fatalf("MSG timestamp %d is not now", ts)
	}
	return ts
}

var msgLine = regexp.MustCompile(`^MSG (\S+) (\S+) (\d+) (.*)$`)

// expectClosed checks that the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	n := 0
	for {
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, err := c.r.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("connection still open after %d lines", n)
			}
			return
		}
		n++
		_ = l
	}
}

// sync runs a SYNC and returns the MSG lines before ENDSYNC.
func (c *client) sync(args string) []string {
	c.t.Helper()
	if args == "" {
		c.send("SYNC")
	} else {
		c.send("SYNC " + args)
	}
	var out []string
	for {
		l := c.line()
		if l == "ENDSYNC" {
			return out
		}
		out = append(out, l)
	}
}

// metric reads one unlabelled counter or gauge from /metrics.
func (w *world) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + w.srv.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// hangUp closes the client's side and waits for the server to close its
// own, which it does after logging the user out: the name is free again
// when hangUp returns.
func (c *client) hangUp() {
	c.t.Helper()
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		c.t.Fatal(err)
	}
	c.expectClosed()
	c.c.Close()
}
