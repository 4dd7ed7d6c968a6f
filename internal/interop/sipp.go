package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIPpConfig says how to start SIPp (Debian package sip-tester) as the far
// end of a SIP call: a UAS running one scenario file.
type SIPpConfig struct {
	// Scenario is the path of the scenario XML (-sf).
	Scenario string
	// Keys are substituted for [name] in the scenario's messages (-key).
	Keys map[string]string
	// Calls is how many calls sipp handles before it exits (-m); default 1.
	Calls int
	// Timeout is sipp's global timeout, after which it exits with an error
	// (-timeout, -timeout_error); default 60s.
	Timeout time.Duration
}

// SIPp is a running sipp.
type SIPp struct {
	*Process
	// Addr is the host:port of its SIP socket (UDP, 127.0.0.1).
	Addr string
	// MediaPort is its RTP echo port (-mp; sipp binds it and MediaPort+2).
	MediaPort int
	// MessageLog is the trace of every SIP message it sent and received.
	MessageLog string
}

// StartSIPp starts sipp on 127.0.0.1 with free ports and waits until its
// SIP socket is bound. It is stopped in t.Cleanup; a scenario's outcome is
// its exit status (Wait).
func StartSIPp(t testing.TB, cfg SIPpConfig) *SIPp {
	t.Helper()
	Require(t, "sipp")
	path, _ := programPath("sipp")
	if cfg.Calls == 0 {
		cfg.Calls = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	scenario, err := filepath.Abs(cfg.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	sipPort := freeUDPPort(t, 0)
	mediaPort := freeUDPPort(t, 2)
	ctrlPort := freeUDPPort(t, 0)
	s := &SIPp{
		Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(sipPort)),
		MediaPort:  mediaPort,
		MessageLog: filepath.Join(logDir, "sipp.messages"),
	}
	errLog := filepath.Join(logDir, "sipp.errors")
	args := []string{
		"-sf", scenario,
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort),
		"-cp", strconv.Itoa(ctrlPort),
		"-m", strconv.Itoa(cfg.Calls),
		"-timeout", fmt.Sprintf("%dms", cfg.Timeout.Milliseconds()), "-timeout_error",
		"-nostdin",
		"-trace_msg", "-message_file", s.MessageLog,
		"-trace_err", "-error_file", errLog,
	}
	keys := make([]string, 0, len(cfg.Keys))
	for k := range cfg.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-key", k, cfg.Keys[k])
	}
	s.Process = startProcess(t, procSpec{
		name:      "sipp",
		path:      path,
		args:      args,
		logDir:    logDir,
		extraLogs: []string{s.MessageLog, errLog},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitUDPBound(ctx, sipPort, s.Process); err != nil {
		t.Fatal(err)
	}
	return s
}

// Wait waits for sipp to exit and returns nil if it exited 0, which it
// does only when every call went through the scenario as written.
func (s *SIPp) Wait(ctx context.Context) error {
	select {
	case <-s.Exited():
	case <-ctx.Done():
		return fmt.Errorf("sipp still running: %w", ctx.Err())
	}
	if err := s.Err(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("sipp exited %d (0 = all calls passed the scenario, 1 = a call failed)", ee.ExitCode())
		}
		return err
	}
	return nil
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago,
// together with port+extra when extra > 0 (sipp binds the media port and
// the one two above it), and that no caller in this process got before.
func freeUDPPort(t testing.TB, extra int) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("freeUDPPort: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		ok := port+extra <= 65535
		if ok && extra > 0 {
			c2, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+extra)))
			if err != nil {
				ok = false
			} else {
				c2.Close()
			}
		}
		c.Close()
		portsMu.Lock()
		fresh := ok && !portsGiven[port] && !portsGiven[port+extra]
		if fresh {
			portsGiven[port] = true
			portsGiven[port+extra] = true
		}
		portsMu.Unlock()
		if fresh {
			return port
		}
	}
	t.Fatal("freeUDPPort: no fresh port after 100 tries")
	return 0
}

// waitUDPBound waits until some socket is bound to 127.0.0.1:port over UDP,
// as /proc/net/udp shows: UDP has no handshake to probe readiness with.
func waitUDPBound(ctx context.Context, port int, p *Process) error {
	want := fmt.Sprintf("0100007F:%04X", port)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if b, err := os.ReadFile("/proc/net/udp"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) > 2 && f[1] == want {
					return nil
				}
			}
		} else {
			return fmt.Errorf("%s: cannot see bound UDP ports: %w", p.Name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: nothing bound to UDP 127.0.0.1:%d: %w", p.Name, port, ctx.Err())
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before binding UDP 127.0.0.1:%d", p.Name, p.waitErr, port)
		case <-ticker.C:
		}
	}
}
