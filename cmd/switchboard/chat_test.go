package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/internal/cpt/cpttest"
	"switchboard/internal/testcert"
)

// Write lets a syncBuffer be a command's Stdout or Stderr while the test
// reads it.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// runChat runs one chat command line in-process with the given stdin.
func runChat(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := run(ctx, env, append([]string{"chat"}, args...))
	return code, out.String(), errb.String()
}

// chatServer clears the chat environment variables, so that the
// developer's own cannot change a test, and serves script.
func chatServer(t *testing.T, tlsConfig *tls.Config, script func(s *cpttest.Conn)) string {
	t.Helper()
	t.Setenv(envChatUser, "")
	t.Setenv(envChatPassword, "")
	return cpttest.Serve(t, tlsConfig, script)
}

// acceptAs is the start of a script: CONNECT with the given line, ACCEPT.
func acceptAs(s *cpttest.Conn, connect string) bool {
	if !s.Expect(connect) {
		return false
	}
	s.Write("ACCEPT")
	return true
}

func TestChatSend(t *testing.T) {
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		if acceptAs(s, "CONNECT alice") && s.Expect("SEND group1 hello  world") {
			s.Write("ACK")
		}
		s.Line()
	})
	// Flags before and after the positional arguments; the text is the
	// remaining arguments joined by single spaces (one argument may hold
	// two).
	code, out, errs := runChat(t, "", "--server", addr, "--send", "group1", "--user", "alice", "hello ", "world")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// The username from the environment, the text from stdin, one SEND per
// line, and a password.
func TestChatSendStdin(t *testing.T) {
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		if !acceptAs(s, "CONNECT bob pw") {
			return
		}
		for _, want := range []string{"SEND +16195550100 first line", "SEND +16195550100 second"} {
			if !s.Expect(want) {
				return
			}
			s.Write("ACK")
		}
		s.Line()
	})
	t.Setenv(envChatUser, "bob")
	code, _, errs := runChat(t, "first line\r\n\nsecond\n", "--server", addr, "--password", "pw", "--send", "+16195550100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// After "--" every argument is text, even one that looks like a flag.
func TestChatSendDashText(t *testing.T) {
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		if acceptAs(s, "CONNECT alice") && s.Expect("SEND g -5 degrees --tls") {
			s.Write("ACK")
		}
		s.Line()
	})
	if code, _, errs := runChat(t, "", "--server", addr, "--send", "g", "alice", "--", "-5", "degrees", "--tls"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestChatSync(t *testing.T) {
	tests := []struct {
		args []string
		sync string
	}{
		{[]string{"--sync", "group1", "alice"}, "SYNC group1 0"},
		{[]string{"alice", "--sync", "group1", "--after", "1700000000"}, "SYNC group1 1700000000"},
		{[]string{"--sync", "-", "alice"}, "SYNC"},
		{[]string{"--sync=", "--user", "alice"}, "SYNC"},
	}
	for _, tt := range tests {
		addr := chatServer(t, nil, func(s *cpttest.Conn) {
			if !acceptAs(s, "CONNECT alice") || !s.Expect(tt.sync) {
				return
			}
			s.Write("MSG group1 red 1700000001 Before joined",
				"MSG group1 alexandre 1700000002 Hello  ceci \x1b[2J",
				"MSG group1 system 0 welcome",
				"ENDSYNC")
			s.Line()
		})
		code, out, errs := runChat(t, "", append([]string{"--server", addr}, tt.args...)...)
		want := "2023-11-14T22:13:21Z group1 red Before joined\n" +
			"2023-11-14T22:13:22Z group1 alexandre Hello  ceci \uFFFD[2J\n" +
			"1970-01-01T00:00:00Z group1 system welcome\n"
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, stdout\n%s\nwant\n%s\nstderr %s", tt.args, code, out, want, errs)
		}
	}
}

// --tls checks the certificate, --tls-insecure does not.
func TestChatTLS(t *testing.T) {
	certFile, keyFile, _ := testcert.SelfSigned(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := chatServer(t, &tls.Config{Certificates: []tls.Certificate{cert}}, func(s *cpttest.Conn) {
		if l, ok := s.Line(); ok && l == "CONNECT alice" {
			s.Write("ACCEPT")
			if s.Expect("SEND g over tls") {
				s.Write("ACK")
			}
			s.Line()
		}
	})
	if code, _, errs := runChat(t, "", "--server", addr, "--tls", "--send", "g", "alice", "over", "tls"); code != 1 || !strings.Contains(errs, "certificate") {
		t.Errorf("--tls with an unknown certificate: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runChat(t, "", "--server", addr, "--tls-insecure", "--send", "g", "alice", "over", "tls"); code != 0 {
		t.Errorf("--tls-insecure: exit %d, stderr %q", code, errs)
	}
}

func TestChatDeclined(t *testing.T) {
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		switch l, _ := s.Line(); l {
		case "CONNECT taken":
			s.Write("DECLINE username_taken")
		case "CONNECT alice":
			s.Write("ACCEPT")
			if s.Expect("SEND nobody hi") {
				s.Write("DECLINE unknown_target")
			}
		default:
			s.T.Errorf("unexpected %q", l)
		}
		s.Line()
	})
	code, _, errs := runChat(t, "", "--server", addr, "--send", "g", "taken", "hi")
	if code != 1 || !strings.Contains(errs, "declined: username_taken\n") {
		t.Errorf("CONNECT declined: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runChat(t, "", "--server", addr, "--send", "nobody", "alice", "hi")
	if code != 1 || !strings.Contains(errs, "declined: unknown_target\n") {
		t.Errorf("SEND declined: exit %d, stderr %q", code, errs)
	}
}

func TestChatUsage(t *testing.T) {
	t.Setenv(envChatUser, "")
	t.Setenv(envChatPassword, "")
	for _, args := range [][]string{
		{},
		{"--send", "g"},
		{"--send", "g", "--sync", "g", "alice", "x"},
		{"--send", "", "alice", "x"},
		{"--after", "5", "alice"},
		{"--sync", "g", "--after", "-1", "alice"},
		{"--sync", "g", "alice", "extra"},
		{"alice", "extra"},
		{"--send", "g", "alice"}, // no text in the arguments or on stdin
		{"--bogus"},
	} {
		if code, _, errs := runChat(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errs)
		}
	}
	if code, _, errs := runChat(t, "", "--server", "127.0.0.1:1", "--sync", "g", "alice"); code != 1 || errs == "" {
		t.Errorf("no server: exit %d, stderr %q", code, errs)
	}
}

// interactive drives the interactive mode through a stdin pipe.
type interactive struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *syncBuffer
	errs   *syncBuffer
	exited chan int
}

