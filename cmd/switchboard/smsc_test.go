package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBin runs the switchboard binary to completion.
func runBin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := runBin(t, stdin, args...)
	if code != 0 {
		t.Fatalf("switchboard %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// smscEnv is a running server on a temporary data directory.
type smscEnv struct {
	t    *testing.T
	dir  string
	data string
	cfg  string
	cmd  *exec.Cmd
	logs *syncBuffer
}

func startSMSC(t *testing.T) *smscEnv { return startSMSCWith(t, "") }

// startSMSCWith is startSMSC with more [cpt] settings.
func startSMSCWith(t *testing.T, cpt string) *smscEnv {
	dir := t.TempDir()
	e := &smscEnv{t: t, dir: dir, data: filepath.Join(dir, "data")}
	e.cfg = writeFile(t, dir, "sb.toml", "[admin]\nlisten = \"127.0.0.1:0\"\n[smpp]\nlisten = \"127.0.0.1:0\"\n[cpt]\nlisten = \"127.0.0.1:0\"\n"+cpt+"[udpchat]\nlisten = \"127.0.0.1:0\"\n[voice]\nlisten = \"127.0.0.1:0\"\n[pager]\nlisten = \"127.0.0.1:0\"\n[core]\nretry_min = \"50ms\"\nretry_max = \"200ms\"\n")
	e.start()
	return e
}

func (e *smscEnv) start() {
	e.cmd, _, e.logs = startServe(e.t, "--config", e.cfg, "--data", e.data)
}

func (e *smscEnv) kill9() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	e.cmd.Wait()
}

func (e *smscEnv) run(stdin string, args ...string) string {
	e.t.Helper()
	return mustRun(e.t, stdin, append(args, "--data", e.data)...)
}

// dumpRows returns dump's JSON rows.
func (e *smscEnv) dumpRows(extra ...string) []map[string]any {
	e.t.Helper()
	out := e.run("", append([]string{"dump", "--json"}, extra...)...)
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("dump line %q: %v", line, err)
		}
		rows = append(rows, m)
	}
	return rows
}

// startRH starts a role handler process and returns its stdout lines.
func (e *smscEnv) startRH(args ...string) (*exec.Cmd, <-chan string) {
	e.t.Helper()
	cmd := exec.Command(binary(e.t), append(append([]string{"rh"}, args...), "--data", e.data)...)
	stdout, _ := cmd.StdoutPipe()
	// Registration is announced on stderr; wait for it so the caller knows
	// the role is held.
	startLogged(e.t, cmd, fmt.Sprint("rh ", args), regexp.MustCompile("registered as"))
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines
}

