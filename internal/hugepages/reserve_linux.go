package hugepages

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// reserved is set by the first Reserve that did its work: the range it
// marked is the heap's first growth, and a second one would only mark
// memory the heap may already have touched.
var reserved atomic.Bool

// Reserve maps n bytes of Go heap (rounded to huge pages, and at most half
// the machine's RAM, which the kernel's overcommit heuristic always lets a
// mapping have) and marks them for transparent huge pages. It returns
// ErrUnsupported, having done nothing, where that is not possible or not
// needed. Call it early, while the heap is small; it does its work once
// per process, and later calls return nil.
func Reserve(n int) error {
	if n < 2*hugePage {
		return fmt.Errorf("%w: %d bytes is less than two huge pages", ErrUnsupported, n)
	}
	if reserved.Load() {
		return nil
	}
	if raceEnabled {
		return fmt.Errorf("%w: built with the race detector", ErrUnsupported)
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if !bytes.Contains(mode, []byte("[madvise]")) {
		// "[always]" needs nothing; "[never]" cannot be helped.
		return fmt.Errorf("%w: transparent_hugepage is %s", ErrUnsupported, bytes.TrimSpace(mode))
	}
	// The runtime's out-of-memory is fatal, not an error: do not reserve
	// where the address space or the commit charge is limited.
	if oc, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err != nil || bytes.HasPrefix(oc, []byte("2")) {
		return fmt.Errorf("%w: strict overcommit", ErrUnsupported)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_AS, &lim); err != nil || lim.Cur != unix.RLIM_INFINITY {
		return fmt.Errorf("%w: address space limited", ErrUnsupported)
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		n = min(n, int(uint64(si.Totalram)*uint64(si.Unit)/2))
	}
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