func startInteractive(t *testing.T, args ...string) *interactive {
	t.Helper()
	pr, pw := io.Pipe()
	c := &interactive{t: t, in: pw, out: &syncBuffer{}, errs: &syncBuffer{}, exited: make(chan int, 1)}
	env := &Env{Stdin: pr, Stdout: c.out, Stderr: c.errs}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.exited <- run(ctx, env, append([]string{"chat"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			t.Error("chat did not exit")
		}
	})
	return c
}

func (c *interactive) say(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("writing %q: %v", line, err)
	}
}

// waitFor waits until buf matches re and returns the match.
func (c *interactive) waitFor(buf *syncBuffer, re string) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := rx.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q in\n%s", re, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *interactive) exit() int {
	c.t.Helper()
	select {
	case code := <-c.exited:
		c.exited <- code // for the cleanup
		return code
	case <-time.After(5 * time.Second):
		c.t.Fatal("chat did not exit")
		return -1
	}
}

func TestChatInteractive(t *testing.T) {
	syncAt := make(chan string, 1)
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		if !acceptAs(s, "CONNECT red") || !s.Expect("SYNC group1 0") {
			return
		}
		s.Write("MSG group1 alexandre 1700000000 Hello ceci est un test", "ENDSYNC")
		if !s.Expect("SEND group1 hi all") {
			return
		}
		s.Write("ACK", "MSG group1 alexandre 1700000100 welcome red")
		if !s.Expect("SEND group1 /slash") {
			return
		}
		s.Write("ACK")
		if !s.Expect("SEND bob private") {
			return
		}
		s.Write("DECLINE unknown_target")
		l, _ := s.Line()
		syncAt <- l
		s.Write("ENDSYNC")
		if !s.Expect("SYNC") {
			return
		}
		s.Write("MSG red alexandre 0 psst", "ENDSYNC")
		s.Line()
	})
	c := startInteractive(t, "--server", addr, "red")
	c.waitFor(c.errs, "connected to .* as red")

	c.say("text before a target")
	c.waitFor(c.errs, "no target")
	c.say("/join group1")
	c.waitFor(c.out, `\[\d\d:\d\d:\d\d\] group1 <alexandre> Hello ceci est un test\n`)
	before := time.Now().Unix()
	c.say("hi all")
	c.waitFor(c.out, `\[\d\d:\d\d:\d\d\] group1 <alexandre> welcome red\n`)
	c.say("//slash")
	c.say("/msg bob private")
	c.waitFor(c.errs, "declined: unknown_target")
	c.say("/bogus")
	c.waitFor(c.errs, "unknown command /bogus")
	c.say("/help")
	c.waitFor(c.errs, "/join GROUP")

	// The second sync of the group asks for what came after the first
	// one's ENDSYNC, by the local clock.
	c.say("/sync")
	line := <-syncAt
	m := regexp.MustCompile(`^SYNC group1 (\d+)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("second sync sent %q", line)
	}
	if at, _ := strconv.ParseInt(m[1], 10, 64); at < before-5 || at > time.Now().Unix() {
		t.Errorf("second sync after %d, want about %d", at, before)
	}
	c.waitFor(c.errs, "no new messages")
	c.say("/sync -")
	c.waitFor(c.out, `\[--:--:--\] red <alexandre> psst\n`)
	c.say("/quit")
	if code := c.exit(); code != 0 {
		t.Errorf("exit %d after /quit; stderr %s", code, c.errs.String())
	}
}

// The end of stdin ends the session cleanly; the server closing it is an
// error.
func TestChatInteractiveEnds(t *testing.T) {
	addr := chatServer(t, nil, func(s *cpttest.Conn) {
		if !acceptAs(s, "CONNECT alice") {
			return
		}
		if l, _ := s.Line(); l == "SEND g bye" {
			s.Write("DECLINE server_busy") // and hang up
		}
	})
	c := startInteractive(t, "--server", addr, "alice")
	c.waitFor(c.errs, "connected")
	c.in.Close()
	if code := c.exit(); code != 0 {
		t.Errorf("exit %d at the end of stdin; stderr %s", code, c.errs.String())
	}

	c = startInteractive(t, "--server", addr, "alice")
	c.say("/msg g bye")
	c.waitFor(c.errs, "declined: server_busy")
	if code := c.exit(); code != 1 {
		t.Errorf("exit %d when the server hung up; stderr %s", code, c.errs.String())
	}
}
