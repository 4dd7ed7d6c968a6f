package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/udpchat"
)

var udpchatAddrRe = regexp.MustCompile(`msg="switchboard serving" .*udpchat=(\S+)`)

// runUDPChat runs one udpchat command line in-process.
func runUDPChat(t *testing.T, ctx context.Context, stdin string, out *syncBuffer, args ...string) (int, string) {
	t.Helper()
	var errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: out, Stderr: &errb}
	code := run(ctx, env, append([]string{"udpchat"}, args...))
	return code, errb.String()
}

// The scriptable client against a real server: one-shot commands, a
// listener, the interactive loop, and exit statuses.
func TestUDPChatCommand(t *testing.T) {
	e := startSMSCWith(t, "")
	m := udpchatAddrRe.FindStringSubmatch(e.logs.String())
	if m == nil {
		t.Fatalf("no udpchat address in the log:\n%s", e.logs)
	}
	addr := m[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var heard syncBuffer
	listened := make(chan int, 1)
	go func() {
		code, _ := runUDPChat(t, ctx, "", &heard, "--server", addr, "--script", "bob", "listen", "--count", "2")
		listened <- code
	}()
	// Wait until bob is online (the listener registered).
	for {
		var out syncBuffer
		if code, _ := runUDPChat(t, ctx, "", &out, "--server", addr, "--script", "probe", "list"); code != 0 {
			t.Fatalf("list exited %d", code)
		}
		if strings.Contains(out.String(), " bob") {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("bob never came online")
		}
		// Poll: the listener runs on its own. Slowly, since each probe
		// is a registration from 127.0.0.1, which has a budget.
		time.Sleep(100 * time.Millisecond)
	}

	var out syncBuffer
	if code, stderr := runUDPChat(t, ctx, "", &out, "--server", addr, "--script", "amy", "broadcast", "hello", "there"); code != 0 || out.String() != "OK\n" {
		t.Fatalf("broadcast: exit %d, out %q, stderr %q", code, out.String(), stderr)
	}
	// The interactive loop, scripted: a private message, the list, an
	// error that sets the exit status, and /quit.
	out = syncBuffer{}
	code, _ := runUDPChat(t, ctx, "/msg bob psst\n/msg nobody hi\n/info\n/quit\nnot sent\n", &out, "--server", addr, "--script", "cat")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 1 || len(lines) != 3 || lines[0] != "OK" || lines[1] != "ERROR user not found" ||
		!regexp.MustCompile(`^INFO \d{4}-\d\d-\d\dT\S+Z switchboard \S+$`).MatchString(lines[2]) {
		t.Fatalf("interactive: exit %d, out %q", code, out.String())
	}
	select {
	case code := <-listened:
		if code != 0 {
			t.Fatalf("listen exited %d", code)
		}
	case <-ctx.Done():
		t.Fatalf("listener did not get 2 messages: %q", heard.String())
	}
	if got := heard.String(); !strings.Contains(got, "PUBLIC amy hello there\n") || !strings.Contains(got, "DIRECT cat psst\n") {
		t.Fatalf("listener heard %q", got)
	}

	// A taken name: exit 1 with the server's words.
	danDone := make(chan struct{})
	go func() {
		defer close(danDone)
		runUDPChat(t, ctx, "", &syncBuffer{}, "--server", addr, "dan", "listen", "--for", "2s")
	}()
	for {
		out = syncBuffer{}
		runUDPChat(t, ctx, "", &out, "--server", addr, "--script", "probe", "list")
		if strings.Contains(out.String(), " dan") {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("dan never came online")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, stderr := runUDPChat(t, ctx, "", &syncBuffer{}, "--server", addr, "dan", "info"); code != 1 || !strings.Contains(stderr, "username is already present") {
		t.Fatalf("taken name: exit %d, stderr %q", code, stderr)
	}
	<-danDone
}

// fakeUDPChat is a CHAT UDP server that answers register and logout with
// OK and info with a fixed reply, and counts the info requests.
func fakeUDPChat(t *testing.T) (addr string, infos *atomic.Int64) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	infos = new(atomic.Int64)
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, udpchat.MaxPacket+1)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p, err := udpchat.Decode(buf[:n])
			if err != nil {
				continue
			}
			switch p.Op {
			case udpchat.OpRegister, udpchat.OpLogout:
				_, _ = conn.WriteToUDP(udpchat.AppendOK(nil), from)
			case udpchat.OpInfo:
				infos.Add(1)
				_, _ = conn.WriteToUDP(udpchat.AppendPacket(nil, udpchat.OpInfoReply, []byte("2026-01-01T00:00:00Z switchboard test")), from)
			}
		}
	}()
	return conn.LocalAddr().String(), infos
}

// --keepalive 0 (or less) turns the keepalive off rather than panicking
// in time.NewTicker; a positive one asks for the info while the command
// runs.
func TestUDPChatKeepalive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		keepalive string
		on        bool
	}{{"0", false}, {"-1s", false}, {"20ms", true}} {
		addr, infos := fakeUDPChat(t)
		var out syncBuffer
		code, stderr := runUDPChat(t, ctx, "", &out, "--server", addr, "--keepalive", tc.keepalive, "amy", "listen", "--for", "300ms")
		if code != 0 {
			t.Fatalf("--keepalive %s: exit %d, stderr %q", tc.keepalive, code, stderr)
		}
		if n := infos.Load(); (n > 0) != tc.on {
			t.Errorf("--keepalive %s: %d info requests", tc.keepalive, n)
		}
	}
}
