package pms

import (
	"fmt"
	"slices"
)

// The mirror is a ring of the last mirrorRecords records exactly as the
// committer wrote them, state updates included. It exists for the state
// updates of records that are still young, which is where nearly all of
// them land (an SM is discharged milliseconds after it was stored when
// its destination is up): such an update is patched into the mirror, and
// once the batch's updates are all in, the patched trailers are written
// with their neighbours in a few contiguous pwrites instead of one each.
// The bytes between two trailers come from the mirror and are the bytes
// already in the file, so rewriting them changes nothing on disk (a sector
// written with the data it holds cannot tear into something else); a
// pwrite per trailer costs a system call each, several µs in the reference
// machine's guest. An update without a known class also reads the record
// from the mirror rather than with a pread.
//
// Only the committer touches the mirror, so it needs no lock. It starts
// empty at Open (mirrorFrom is the first index written after it): records
// recovered from the file are updated the old way until they age out.
const mirrorRecords = 16384 // 4 MiB

// mirrorGap is the most unchanged records between two patched trailers
// that one pwrite still spans: 16 records are one 4 KiB page, which the
// two trailers' pages already make dirty or nearly so.
const mirrorGap = 16

// mirrored reports whether the mirror holds the record at index.
func (s *Store) mirrored(index uint64) bool {
	return index >= s.mirrorFrom && index < s.next && s.next-index <= mirrorRecords
}

// mirrorSlot is the record at index in the mirror (see mirrored).
func (s *Store) mirrorSlot(index uint64) []byte {
	off := (index % mirrorRecords) * RecordSize
	return s.mirror[off : off+RecordSize : off+RecordSize]
}

// flushDirty writes the trailers patched in the mirror since the last
// flush: each run of them with gaps of at most mirrorGap records as one
// pwrite from the first patched trailer to the end of the last, split
// where the ring wraps.
func (s *Store) flushDirty() error {
	d := s.dirty
	slices.Sort(d)
	d = slices.Compact(d)
	for i := 0; i < len(d); {
		j := i + 1
		for j < len(d) && d[j]-d[j-1] <= mirrorGap+1 && d[j]%mirrorRecords > d[i]%mirrorRecords {
			j++
		}
		lo, hi := d[i], d[j-1]
		from := (lo%mirrorRecords)*RecordSize + stateOffset
		to := (hi%mirrorRecords + 1) * RecordSize
		if _, err := s.f.WriteAt(s.mirror[from:to], int64(lo-s.base)*RecordSize+stateOffset); err != nil {
			return ioError{fmt.Errorf("write %s: %w", s.path, err)}
		}
		i = j
	}
	return nil
}
