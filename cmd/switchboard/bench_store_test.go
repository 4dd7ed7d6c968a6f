package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchStore runs `bench store` on a data directory that does not exist
// yet: it is made, the report names the disk's and the store's figures, and
// no scratch store is left in it.
func TestBenchStore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out := mustRun(t, "", "bench", "store", "--data", data, "--appenders", "4", "--duration", "300ms", "--probe", "100ms")
	for _, want := range []string{"disk: ", "durable writes of 1024 bytes", "store: 4 appenders × 1 record(s) per call", "records/s acknowledged", "ceiling: 4 records in flight"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench store output lacks %q:\n%s", want, out)
		}
	}
	left, err := os.ReadDir(data)
	if err != nil || len(left) != 0 {
		t.Errorf("data directory after the run: %v %v", left, err)
	}
	if _, errs, code := runBin(t, "", "bench", "store", "--data", data, "--appenders", "0"); code != 2 || !strings.Contains(errs, "--appenders") {
		t.Errorf("--appenders 0: exit %d, %s", code, errs)
	}
	if _, errs, code := runBin(t, "", "bench", "store", "--data", data, "--duration", "1s", "--warmup", "1s"); code != 2 || !strings.Contains(errs, "--warmup") {
		t.Errorf("--warmup = --duration: exit %d, %s", code, errs)
	}
}
