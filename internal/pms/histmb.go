package pms

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"switchboard/internal/datadir"
)

// The historical-mb file (seed 001 §2.2.1) holds one ASCII line: how many
// whole megabytes at the start of pms.bin hold only historical records. The
// index-base file holds one ASCII line: the absolute index of the first
// record of pms.bin, which is 0 until an archive run removes megabytes from
// the front. Both are replaced atomically.

// ErrBadAuxFile means historical-mb or index-base exists but does not hold a
// single non-negative decimal number.
var ErrBadAuxFile = errors.New("malformed auxiliary file")

func readNumberFile(path string) (uint64, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimSpace(string(data))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || len(data) > 32 {
		return 0, true, fmt.Errorf("%s: %w: want one decimal number", path, ErrBadAuxFile)
	}
	return n, true, nil
}

func writeNumberFile(path string, n uint64) error {
	return datadir.WriteFileAtomic(path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o640)
}

// ReadHistoricalMB returns the historical megabyte count of the store in
// dir. A missing file reads as 0; a garbled one is an error wrapping
// ErrBadAuxFile, which the store treats as 0 with a warning.
func ReadHistoricalMB(dir string) (uint64, error) {
	n, _, err := readNumberFile(filepath.Join(dir, datadir.HistoricalMB))
	return n, err
}

// WriteHistoricalMB atomically replaces the historical-mb file.
func WriteHistoricalMB(dir string, n uint64) error {
	return writeNumberFile(filepath.Join(dir, datadir.HistoricalMB), n)
}

// ReadIndexBase returns the absolute index of the first record of pms.bin
// as recorded by the last archive run (0 if there was none).
func ReadIndexBase(dir string) (uint64, error) {
	n, _, err := readNumberFile(filepath.Join(dir, datadir.IndexBase))
	return n, err
}

// WriteIndexBase atomically replaces the index-base file.
func WriteIndexBase(dir string, n uint64) error {
	return writeNumberFile(filepath.Join(dir, datadir.IndexBase), n)
}

// ActiveEstimate bounds the number of active records a store in dir holds:
// the records after its historical megabytes. It reads only sizes, so a
// caller can size its tables before Open; it is 0 when anything is amiss.
func ActiveEstimate(dir string) int {
	fi, err := os.Stat(filepath.Join(dir, datadir.PMSFile))
	if err != nil {
		return 0
	}
	n := uint64(fi.Size() / RecordSize)
	h, err := ReadHistoricalMB(dir)
	if err != nil || h*RecordsPerMB > n {
		h = 0
	}
	return int(n - h*RecordsPerMB)
}
