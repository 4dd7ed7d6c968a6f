// Package cpttest runs scripted CPT servers for testing clients: a test
// writes the server's side of a conversation as straight-line code, line by
// line, instead of standing up the real server.
package cpttest

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/internal/cpt"
)

// Conn is the server side of one scripted connection.
type Conn struct {
	T    testing.TB
	Conn net.Conn
	r    *cpt.Reader
}

// Line reads the next client line; ok is false once the connection has
// ended (or the line was too long).
func (c *Conn) Line() (line string, ok bool) {
	l, err := c.r.ReadLine()
	if err != nil {
		return "", false
	}
	return string(l), true
}

// Expect reads the next line and reports a test error unless it is want.
// It returns whether the line matched, so a script can stop early.
func (c *Conn) Expect(want string) bool {
	c.T.Helper()
	got, ok := c.Line()
	if !ok || got != want {
		c.T.Errorf("server read %q (ok %v), want %q", got, ok, want)
		return false
	}
	return true
}

// Quiet reads for d and returns a line if the client sent one: a script
// uses it to check that the client waits for an answer before it sends
// more. The connection stays usable afterwards.
func (c *Conn) Quiet(d time.Duration) (line string, sent bool) {
	c.Conn.SetReadDeadline(time.Now().Add(d))
	line, sent = c.Line()
	c.Conn.SetReadDeadline(time.Time{})
	if !sent {
		// The deadline error is sticky in a Reader; nothing was
		// buffered, so a fresh one loses nothing.
		c.r = cpt.NewReader(c.Conn, cpt.DefaultMaxLine)
	}
	return line, sent
}

// Write sends lines, each with "\n" added, in one write.
func (c *Conn) Write(lines ...string) {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	c.Conn.Write([]byte(b.String()))
}

// Serve listens on 127.0.0.1 (over TLS when tlsConfig is not nil), runs
// script on each connection in a goroutine of its own, and returns the
// address. At the end of the test it closes the listener and every
// connection and waits for the scripts to return.
func Serve(t testing.TB, tlsConfig *tls.Config, script func(c *Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				script(&Conn{T: t, Conn: nc, r: cpt.NewReader(nc, cpt.DefaultMaxLine)})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
