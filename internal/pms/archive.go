package pms

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"switchboard/internal/datadir"
)

// ErrArchiveRefused wraps every reason Archive declines to run; nothing has
// been changed when it is returned.
var ErrArchiveRefused = errors.New("pms: archive refused")

// ArchiveResult describes a completed archive run.
type ArchiveResult struct {
	File       string // the archive file written
	Records    int    // records moved into it
	FirstIndex uint64 // absolute index of its first record
	LastIndex  uint64 // absolute index of its last record
}

// archiveTempPattern names the temporary file that becomes the new pms.bin.
// A crash can leave one behind; the next run removes it (it holds only a
// copy of records that are still in pms.bin).
const archiveTempPattern = ".pms.bin.archive-*.tmp"

// archiveChunk is how much is copied or compared at a time.
const archiveChunk = 1 << 20

// Archive moves the first mb megabytes (mb*RecordsPerMB records) of the
// store in dir into the archive file out, and shortens pms.bin accordingly:
// the offline storage procedure of seed 001 §2.2.2, done without dd and
// without a window in which a crash can lose a record. The caller must hold
// the data-directory lock, so that no serve process writes meanwhile. An
// empty out means dir/pms-archive-<first>-<last>.bin. An existing out is
// never overwritten.
//
// Archive refuses (ErrArchiveRefused, nothing changed) unless mb is at least
// 1, at most the historical-mb count, and every record in the range decodes
// with both CRCs correct, carries the index of its position, and is
// historical. It checks the records themselves because historical-mb is only
// a startup hint, and moving an active record out of pms.bin would silently
// drop an undelivered message.
//
// The steps, and what a crash after each leaves behind:
//
//  1. Write the archive file (O_EXCL), fsync it and its directory, drop it
//     from the page cache, and compare it byte for byte with pms.bin.
//     Crash: pms.bin is untouched; a stray archive file (possibly partial)
//     remains. Re-running refuses to overwrite it: the operator deletes it,
//     which is safe since pms.bin still has every record, and runs again.
//  2. Write the rest of pms.bin to a temporary file in dir and fsync it.
//     Crash: as above, plus a temporary file the next run removes.
//  3. Write historical-mb = old-mb (atomic replace). Crash: pms.bin is the
//     old file and historical-mb undercounts it, which is safe: the store
//     only scans more records on startup, and recomputes and rewrites the
//     count. Writing this before the rename matters: after the rename the
//     old count would overcount the new file, and the store would skip its
//     first megabytes, active records included.
//  4. Write index-base = old base + mb*RecordsPerMB (atomic replace).
//     Crash: pms.bin is the old file, whose first record (we checked it
//     decodes) carries its own index; the store and Reader take the index
//     from that record, so the early index-base is ignored. It must be
//     written before the rename because when the new pms.bin is empty (all
//     of it was archived) index-base is the only record of where numbering
//     continues: if the rename were durable and index-base not, the store
//     would hand out the archived indexes again.
//  5. Rename the temporary file over pms.bin and fsync dir. Crash before
//     the rename is durable: the state of step 4. After: the new layout,
//     complete, since both auxiliary files were already written.
//
// No step deletes data that is not already durable somewhere else, so at
// every point each record is in pms.bin, in the archive, or both.
func Archive(dir string, mb uint64, out string) (res ArchiveResult, err error) {
	pmsPath := filepath.Join(dir, datadir.PMSFile)
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrArchiveRefused, fmt.Sprintf(format, args...))
	}
	if mb == 0 {
		return res, refuse("archive at least one megabyte")
	}
	removeStaleTemps(dir)

	hist, err := ReadHistoricalMB(dir)
	if err != nil {
		return res, err
	}
	if mb > hist {
		return res, refuse("%d MB requested but %s says only %d MB of %s are historical", mb, datadir.HistoricalMB, hist, pmsPath)
	}

	src, err := os.Open(pmsPath)
	if err != nil {
		return res, fmt.Errorf("open %s: %w", pmsPath, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return res, fmt.Errorf("stat %s: %w", pmsPath, err)
	}
	// Compared in megabytes first so that a huge count cannot overflow.
	if mb > uint64(st.Size())>>20 {
		return res, refuse("%s holds %d bytes, less than %d MB", pmsPath, st.Size(), mb)
	}
	records := mb * RecordsPerMB
	archBytes := int64(records) * RecordSize

	base, err := checkHistorical(src, pmsPath, records)
	if err != nil {
		return res, err
	}
	res = ArchiveResult{Records: int(records), FirstIndex: base, LastIndex: base + records - 1}
	if out == "" {
		out = filepath.Join(dir, fmt.Sprintf("pms-archive-%d-%d.bin", res.FirstIndex, res.LastIndex))
	}
	res.File = out

	// Step 1: the archive file.
	if err := writeArchiveFile(src, pmsPath, out, archBytes); err != nil {
		return ArchiveResult{}, err
	}
	renamed := false
	defer func() {
		// Until the rename pms.bin still holds every record, so a failed
		// run takes its archive file back and can simply be repeated. After
		// the rename the archive may be the only copy: it always stays.
		if err != nil && !renamed {
			os.Remove(out)
		}
	}()

	// Step 2: the remainder, copied as it is (a partial record at the end
	// included: cutting a torn tail is the store's decision on startup).
	tmp, err := os.CreateTemp(dir, archiveTempPattern)
	if err != nil {
		return ArchiveResult{}, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if !renamed {
			os.Remove(tmpName)
		}
	}()
	restBytes := st.Size() - archBytes
	if err := copyRange(tmp, src, archBytes, restBytes); err != nil {
		tmp.Close()
		return ArchiveResult{}, fmt.Errorf("copy the rest of %s to %s: %w", pmsPath, tmpName, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return ArchiveResult{}, fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return ArchiveResult{}, fmt.Errorf("fsync %s: %w", tmpName, err)
	}
	if err := compareFiles(tmp, tmpName, 0, src, pmsPath, archBytes, restBytes); err != nil {
		tmp.Close()
		return ArchiveResult{}, err
	}
	if err := tmp.Close(); err != nil {
		return ArchiveResult{}, fmt.Errorf("close %s: %w", tmpName, err)
	}

	// Steps 3 and 4: auxiliary files, before the rename (see above).
	if err := WriteHistoricalMB(dir, hist-mb); err != nil {
		return ArchiveResult{}, err
	}
	if err := WriteIndexBase(dir, base+records); err != nil {
		return ArchiveResult{}, err
	}

	// Step 5: the switch.
	if err := os.Rename(tmpName, pmsPath); err != nil {
		return ArchiveResult{}, fmt.Errorf("replace %s: %w", pmsPath, err)
	}
	renamed = true
	if err := datadir.SyncDir(dir); err != nil {
		return ArchiveResult{}, err
	}
	return res, nil
}

// checkHistorical verifies the first n records of the store file and returns
// the absolute index of the first one.
func checkHistorical(f *os.File, path string, n uint64) (uint64, error) {
	buf := make([]byte, archiveChunk)
	var rec Record
	var base uint64
	for pos := uint64(0); pos < n; {
		cnt := min(n-pos, uint64(len(buf)/RecordSize))
		b := buf[:cnt*RecordSize]
		if _, err := f.ReadAt(b, int64(pos)*RecordSize); err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		for i := range cnt {
			p := pos + i
			if err := Decode(b[i*RecordSize:(i+1)*RecordSize], &rec); err != nil {
				return 0, fmt.Errorf("%w: %s: record at position %d: %w", ErrArchiveRefused, path, p, err)
			}
			if p == 0 {
				base = rec.Index
			}
			if rec.Index != base+p {
				return 0, fmt.Errorf("%w: %s: record at position %d has index %d, want %d", ErrArchiveRefused, path, p, rec.Index, base+p)
			}
			if !rec.State.Disposition.Historical() {
				return 0, fmt.Errorf("%w: %s: record %d (position %d) is still active", ErrArchiveRefused, path, rec.Index, p)
			}
		}
		pos += cnt
	}
	return base, nil
}

// writeArchiveFile copies the first n bytes of src to a new file at out,
// makes it durable, and verifies it against src from the disk.
func writeArchiveFile(src *os.File, srcPath, out string, n int64) (err error) {
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: archive file %s already exists", ErrArchiveRefused, out)
	}
	if err != nil {
		return fmt.Errorf("create archive %s: %w", out, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", out, cerr)
		}
		if err != nil {
			// Our own half-written file: nothing depends on it yet.
			os.Remove(out)
		}
	}()
	if err := copyRange(f, src, 0, n); err != nil {
		return fmt.Errorf("write archive %s: %w", out, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", out, err)
	}
	if err := datadir.SyncDir(filepath.Dir(out)); err != nil {
		return err
	}
	// Drop the freshly written pages so that the comparison below reads
	// what reached the disk rather than what is still in memory. It is
	// advice: where it is ignored the check still catches copying bugs.
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	return compareFiles(f, out, 0, src, srcPath, 0, n)
}

// copyRange copies n bytes of src starting at off to the current position
// of dst.
func copyRange(dst io.Writer, src *os.File, off, n int64) error {
	buf := make([]byte, archiveChunk)
	_, err := io.CopyBuffer(dst, io.NewSectionReader(src, off, n), buf)
	return err
}

// compareFiles checks that n bytes of a at aOff equal n bytes of b at bOff.
func compareFiles(a *os.File, aPath string, aOff int64, b *os.File, bPath string, bOff, n int64) error {
	ba := make([]byte, archiveChunk)
	bb := make([]byte, archiveChunk)
	for done := int64(0); done < n; {
		cnt := min(n-done, archiveChunk)
		if _, err := a.ReadAt(ba[:cnt], aOff+done); err != nil {
			return fmt.Errorf("verify: read %s: %w", aPath, err)
		}
		if _, err := b.ReadAt(bb[:cnt], bOff+done); err != nil {
			return fmt.Errorf("verify: read %s: %w", bPath, err)
		}
		if !bytes.Equal(ba[:cnt], bb[:cnt]) {
			return fmt.Errorf("verify: %s differs from %s near byte %d", aPath, bPath, bOff+done)
		}
		done += cnt
	}
	return nil
}

// removeStaleTemps deletes temporary files left by an archive run that
// crashed before its rename. They are copies of records still in pms.bin,
// and the caller holds the lock, so no run in progress owns them.
func removeStaleTemps(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, archiveTempPattern))
	for _, p := range stale {
		os.Remove(p)
	}
}
