// Package hugepages lets the Go heap grow into memory backed by transparent
// huge pages on Linux systems where those are given only on request
// (transparent_hugepage/enabled = madvise, the default of many
// distributions). The Go runtime does not ask for them for the heap, and
// on a virtual machine a page fault can cost 10–15 µs per 4 KiB page
// (docs/benchmarks.md): a backlog of a million SMs growing the heap by
// ~1 GB would then spend seconds of CPU in faults. With huge pages the
// same growth takes a fault per 2 MiB.
//
// Reserve makes the runtime map a range of heap address space at once,
// marks that range with madvise(MADV_HUGEPAGE), and gives it back to the
// heap unused: nothing is touched, so the resident size does not change,
// and the heap's later growth into the range is backed by huge pages when
// the kernel has them. The Go runtime keeps heap mappings for the life of
// the process, and its release of unused memory (MADV_DONTNEED) keeps the
// mark, so one call at startup covers the heap's first growth, up to the
// size asked for.
//
// The runtime leaves this out on purpose, and the reasons hold here too:
// a fault in the marked range may wait for the kernel to compact memory,
// and khugepaged may collapse ranges the runtime has released, so the
// resident size can stay near its peak. Reserve is for a server whose heap
// is mostly a backlog that grows under load (docs/operations.md).
package hugepages

import "errors"

// ErrUnsupported means the system cannot or need not do it: not Linux,
// transparent huge pages disabled or already given to every mapping, or
// a limit that a reservation of this size could break.
var ErrUnsupported = errors.New("hugepages: not available here")
