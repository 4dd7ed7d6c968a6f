package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the switchboard command once per test run, for tests that
// need a real process (signals, exit codes, locks between processes).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, binPath)
	}
	return binPath
}

var adminRe = regexp.MustCompile(`msg="switchboard serving" admin=(\S+)`)

// syncBuffer is a log buffer written by a reader goroutine and read by the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) add(line string) { b.mu.Lock(); b.b.WriteString(line + "\n"); b.mu.Unlock() }

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// startLogged starts cmd, keeps its standard-error lines, and waits until
// one matches ready, returning the match's submatches. The test fails if the
// process exits first or takes longer than 30 s; the process is killed when
// the test ends.
func startLogged(t *testing.T, cmd *exec.Cmd, what string, ready *regexp.Regexp) ([]string, *syncBuffer) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &syncBuffer{}
	match := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sent := false; sc.Scan(); {
			logs.add(sc.Text())
			if m := ready.FindStringSubmatch(sc.Text()); m != nil && !sent {
				match <- m
				sent = true
			}
		}
		close(match)
	}()
	select {
	case m, ok := <-match:
		if !ok {
			cmd.Wait()
			t.Fatalf("%s exited before it was ready:\n%s", what, logs)
		}
		return m, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was not ready within 30 s:\n%s", what, logs)
	}
	return nil, nil
}

// startServe runs `switchboard serve` and waits for its "serving" log line.
func startServe(t *testing.T, args ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve"}, args...)...)
	m, logs := startLogged(t, cmd, "serve", adminRe)
	return cmd, m[1], logs
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeProcessLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sb.toml", "[admin]\nlisten = \"127.0.0.1:0\"\n[smpp]\nlisten = \"127.0.0.1:0\"\n[cpt]\nlisten = \"127.0.0.1:0\"\n[udpchat]\nlisten = \"127.0.0.1:0\"\n[voice]\nlisten = \"127.0.0.1:0\"\n[pager]\nlisten = \"127.0.0.1:0\"\n")
	data := filepath.Join(dir, "data")
	cmd, addr, logs := startServe(t, "--config", cfg, "--data", data)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(data, "pms.bin")); err != nil {
		t.Fatalf("data dir not set up: %v", err)
	}

	// A second serve on the same data directory exits non-zero, saying why.
	out, err := exec.Command(binary(t), "serve", "--config", cfg, "--data", data).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || !strings.Contains(string(out), "in use") {
		t.Fatalf("second serve: %v\n%s", err, out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.toml", "[admin]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n")
	out, err := exec.Command(binary(t), "serve", "--config", bad, "--data", filepath.Join(dir, "e")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "admin.lisen") || !strings.Contains(string(out), bad) {
		t.Fatalf("bad config: %v\n%s", err, out)
	}
}

func TestServeJSONLogLine(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sb.toml", "[admin]\nlisten = \"127.0.0.1:0\"\n[smpp]\nlisten = \"127.0.0.1:0\"\n[cpt]\nlisten = \"127.0.0.1:0\"\n[udpchat]\nlisten = \"127.0.0.1:0\"\n[voice]\nlisten = \"127.0.0.1:0\"\n[pager]\nlisten = \"127.0.0.1:0\"\n")
	cmd := exec.Command(binary(t), "serve", "--config", cfg, "--data", filepath.Join(dir, "d"), "--log-format", "json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "{") || !strings.Contains(line, `"msg":`) {
		t.Fatalf("first log line %q: %v", line, err)
	}
}

func TestCommandsInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	ctx := context.Background()
	if code := run(ctx, env, []string{"defaultconfig"}); code != 0 || !strings.Contains(out.String(), `listen = "127.0.0.1:39180"`) {
		t.Fatalf("defaultconfig: %d %q", code, out.String())
	}
	// The printed default is itself a valid configuration.
	p := writeFile(t, t.TempDir(), "default.toml", out.String())
	out.Reset()
	if code := run(ctx, env, []string{"check-config", "--config", p}); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("check-config: %d %q %q", code, out.String(), errb.String())
	}
	bad := writeFile(t, t.TempDir(), "bad.toml", "[store]\nmax_batch = 99999\n")
	errb.Reset()
	if code := run(ctx, env, []string{"check-config", "--config", bad}); code != 1 || !strings.Contains(errb.String(), "store.max_batch") {
		t.Fatalf("check-config bad: %d %q", code, errb.String())
	}
	out.Reset()
	if code := run(ctx, env, []string{"version"}); code != 0 || !strings.HasPrefix(out.String(), "switchboard ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(ctx, env, []string{"nope"}); code != 2 {
		t.Fatalf("unknown command: %d", code)
	}
	if code := run(ctx, env, []string{"serve", "--bogus"}); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
}
