package pmsload

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Appenders: 8, PerCall: 2, Duration: 400 * time.Millisecond, Probe: 100 * time.Millisecond}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProbeWrites == 0 || res.ProbeBytes != 16*256 || res.ProbeP50 <= 0 || res.ProbeP99 < res.ProbeP50 || res.ProbeMean <= 0 {
		t.Errorf("probe: %d writes of %d bytes, p50 %v p99 %v", res.ProbeWrites, res.ProbeBytes, res.ProbeP50, res.ProbeP99)
	}
	if res.Records == 0 || res.Flushes == 0 || res.FlushTime <= 0 {
		t.Fatalf("store: %d records, %d flushes, %v", res.Records, res.Flushes, res.FlushTime)
	}
	if res.Records%2 != 0 {
		t.Errorf("%d records acknowledged, not whole calls of 2", res.Records)
	}
	// Every appender has at most PerCall records in flight, so a flush
	// cannot carry more than 16; a record or flush counted on either
	// side of the window's edges allows a little more on average.
	if pf := res.PerFlush(); pf < 1 || pf > 17 {
		t.Errorf("%.1f records per flush with 16 in flight", pf)
	}
	if res.Ceiling() < res.Rate() {
		t.Errorf("rate %.0f above the ceiling %.0f", res.Rate(), res.Ceiling())
	}
	if res.AckP50 <= 0 || res.AckP99 < res.AckP50 {
		t.Errorf("ack p50 %v p99 %v", res.AckP50, res.AckP99)
	}
	out := res.String()
	for _, want := range []string{"disk: ", "4096 bytes", "store: 8 appenders × 2 record(s)", "records/s acknowledged", "ceiling: 16 records in flight", "at the disk's own (probe) flush time"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("scratch left behind: %v %v", left, err)
	}
}

func TestRunNoProbe(t *testing.T) {
	res, err := Run(context.Background(), Config{Dir: t.TempDir(), Appenders: 2, Duration: 100 * time.Millisecond, Probe: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProbeWrites != 0 || strings.Contains(res.String(), "disk:") || res.DiskCeiling() != 0 {
		t.Errorf("probe ran: %+v", res)
	}
	if res.Records == 0 {
		t.Error("nothing appended")
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := Run(ctx, Config{Dir: t.TempDir(), Duration: time.Minute, Probe: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("a cancelled run took %v", d)
	}
}

func TestRunBadDir(t *testing.T) {
	_, err := Run(context.Background(), Config{Dir: "/nonexistent/switchboard", Duration: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/switchboard") {
		t.Errorf("err = %v, want one naming the directory", err)
	}
}
