package hugepages

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// anonHuge is the process's AnonHugePages in kB.
func anonHuge(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "AnonHugePages:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no AnonHugePages in smaps_rollup")
	return 0
}

// thpFaults returns the kernel's counts of page faults that got a huge
// page and of those that wanted one and fell back to small pages.
func thpFaults(t *testing.T) (alloc, fallback int) {
	t.Helper()
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Skipf("no /proc/vmstat: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "thp_fault_alloc":
			alloc = n
		case "thp_fault_fallback":
			fallback = n
		}
	}
	return alloc, fallback
}

type node struct {
	pad  [40]uint64
	next *node
}

// TestReserveBacksGrowthWithHugePages: after Reserve, the heap's growth
// into the reserved range is backed by huge pages where the kernel has
// them, and the reservation itself leaves the resident size alone.
func TestReserveBacksGrowthWithHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) || raceEnabled {
		if err := Reserve(64); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Reserve where THP is %q: %v, want ErrUnsupported", mode, err)
		}
		t.Skipf("transparent_hugepage is %q, race detector %v", mode, raceEnabled)
	}
	before := anonHuge(t)
	alloc0, fallback0 := thpFaults(t)
	if err := Reserve(256); err != nil {
		t.Fatal(err)
	}
	// Grow the heap by ~100 MB of small objects.
	var head *node
	for range 300000 {
		head = &node{next: head}
	}
	after := anonHuge(t)
	runtime.KeepAlive(head)
	alloc1, fallback1 := thpFaults(t)
	if alloc1 == alloc0 && fallback1 > fallback0 {
		// The faults asked for huge pages and the kernel had none free:
		// the reservation worked, this machine's memory is fragmented.
		t.Skipf("no free huge pages (%d faults fell back)", fallback1-fallback0)
	}
	// Without the reservation there are none at all.
	if after-before < 8<<10 {
		t.Fatalf("AnonHugePages %d kB → %d kB after growing the heap by 100 MB", before, after)
	}
	if err := Reserve(1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Reserve of less than two huge pages: %v", err)
	}
}

func TestGODEBUGDisablesTHP(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "disablethp=1": true, "madvdontneed=1,disablethp=1": true,
		"disablethp=1,disablethp=0": false, "disablethp=0": false, " disablethp=1 ": true,
	} {
		if got := godebugDisablesTHP(in); got != want {
			t.Errorf("GODEBUG %q: %v, want %v", in, got, want)
		}
	}
}