func TestSMSCEndToEnd(t *testing.T) {
	e := startSMSC(t)
	// Numbers added while the server runs take effect at once.
	e.run("", "numbers", "add", "+16195550100", "--type", "gsm", "--smsprov")
	e.run("", "numbers", "add", "+16195550101", "--type", "gsm")
	e.run("", "numbers", "add", "+16195550102", "--type", "local")

	// To a store-only number: stored, historical at once.
	out := e.run("hello store\n", "submit", "+16195550100", "+16195550102")
	id, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("submit printed %q", out)
	}
	rows := e.dumpRows("--show-text")
	if len(rows) != 1 || rows[0]["index"] != float64(id) || rows[0]["disposition"] != "stored" || rows[0]["text"] != "hello store" {
		t.Fatalf("dump: %v", rows)
	}

	// The sms-encode-text input format (../shared/sms-encode-text.md).
	e.run("dcs 0 septet\nmsg 4869200020 1B3C781B3E\n", "submit", "--encode-text", "+16195550100", "+16195550102")
	rows = e.dumpRows("--show-text")
	if len(rows) != 2 || rows[1]["text"] != "Hi @ [x]" {
		t.Fatalf("encode-text submission: %v", rows)
	}
	if _, errs, code := runBin(t, "msg zz\n", "submit", "--encode-text", "+16195550100", "+16195550102", "--data", e.data); code == 0 || !strings.Contains(errs, "line 1") {
		t.Fatalf("bad encode-text: exit %d %q", code, errs)
	}

	// A rejection names the reason and exits non-zero; nothing is stored.
	_, errs, code := runBin(t, "hi\n", "submit", "+16195550101", "+12125550100", "--data", e.data)
	if code == 0 || !strings.Contains(errs, "UPSTREAM_NOT_PERMITTED") {
		t.Fatalf("unprovisioned sender to the outside: exit %d %q", code, errs)
	}
	_, errs, code = runBin(t, "hi\n", "submit", "+16195550101", "+16190550100", "--data", e.data)
	if code == 0 || !strings.Contains(errs, "INVALID_NUMBER") {
		t.Fatalf("invalid NANP: exit %d %q", code, errs)
	}

	// A long text to a GSM number: three parts, three ids, delivered
	// through the IMSI lookup and MT handlers.
	long := strings.Repeat("0123456789", 40)
	out = e.run(long, "submit", "+16195550101", "+16195550100")
	ids := strings.Fields(out)
	if len(ids) != 3 {
		t.Fatalf("long text ids %q", out)
	}
	e.startRH("imsi-lookup", "--prefix", "00101")
	_, mt := e.startRH("gsm-mt")
	delivered := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(delivered) < 3 {
		select {
		case line := <-mt:
			var r mtReport
			json.Unmarshal([]byte(line), &r)
			if r.Event == "transfer" && r.IMSI != "001016195550100" {
				t.Fatalf("transfer with IMSI %q", r.IMSI)
			}
			if r.Event == "delivered" {
				delivered[fmt.Sprint(r.Index)] = true
			}
		case <-deadline:
			t.Fatalf("delivered so far: %v", delivered)
		}
	}
	for _, id := range ids {
		if !delivered[id] {
			t.Fatalf("part %s not delivered: %v", id, delivered)
		}
	}
	// An IMSI-addressed SM from an alphanumeric sender skips routing and
	// goes straight to the MT handler (§2.4.1).
	out = e.run("SIM update\n", "submit", "--imsi", "001010000000099", "Operator")
	imsiID := strings.TrimSpace(out)
	deadline = time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case line := <-mt:
			var r mtReport
			json.Unmarshal([]byte(line), &r)
			if r.Event == "transfer" && fmt.Sprint(r.Index) == imsiID {
				if r.IMSI != "001010000000099" {
					t.Fatalf("IMSI-addressed transfer with IMSI %q", r.IMSI)
				}
				done = true
			}
		case <-deadline:
			t.Fatal("IMSI-addressed SM not transferred")
		}
	}
	// The discharge is durable once the handler's request is answered, so
	// dump shows it.
	for _, r := range e.dumpRows("--number", "+16195550100", "--class", "gsm") {
		if r["disposition"] != "delivered" {
			t.Fatalf("GSM part not delivered in the store: %v", r)
		}
	}
}

// TestSMSCKill9Restart proves that SIGKILL of serve loses no accepted SM and
// creates none twice: everything acknowledged is delivered once after a
// restart.
func TestSMSCKill9Restart(t *testing.T) {
	e := startSMSC(t)
	e.run("", "numbers", "add", "+16195550100", "--type", "gsm", "--smsprov")
	e.run("", "numbers", "add", "+16195550101", "--type", "gsm")
	var ids []string
	for i := range 20 {
		out := e.run(fmt.Sprintf("message %d", i), "submit", "+16195550100", "+16195550101")
		ids = append(ids, strings.TrimSpace(out))
	}
	e.kill9()
	e.start()
	// A resubmission of an accepted SM after the restart gets its old id.
	if out := e.run("message 7", "submit", "+16195550100", "+16195550101"); strings.TrimSpace(out) != ids[7] {
		t.Fatalf("resubmission after restart got %q, want %s", out, ids[7])
	}
	e.startRH("imsi-lookup", "--prefix", "00101")
	_, mt := e.startRH("gsm-mt")
	got := map[string]int{}
	deadline := time.After(20 * time.Second)
	for len(got) < len(ids) {
		select {
		case line := <-mt:
			var r mtReport
			json.Unmarshal([]byte(line), &r)
			if r.Event == "delivered" {
				got[fmt.Sprint(r.Index)]++
			}
		case <-deadline:
			t.Fatalf("delivered %d of %d after restart", len(got), len(ids))
		}
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("SM %s delivered %d times", id, got[id])
		}
	}
	if rows := e.dumpRows(); len(rows) != len(ids) {
		t.Fatalf("%d records in the store, want %d (none created twice)", len(rows), len(ids))
	}
}
