package pms

import (
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// Reader gives read-only random access to a store file (pms.bin or an
// archive made by Archive) through a read-only shared memory mapping, as seed
// 001 §2.2.3 describes for the dump tool. It takes no lock and never writes,
// so it can be used while a serve process appends to the same file.
//
// A Reader is a snapshot of the file's records at the moment it was opened
// (the zero tail that the store keeps ahead of them is not part of it):
// records appended later are not seen, while state trailers rewritten in
// place by the store (an active record being discharged) may or may not be
// seen, since the mapping is shared with the page cache. A state trailer
// caught half-written fails its CRC, which Record reports as ErrStateCRC.
//
// The mapping stays valid if pms.bin is renamed over (archive) or deleted,
// because it holds the old file. Only a truncation of the same file, which
// the store does when it cuts a torn tail on startup, can take pages away
// from under the mapping; touching them then raises SIGBUS. Callers that
// read while a server may be starting should use debug.SetPanicOnFault (the
// dump package does).
type Reader struct {
	path string
	data []byte // the mapping, a whole number of records; nil when empty
	n    int
	base uint64
}

// OpenReader maps the store file at path. An empty file, or one that is all
// zeros (the zero tail of a store that holds no record yet), is a valid,
// empty store. A size that is not a multiple of RecordSize is rounded down: the
// partial record is a write in progress (or a torn tail that the store will
// cut when it next starts) and is not shown. A file whose first record does
// not start with the record magic is refused with an error wrapping
// ErrMagic, so that the dump tool does not print garbage decoded from some
// other file.
func OpenReader(path string) (*Reader, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The mapping outlives the descriptor, so the file is closed as soon as
	// it is mapped and a Reader holds no descriptor.
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size() - st.Size()%RecordSize
	r := &Reader{path: path, n: int(size / RecordSize)}
	if size == 0 {
		return r, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	r.data = data
	first := data[:RecordSize]
	if allZero(first) {
		// A store that holds no record yet is all zero tail (or its first
		// write never completed, which serve cuts when it starts): either
		// way it is empty.
		r.Close()
		return &Reader{path: path}, nil
	}
	if first[0] != magic0 || first[1] != magic1 {
		r.Close()
		return nil, fmt.Errorf("%s: not a switchboard message store: %w", path, ErrMagic)
	}
	r.base = PeekIndex(first)
	r.n = recordsEnd(data, r.n)
	// A binary search touches a few pages far apart; the kernel's default
	// read-around would fetch 128 KiB for each of them, which on a cold
	// cache makes a search several times slower. Callers that then read a
	// range in order say so with Sequential. Both are only advice.
	_ = unix.Madvise(data, unix.MADV_RANDOM)
	return r, nil
}

// Path is the file the Reader maps.
func (r *Reader) Path() string { return r.path }

// Len is the number of whole records in the snapshot.
func (r *Reader) Len() int { return r.n }

// Raw returns the RecordSize bytes at position i (0-based within the file;
// it panics unless 0 <= i < Len()).
// The slice aliases the read-only mapping: it must not be written to (that
// faults), must not be used after Close, and may change under the caller if
// the store rewrites the record's state trailer. Copy it to keep it.
func (r *Reader) Raw(i int) []byte {
	return r.data[i*RecordSize : (i+1)*RecordSize : (i+1)*RecordSize]
}

// Record decodes the record at position i into rec. Errors name the file,
// the position and the absolute index the position should hold (Base()+i,
// since a corrupt record's own index field cannot be trusted). On an error
// wrapping ErrStateCRC the body fields of rec are valid and rec.State is
// zero, as with Decode.
func (r *Reader) Record(i int, rec *Record) error {
	if i < 0 || i >= r.n {
		return fmt.Errorf("%s: position %d out of range [0, %d)", r.path, i, r.n)
	}
	if err := Decode(r.Raw(i), rec); err != nil {
		return fmt.Errorf("%s: record at position %d (index %d): %w", r.path, i, r.base+uint64(i), err)
	}
	return nil
}

// Base is the absolute index of the record at position 0, read from that
// record (records carry their own index, so this is right for pms.bin after
// archive runs and for archive files alike); 0 for an empty file.
func (r *Reader) Base() uint64 { return r.base }

// SearchTime returns the first position whose entry time is at or after t,
// or Len() if there is none. The store writes records in non-decreasing
// entry-time order, so a binary search over the mapping touches only about
// log2(Len) pages. A zero t returns 0.
func (r *Reader) SearchTime(t time.Time) int {
	if t.IsZero() {
		return 0
	}
	target := t.UnixNano()
	return sort.Search(r.n, func(i int) bool {
		return PeekEntry(r.Raw(i)) >= target
	})
}

// Sequential advises the kernel that positions [from, to) are about to be
// read in order, so that it reads ahead aggressively there. It is only
// advice; out-of-range bounds are clamped.
func (r *Reader) Sequential(from, to int) {
	from, to = max(from, 0), min(to, r.n)
	if from >= to {
		return
	}
	// madvise wants a page-aligned start.
	off := from * RecordSize &^ (os.Getpagesize() - 1)
	_ = unix.Madvise(r.data[off:to*RecordSize], unix.MADV_SEQUENTIAL)
}

// Close unmaps the file. Slices returned by Raw become invalid.
func (r *Reader) Close() error {
	if r.data == nil {
		return nil
	}
	err := unix.Munmap(r.data)
	r.data = nil
	r.n = 0
	if err != nil {
		return fmt.Errorf("munmap %s: %w", r.path, err)
	}
	return nil
}

// recordsEnd returns the number of records in a mapping of n positions that
// may end in a zero tail (docs/pms.md): the first position whose magic is
// zero, found without touching the rest of the file. A file without a tail
// costs one look at its last record; otherwise the search goes back from
// the end in doubling steps until it finds a record, then bisects, so it
// reads a few pages near the end even in a file of ten million records.
// Records are contiguous up to the tail in a healthy file; around a torn
// write (before serve has cut it) any boundary found is as good as another.
func recordsEnd(data []byte, n int) int {
	isRecord := func(i int) bool {
		b := data[i*RecordSize:]
		return b[0] != 0 || b[1] != 0
	}
	if n == 0 || isRecord(n-1) {
		return n
	}
	// Invariant: position hi is zero tail; lo is a record or -1.
	hi, step := n-1, 1
	lo := hi - step
	for lo >= 0 && !isRecord(lo) {
		hi = lo
		step *= 2
		lo = hi - step
	}
	lo = max(lo, -1)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if isRecord(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
