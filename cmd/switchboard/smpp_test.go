package main

import (
	"regexp"
	"strings"
	"testing"
)

var smppRe = regexp.MustCompile(`msg="switchboard serving" admin=\S+ smpp=(\S+)`)

// TestPeersAddBindsAtOnce: `peers add` with credentials on a running server
// makes a peer that can bind over SMPP without a restart, and `bench smpp`
// submits through it.
func TestPeersAddBindsAtOnce(t *testing.T) {
	e := startSMSC(t)
	m := smppRe.FindStringSubmatch(e.logs.String())
	if m == nil {
		t.Fatalf("no SMPP address in the serving line:\n%s", e.logs.String())
	}
	addr := m[1]
	e.run("", "numbers", "add", "+16195550102", "--type", "local")
	bench := func() (string, string, int) {
		return runBin(t, "", "bench", "smpp", "--addr", addr, "--system-id", "kn", "--password", "secret",
			"--binds", "1", "--window", "4", "--count", "20", "--src", "17605550001", "--dst", "16195550102")
	}
	if out, errs, code := bench(); code == 0 || !strings.Contains(errs, "ESME_RBINDFAIL") {
		t.Fatalf("bind before the peer exists: exit %d\n%s%s", code, out, errs)
	}
	e.run("", "peers", "add", "kn", "--system-id", "kn", "--password", "secret", "--pool", "1760555")
	out, errs, code := bench()
	if code != 0 || !strings.Contains(out, "accepted 20 ") {
		t.Fatalf("bench after peers add: exit %d\n%s%s", code, out, errs)
	}
	rows := e.dumpRows("--src", "+17605550001")
	if len(rows) != 20 {
		t.Fatalf("dump shows %d SMs from the peer, want 20", len(rows))
	}
}
