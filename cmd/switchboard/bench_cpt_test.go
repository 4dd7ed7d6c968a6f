package main

import (
	"strings"
	"testing"
)

// TestBenchCPT runs `bench cpt` and `bench cpt-idle` against a server:
// the fan-out run's totals add up and the idle run reads the server's
// connection count.
func TestBenchCPT(t *testing.T) {
	e := startSMSCWith(t, "rate = 1e7\nburst = 100000\n")
	addr := cptAddr(t, e.logs)
	m := adminRe.FindStringSubmatch(e.logs.String())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", e.logs)
	}
	metrics := "http://" + m[1] + "/metrics"

	out := mustRun(t, "", "bench", "cpt", "--addr", addr, "--receivers", "5", "--senders", "2", "--window", "10",
		"--count", "50", "--duration", "20s", "--warmup", "-1ns", "--metrics", metrics)
	for _, want := range []string{"2 sender(s) window 10, 5 receivers, one group", "sent 100, acked 100", "deliveries 500 of 500", "(+100 of 100 to senders)"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench cpt output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("bench cpt warns:\n%s", out)
	}

	out = mustRun(t, "", "bench", "cpt-idle", "--addr", addr, "--conns", "20", "--hold", "0s", "--metrics", metrics)
	if !strings.Contains(out, "20 connections logged in") || !strings.Contains(out, "(server RSS") || !strings.Contains(out, ", 20 connections)") {
		t.Errorf("bench cpt-idle output:\n%s", out)
	}

	if _, errs, code := runBin(t, "", "bench", "cpt", "--addr", addr, "--senders", "0"); code != 2 || !strings.Contains(errs, "--senders") {
		t.Errorf("--senders 0: exit %d, %s", code, errs)
	}
}
