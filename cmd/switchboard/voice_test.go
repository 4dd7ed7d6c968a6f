package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var voiceAddrRe = regexp.MustCompile(`msg="voice control listening" service=voice addr=(\S+)`)

// runVoice runs one voice command line in-process.
func runVoice(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, env, append([]string{"voice"}, args...))
	return code, out.String(), errb.String()
}

func mustVoice(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runVoice(t, args...)
	if code != 0 {
		t.Fatalf("voice %v: exit %d: %s", args, code, errs)
	}
	return strings.TrimSpace(out)
}

// TestVoiceCommand drives every voice subcommand against a real serve,
// then restarts it: channels, registrations and the admin survive.
func TestVoiceCommand(t *testing.T) {
	t.Setenv("SWITCHBOARD_VOICE_UID", "")
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sb.toml", "[admin]\nlisten = \"127.0.0.1:0\"\n[smpp]\nlisten = \"\"\n[cpt]\nlisten = \"\"\n[udpchat]\nlisten = \"\"\n[voice]\nlisten = \"127.0.0.1:0\"\n[pager]\nlisten = \"\"\n")
	data := filepath.Join(dir, "data")
	cmd, admin, logs := startServe(t, "--config", cfg, "--data", data)
	m := voiceAddrRe.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no voice address in the log:\n%s", logs)
	}
	srv := "--server=" + m[1]

	adminUID := mustVoice(t, "admin-uid", "--data", data)
	if st, err := os.Stat(filepath.Join(data, "voice-admin.uid")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin uid file: %v %v", st, err)
	}
	if strings.Contains(logs.String(), adminUID) {
		t.Fatal("the admin uid is in the log")
	}
	user := mustVoice(t, srv, "register")
	if code, _, errs := runVoice(t, srv, "create", "--uid", user); code != 1 || !strings.Contains(errs, "access") {
		t.Fatalf("create by a plain user: %d %s", code, errs)
	}
	chid := mustVoice(t, srv, "create", "--uid", adminUID)
	if got := mustVoice(t, srv, "channels"); got != chid {
		t.Fatalf("channels = %q, want %q", got, chid)
	}
	port := mustVoice(t, srv, "port", chid)
	if port == "" || port == "0" {
		t.Fatalf("port %q", port)
	}
	key := mustVoice(t, "public-key", "--data", data)
	resp, err := http.Get("http://" + admin + "/api/voice/public-key")
	if err != nil {
		t.Fatal(err)
	}
	var pk struct {
		PublicKey string `json:"public_key"`
	}
	json.NewDecoder(resp.Body).Decode(&pk)
	resp.Body.Close()
	if pk.PublicKey != key {
		t.Fatalf("admin API key %q, command %q", pk.PublicKey, key)
	}

	// Two members stream tones at each other and report what they heard.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i, uid := range []string{adminUID, user} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, errs := runVoice(t, srv, "join", "--uid", uid, chid, "--tone", "440", "--duration", "1s", "--public-key", key)
			if code != 0 {
				t.Errorf("join %s: %d %s", uid, code, errs)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	for i, other := range []string{user, adminUID} {
		if !regexp.MustCompile(`(?m)^from ` + other + `: received [1-9]\d* lost \d+ \(`).MatchString(outs[i]) {
			t.Fatalf("join output %d:\n%s", i, outs[i])
		}
		if strings.Contains(outs[i], "bad signatures") {
			t.Fatalf("bad signatures:\n%s", outs[i])
		}
	}
	// Both left on exit; the admin adds the user back, and kicks it.
	mustVoice(t, srv, "join", "--uid", adminUID, "--user", user, chid)
	if got := mustVoice(t, srv, "leave", "--uid", adminUID, "--user", user, chid); got != "1" {
		t.Fatalf("leave = %q", got)
	}
	second := mustVoice(t, srv, "register", "--uid", adminUID, "--perm", "8")
	chid2 := mustVoice(t, srv, "create", "--uid", second)

	// Restart: channels, their ports and the registrations are still there.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	_, _, logs = startServe(t, "--config", cfg, "--data", data)
	m = voiceAddrRe.FindStringSubmatch(logs.String())
	srv = "--server=" + m[1]
	if got := mustVoice(t, "admin-uid", "--data", data); got != adminUID {
		t.Fatalf("admin uid changed: %s", got)
	}
	if got := mustVoice(t, srv, "channels"); got != chid+"\n"+chid2 {
		t.Fatalf("channels after restart = %q", got)
	}
	if got := mustVoice(t, srv, "port", chid); got != port {
		t.Logf("channel %s moved from port %s to %s (the old one was taken)", chid, port, got)
	}
	if got := mustVoice(t, srv, "delete", "--uid", second, chid2); got != chid2 {
		t.Fatalf("owner delete after restart = %q", got)
	}
	if got := mustVoice(t, srv, "unregister", "--uid", user); got != user {
		t.Fatalf("unregister = %q", got)
	}
	if code, _, _ := runVoice(t, srv, "bogus"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}
