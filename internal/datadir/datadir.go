// Package datadir owns the layout of the data directory and its lock. The
// serve process holds an exclusive flock on the lock file for as long as it
// runs; tools that must not run beside it (archive) take the same lock, and
// read-only tools (dump) take none.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// File names inside the data directory. They are part of the on-disk
// contract documented in docs/pms.md.
const (
	LockFile        = "switchboard.lock"
	PMSFile         = "pms.bin"
	HistoricalMB    = "historical-mb"
	IndexBase       = "index-base"
	CoreSocket      = "core.sock"
	DefaultDataDir  = "./data"
	dirPermissions  = 0o750
	lockPermissions = 0o640
)

// ErrLocked means another process (normally a running serve) holds the lock.
var ErrLocked = errors.New("data directory is in use by another switchboard process")

// Lock is a held data-directory lock.
type Lock struct {
	f *os.File
}

// Ensure creates the data directory if it does not exist.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, dirPermissions); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return nil
}

// Acquire takes the exclusive lock on dir without waiting. The lock is
// released by Release or when the process exits, however it exits.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, lockPermissions)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is informational only: the flock is what excludes.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// SyncDir fsyncs a directory so that a rename or create inside it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// WriteFileAtomic replaces path with data durably: temp file, fsync,
// rename, fsync of the directory. A reader sees the old or the new content,
// never a mix, even across a crash.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}
