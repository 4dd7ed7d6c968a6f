package hugepages

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// reserved is set by the first Reserve that did its work: the range it
// marked is the heap's first growth, and a second one would only mark
// memory the heap may already have touched.
var reserved atomic.Bool

// Reserve maps mb megabytes of Go heap (rounded to huge pages, and at
// most half the machine's RAM) and marks them for transparent huge pages.
// It returns ErrUnsupported, having done nothing, where that is not
// possible or not wanted. Call it early, while the heap is small; it does
// its work once per process, and later calls return nil.
func Reserve(mb int) error {
	if mb < 4 {
		return fmt.Errorf("%w: %d MB is less than two huge pages", ErrUnsupported, mb)
	}
	if reserved.Load() {
		return nil
	}
	if raceEnabled {
		return fmt.Errorf("%w: built with the race detector", ErrUnsupported)
	}
	if godebugDisablesTHP(os.Getenv("GODEBUG")) {
		return fmt.Errorf("%w: GODEBUG disablethp=1", ErrUnsupported)
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if !bytes.Contains(mode, []byte("[madvise]")) {
		// "[always]" needs nothing; "[never]" cannot be helped.
		return fmt.Errorf("%w: transparent_hugepage is %s", ErrUnsupported, bytes.TrimSpace(mode))
	}
	n := uint64(mb) << 20
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		n = min(n, uint64(si.Totalram)*uint64(si.Unit)/2)
	}
	n = min(n, math.MaxInt/2) &^ (hugePage - 1)
	if n < 2*hugePage {
		return fmt.Errorf("%w: too little memory", ErrUnsupported)
	}
	// The runtime's out-of-memory is fatal, not an error. Address-space
	// and data limits, strict overcommit: a mapping as large as the one
	// the runtime is about to make shows whether it can, and with room to
	// spare for the runtime's own rounding and metadata.
	for _, r := range []int{unix.RLIMIT_AS, unix.RLIMIT_DATA} {
		var lim unix.Rlimit
		if err := unix.Getrlimit(r, &lim); err != nil || lim.Cur != unix.RLIM_INFINITY {
			return fmt.Errorf("%w: address space or data size limited", ErrUnsupported)
		}
	}
	probe, err := unix.Mmap(-1, 0, int(2*n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("%w: a %d MB mapping is refused: %w", ErrUnsupported, 2*n>>20, err)
	}
	_ = unix.Munmap(probe)
	if !reserved.CompareAndSwap(false, true) {
		return nil
	}
	// A fresh large allocation is a new mapping that the runtime knows to
	// be zero: it does not touch it, and neither does this.
	b := make([]byte, n)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	beg := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(n)) &^ (hugePage - 1)
	if beg < end {
		err = unix.Madvise(b[beg-p:end-p], unix.MADV_HUGEPAGE)
	}
	// b is dead after this: free it now rather than at the next cycle, so
	// that it neither counts towards the heap goal nor waits to be reused.
	runtime.KeepAlive(b)
	runtime.GC()
	if err != nil {
		return fmt.Errorf("hugepages: madvise: %w", err)
	}
	return nil
}

// godebugDisablesTHP reports whether GODEBUG asks the runtime to keep huge
// pages off the heap (disablethp=1; the last setting wins, as in the
// runtime).
func godebugDisablesTHP(godebug string) bool {
	off := false
	for _, kv := range strings.Split(godebug, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "disablethp="); ok {
			off = v == "1"
		}
	}
	return off
}
