package cpt_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/cpt"
	"switchboard/internal/cpt/cpttest"
	"switchboard/internal/testcert"
)

// leakCheck fails the test if it leaves goroutines behind. It ignores
// those running before it started, since other tests of the package may
// still be winding down theirs.
func leakCheck(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func dialScript(t *testing.T, script func(s *cpttest.Conn)) *cpt.Client {
	t.Helper()
	c, err := cpt.Dial(context.Background(), cpttest.Serve(t, nil, script), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The spec's example session, seen from Client 2, with a push between
// commands and one during the SYNC.
func TestClientSession(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	c := dialScript(t, func(s *cpttest.Conn) {
		if !s.Expect("CONNECT red s3cret") {
			return
		}
		// A push before ACCEPT: the reader routes it before Connect
		// returns, so it is a push whatever the timing.
		s.Write("MSG group1 alexandre 1700000005 pushed", "ACCEPT")
		if !s.Expect("SYNC group1 1700000000") {
			return
		}
		s.Write("MSG group1 red 1700000001 Before joined", "MSG group1 alexandre 1700000002 Hello  ceci ", "ENDSYNC")
		if !s.Expect("SEND alexandre Hello") {
			return
		}
		s.Write("ACK")
		if !s.Expect("SYNC") {
			return
		}
		s.Write("MSG red alexandre 1700000003 Private message", "ENDSYNC")
		if !s.Expect("SEND nobody hi") {
			return
		}
		s.Write("DECLINE unknown_target")
		s.Line() // until the client closes
	})
	if err := c.Connect(ctx, "red", "s3cret"); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Sync(ctx, "group1", 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	want := []cpt.Message{
		{"group1", "red", 1700000001, "Before joined"},
		{"group1", "alexandre", 1700000002, "Hello  ceci "},
	}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Errorf("Sync = %v, want %v", msgs, want)
	}
	select {
	case m := <-c.Messages():
		if m != (cpt.Message{"group1", "alexandre", 1700000005, "pushed"}) {
			t.Errorf("push %+v", m)
		}
	default:
		t.Error("the push is not in Messages")
	}
	if err := c.Send(ctx, "alexandre", "Hello"); err != nil {
		t.Fatal(err)
	}
	mine, err := c.Sync(ctx, "", 0)
	if err != nil || len(mine) != 1 || mine[0].Text != "Private message" || mine[0].Group != "red" {
		t.Errorf("bare Sync = %v, %v", mine, err)
	}
	err = c.Send(ctx, "nobody", "hi")
	var d *cpt.DeclineError
	if !errors.As(err, &d) || d.Reason != cpt.ReasonUnknownTarget {
		t.Errorf("Send to nobody: %v, want DECLINE unknown_target", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, ok := <-c.Messages(); ok {
		t.Error("Messages is still open after Close")
	}
}

// Pushes that arrive between commands are all delivered, in order, even
// past the channel's capacity: the reader waits instead of dropping, and a
// command whose reply queues behind them completes once they are read.
func TestClientPushesBackpressure(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	const n = cpt.PushBuffer + 200
	c := dialScript(t, func(s *cpttest.Conn) {
		if !s.Expect("SEND g go") {
			return
		}
		lines := make([]string, 0, n+1)
		for i := range n {
			lines = append(lines, fmt.Sprintf("MSG g bob %d push %d", i, i))
		}
		s.Write(append(lines, "ACK")...)
		s.Line()
	})
	sent := make(chan error, 1)
	go func() { sent <- c.Send(ctx, "g", "go") }()
	select {
	case err := <-sent:
		t.Fatalf("Send returned (%v) while %d pushes were unread", err, n)
	case <-time.After(200 * time.Millisecond):
	}
	for i := range n {
		m := <-c.Messages()
		if m.Time != int64(i) || m.Text != fmt.Sprintf("push %d", i) {
			t.Fatalf("push %d is %+v", i, m)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// SendPipelined keeps at most window SENDs unanswered and reports a
// DECLINE without stopping the rest.
func TestClientSendPipelined(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	const window, total = 4, 10
	c := dialScript(t, func(s *cpttest.Conn) {
		for read := 0; read < total; {
			// Read a whole window, then check that nothing more
			// comes before it is answered.
			batch := min(window, total-read)
			for i := range batch {
				want := fmt.Sprintf("SEND g m%d", read+i)
				if !s.Expect(want) {
					return
				}
			}
			read += batch
			if read < total {
				if l, sent := s.Quiet(100 * time.Millisecond); sent {
					s.T.Errorf("read %q beyond the window of %d", l, window)
					return
				}
			}
			for i := range batch {
				if read-batch+i == 6 {
					s.Write("DECLINE rate_limited")
				} else {
					s.Write("ACK")
				}
			}
		}
		s.Line()
	})
	texts := make([][]byte, total)
	for i := range texts {
		texts[i] = fmt.Appendf(nil, "m%d", i)
	}
	err := c.SendPipelined(ctx, "g", texts, window)
	var d *cpt.DeclineError
	if !errors.As(err, &d) || d.Reason != cpt.ReasonRateLimited || !strings.Contains(err.Error(), "SEND 7 of 10") {
		t.Errorf("SendPipelined: %v, want the DECLINE of SEND 7 of 10", err)
	}
}

// Commands from several goroutines are serialized: the server never sees
// a second command before it answered the first.
func TestClientSerializes(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	const n = 20
	c := dialScript(t, func(s *cpttest.Conn) {
		for range n {
			if _, ok := s.Line(); !ok {
				s.T.Error("connection ended early")
				return
			}
			if l, sent := s.Quiet(20 * time.Millisecond); sent {
				s.T.Errorf("a second command %q before the ACK", l)
				return
			}
			s.Write("ACK")
		}
		s.Line()
	})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Send(ctx, "g", fmt.Sprint(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// Cancelling a command unblocks it and closes the connection; so does a
// deadline that passes while waiting for the turn.
func TestClientCancel(t *testing.T) {
	leakCheck(t)
	c := dialScript(t, func(s *cpttest.Conn) {
		s.Line()
		s.Line() // never answers
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Connect(ctx, "alice", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	err := c.Send(context.Background(), "g", "x")
	if !errors.Is(err, cpt.ErrClosed) {
		t.Errorf("Send after cancel: %v, want cpt.ErrClosed", err)
	}
	if _, ok := <-c.Messages(); ok {
		t.Error("Messages still open after the connection ended")
	}
}

// A cancel also unblocks a write that the server does not read.
func TestClientCancelWrite(t *testing.T) {
	leakCheck(t)
	stall := make(chan struct{})
	c := dialScript(t, func(s *cpttest.Conn) { <-stall })
	defer close(stall)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	texts := make([][]byte, 20000)
	for i := range texts {
		texts[i] = []byte(strings.Repeat("x", 1000))
	}
	if err := c.SendPipelined(ctx, "g", texts, len(texts)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendPipelined to a stalled server: %v", err)
	}
}

// The end of the connection reaches a waiting command, with the DECLINE
// the server sent on its own before closing.
func TestClientServerCloses(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	c := dialScript(t, func(s *cpttest.Conn) {
		s.Expect("CONNECT alice")
		s.Write("ACCEPT", "DECLINE server_busy")
	})
	if err := c.Connect(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	for range c.Messages() {
	}
	err := c.Send(ctx, "g", "x")
	var d *cpt.DeclineError
	if !errors.Is(err, cpt.ErrClosed) || !errors.As(err, &d) || d.Reason != cpt.ReasonServerBusy {
		t.Errorf("Send after the server left: %v", err)
	}

	c2 := dialScript(t, func(s *cpttest.Conn) { s.Line() })
	if err := c2.Connect(ctx, "bob", ""); !errors.Is(err, cpt.ErrClosed) || !errors.Is(err, io.EOF) {
		t.Errorf("Connect to a server that hangs up: %v", err)
	}
}

// Replies that do not fit the command end the connection as protocol
// errors rather than being taken as someone else's answer.
func TestClientProtocolErrors(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	for _, tt := range []struct {
		name  string
		reply []string
		call  func(c *cpt.Client) error
	}{
		{"ACK to CONNECT", []string{"ACK"}, func(c *cpt.Client) error { return c.Connect(ctx, "a", "") }},
		{"ENDSYNC to SEND", []string{"ENDSYNC"}, func(c *cpt.Client) error { return c.Send(ctx, "g", "x") }},
		{"ACK during SYNC", []string{"MSG g a 1 x", "ACK"}, func(c *cpt.Client) error { _, err := c.Sync(ctx, "g", 0); return err }},
		{"garbage", []string{"HELLO"}, func(c *cpt.Client) error { return c.Send(ctx, "g", "x") }},
	} {
		c := dialScript(t, func(s *cpttest.Conn) {
			s.Line()
			s.Write(tt.reply...)
			s.Line()
		})
		if err := tt.call(c); !errors.Is(err, cpt.ErrProtocol) {
			t.Errorf("%s: %v, want cpt.ErrProtocol", tt.name, err)
		}
	}
}

// Bad arguments fail before anything is written, so a newline in a text
// can never become a second command.
func TestClientValidates(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	c := dialScript(t, func(s *cpttest.Conn) {
		if l, ok := s.Line(); ok {
			s.T.Errorf("server read %q", l)
		}
	})
	for name, err := range map[string]error{
		"text with newline":   c.Send(ctx, "g", "a\nSEND evil x"),
		"empty text":          c.Send(ctx, "g", ""),
		"target with space":   c.Send(ctx, "a b", "x"),
		"long name":           c.Connect(ctx, strings.Repeat("a", 33), ""),
		"password with space": c.Connect(ctx, "a", "p w"),
		"pipelined text":      c.SendPipelined(ctx, "g", [][]byte{[]byte("ok"), []byte("bad\r")}, 2),
		"sync group":          func() error { _, err := c.Sync(ctx, "g\x00", 0); return err }(),
		"sync after":          func() error { _, err := c.Sync(ctx, "g", -1); return err }(),
	} {
		if !errors.Is(err, cpt.ErrBadFormat) {
			t.Errorf("%s: %v, want cpt.ErrBadFormat", name, err)
		}
	}
}

// Dial with TLS, against a certificate made for the test.
func TestClientTLS(t *testing.T) {
	leakCheck(t)
	ctx := testCtx(t)
	certFile, keyFile, pool := testcert.SelfSigned(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := cpttest.Serve(t, &tls.Config{Certificates: []tls.Certificate{cert}}, func(s *cpttest.Conn) {
		// The second connection fails its handshake and reads nothing.
		if l, ok := s.Line(); ok && l == "CONNECT alice" {
			s.Write("ACCEPT")
			s.Line()
		}
	})
	c, err := cpt.Dial(ctx, addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	// Without the root the handshake fails, and Dial says so.
	if c2, err := cpt.Dial(ctx, addr, &tls.Config{}); err == nil {
		c2.Close()
		t.Error("Dial trusted an unknown certificate")
	}
}
