package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var pagerRe = regexp.MustCompile(`msg="switchboard serving" .* pager=(\S+)`)

// pagerCLI runs `switchboard pager ARGS` and returns its exit code and
// output.
func pagerCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"pager"}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestPagerCLI drives the command-line contract against a real serve.
func TestPagerCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sb.toml", "[admin]\nlisten = \"127.0.0.1:0\"\n[smpp]\nlisten = \"\"\n[cpt]\nlisten = \"\"\n[udpchat]\nlisten = \"\"\n[voice]\nlisten = \"\"\n[pager]\nlisten = \"127.0.0.1:0\"\n")
	data := filepath.Join(dir, "data")
	cmd := exec.Command(binary(t), "serve", "--config", cfg, "--data", data)
	m, logs := startLogged(t, cmd, "serve", pagerRe)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	srv := m[1]
	secretPath := filepath.Join(data, "pager.secret")
	if !strings.Contains(logs.String(), secretPath) {
		t.Errorf("the generated secret's path is not printed:\n%s", logs)
	}
	fi, err := os.Stat(secretPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}

	ok := func(want string, args ...string) {
		t.Helper()
		code, out, errs := pagerCLI(t, append([]string{"--server", srv, "--data", data}, args...)...)
		if code != 0 || out != want {
			t.Fatalf("pager %v: exit %d, stdout %q, stderr %q; want 0, %q", args, code, out, errs, want)
		}
	}
	fails := func(wantCode int, wantErr string, args ...string) {
		t.Helper()
		code, _, errs := pagerCLI(t, append([]string{"--server", srv}, args...)...)
		if code != wantCode || !strings.Contains(errs, wantErr) {
			t.Fatalf("pager %v: exit %d, stderr %q; want %d and %q", args, code, errs, wantCode, wantErr)
		}
	}
	ok("ok\n", "add", "+16195550100")
	ok("ok\n", "add", "6195550111") // national NANP: gains the 1
	ok("ok\n", "add", "+16195550100")
	ok("+16195550100\n+16195550111\n", "list")
	ok("ok\n", "remove", "+16195550100")
	ok("+16195550111\n", "list")
	ok("ok\n", "add-client", "7")
	ok("ok\n", "remove-client", "7")
	// --secret-file instead of --data.
	code, out, _ := pagerCLI(t, "--server", srv, "--secret-file", secretPath, "list")
	if code != 0 || out != "+16195550111\n" {
		t.Fatalf("with --secret-file: %d %q", code, out)
	}
	// NACKs exit 1 with the server's reason.
	fails(1, "calls disabled: pager.sip_proxy is not set", "--data", data, "call", "+16195550111")
	fails(1, "SMS disabled", "--data", data, "notify", "+16195550111", "--party", "4")
	fails(1, "greeting over 64 bytes", "--data", data, "notify", "+16195550111", "--party", "4", "--greeting", strings.Repeat("x", 65))
	// Usage errors exit 2 before anything is sent.
	fails(2, "not a phone number", "--data", data, "add", "12ab")
	fails(2, "notify needs --party", "--data", data, "notify", "+16195550111")
	fails(2, "exclusive", "--data", data, "--secret-file", secretPath, "list")
	fails(2, "unknown operation", "--data", data, "frobnicate")
	// A wrong secret gets no answer at all: exit 1 after the timeout.
	wrong := writeFile(t, dir, "wrong.secret", "a wrong secret of enough length\n")
	start := time.Now()
	fails(1, "no answer", "--secret-file", wrong, "--timeout", "500ms", "list")
	if time.Since(start) > 10*time.Second {
		t.Error("the timeout was not applied")
	}
}
