package pms

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/internal/datadir"
)

// archiveFixture writes a store of historical then active records into a
// new data directory with the given historical-mb, and returns the
// directory and the original file content.
func archiveFixture(t *testing.T, historical, active int, histMB uint64) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, datadir.PMSFile)
	writeSynthetic(t, path, historical, active, synthStart, time.Millisecond)
	if err := WriteHistoricalMB(dir, histMB); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, orig
}

func readAux(t *testing.T, dir string) (hist, base uint64) {
	t.Helper()
	hist, err := ReadHistoricalMB(dir)
	if err != nil {
		t.Fatal(err)
	}
	base, err = ReadIndexBase(dir)
	if err != nil {
		t.Fatal(err)
	}
	return hist, base
}

func TestArchiveHappyPath(t *testing.T) {
	const mb = RecordsPerMB
	dir, orig := archiveFixture(t, 2*mb+10, 100, 2)

	res, err := Archive(dir, 1, "")
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	want := ArchiveResult{File: filepath.Join(dir, "pms-archive-0-4095.bin"), Records: mb, FirstIndex: 0, LastIndex: mb - 1}
	if res != want {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	arch, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(arch, orig[:mb*RecordSize]) {
		t.Fatal("archive is not the first megabyte of pms.bin")
	}
	rest, err := os.ReadFile(filepath.Join(dir, datadir.PMSFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, orig[mb*RecordSize:]) {
		t.Fatal("new pms.bin is not the rest of the old one")
	}
	if hist, base := readAux(t, dir); hist != 1 || base != mb {
		t.Fatalf("historical-mb %d index-base %d, want 1 %d", hist, base, mb)
	}
	r := openTestReader(t, filepath.Join(dir, datadir.PMSFile))
	if r.Base() != mb || r.Len() != mb+110 {
		t.Fatalf("new pms.bin: Base %d Len %d", r.Base(), r.Len())
	}
	ra := openTestReader(t, res.File)
	if ra.Base() != 0 || ra.Len() != mb {
		t.Fatalf("archive: Base %d Len %d", ra.Base(), ra.Len())
	}

	// A second run continues the numbering, to a file of our choosing.
	out := filepath.Join(t.TempDir(), "second.bin")
	res, err = Archive(dir, 1, out)
	if err != nil {
		t.Fatalf("second Archive: %v", err)
	}
	if res.File != out || res.FirstIndex != mb || res.LastIndex != 2*mb-1 {
		t.Fatalf("second result %+v", res)
	}
	if arch, _ := os.ReadFile(out); !bytes.Equal(arch, orig[mb*RecordSize:2*mb*RecordSize]) {
		t.Fatal("second archive differs from the second megabyte")
	}
	if hist, base := readAux(t, dir); hist != 0 || base != 2*mb {
		t.Fatalf("historical-mb %d index-base %d, want 0 %d", hist, base, 2*mb)
	}
	// No temporary files are left behind.
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// Archiving everything leaves an empty pms.bin, and index-base is then the
// only record of where numbering continues.
func TestArchiveWholeFile(t *testing.T) {
	dir, _ := archiveFixture(t, RecordsPerMB, 0, 1)
	if _, err := Archive(dir, 1, ""); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, datadir.PMSFile))
	if err != nil || st.Size() != 0 {
		t.Fatalf("pms.bin: %v, %v", st, err)
	}
	if hist, base := readAux(t, dir); hist != 0 || base != RecordsPerMB {
		t.Fatalf("historical-mb %d index-base %d", hist, base)
	}
}

// assertUnchanged checks that a refused archive changed nothing.
func assertUnchanged(t *testing.T, dir string, orig []byte, histMB uint64) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, datadir.PMSFile))
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("pms.bin changed (%v)", err)
	}
	if hist, base := readAux(t, dir); hist != histMB || base != 0 {
		t.Fatalf("historical-mb %d index-base %d changed", hist, base)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch e.Name() {
		case datadir.PMSFile, datadir.HistoricalMB:
		default:
			t.Fatalf("refused archive left %s behind", e.Name())
		}
	}
}

func TestArchiveRefusals(t *testing.T) {
	t.Run("zero", func(t *testing.T) {
		dir, orig := archiveFixture(t, 10, 0, 0)
		if _, err := Archive(dir, 0, ""); !errors.Is(err, ErrArchiveRefused) {
			t.Fatalf("err = %v", err)
		}
		assertUnchanged(t, dir, orig, 0)
	})
	t.Run("more than historical-mb", func(t *testing.T) {
		dir, orig := archiveFixture(t, 2*RecordsPerMB, 0, 1)
		_, err := Archive(dir, 2, "")
		if !errors.Is(err, ErrArchiveRefused) || !strings.Contains(err.Error(), "historical") {
			t.Fatalf("err = %v", err)
		}
		assertUnchanged(t, dir, orig, 1)
	})
	t.Run("active record in range", func(t *testing.T) {
		// historical-mb claims a megabyte that still holds active records.
		dir, orig := archiveFixture(t, 100, RecordsPerMB, 1)
		_, err := Archive(dir, 1, "")
		if !errors.Is(err, ErrArchiveRefused) || !strings.Contains(err.Error(), "record 100 (position 100) is still active") {
			t.Fatalf("err = %v", err)
		}
		assertUnchanged(t, dir, orig, 1)
	})
	t.Run("file shorter than mb", func(t *testing.T) {
		dir, orig := archiveFixture(t, 100, 0, 1)
		if _, err := Archive(dir, 1, ""); !errors.Is(err, ErrArchiveRefused) {
			t.Fatalf("err = %v", err)
		}
		assertUnchanged(t, dir, orig, 1)
	})
	t.Run("CRC error in range", func(t *testing.T) {
		dir, orig := archiveFixture(t, RecordsPerMB+5, 0, 1)
		bad := append([]byte(nil), orig...)
		bad[1000*RecordSize+50] ^= 0x10
		if err := os.WriteFile(filepath.Join(dir, datadir.PMSFile), bad, 0o640); err != nil {
			t.Fatal(err)
		}
		_, err := Archive(dir, 1, "")
		if !errors.Is(err, ErrArchiveRefused) || !errors.Is(err, ErrBodyCRC) || !strings.Contains(err.Error(), "position 1000") {
			t.Fatalf("err = %v", err)
		}
		assertUnchanged(t, dir, bad, 1)
	})
	t.Run("archive file exists", func(t *testing.T) {
		dir, orig := archiveFixture(t, RecordsPerMB, 0, 1)
		out := filepath.Join(t.TempDir(), "existing.bin")
		if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Archive(dir, 1, out); !errors.Is(err, ErrArchiveRefused) || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(out); string(got) != "precious" {
			t.Fatal("existing file overwritten")
		}
		assertUnchanged(t, dir, orig, 1)
	})
}

// A temporary file left by a crashed run is removed by the next one.
func TestArchiveRemovesStaleTemp(t *testing.T) {
	dir, _ := archiveFixture(t, RecordsPerMB, 0, 1)
	stale := filepath.Join(dir, ".pms.bin.archive-123.tmp")
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Archive(dir, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp still there: %v", err)
	}
}

// The store opens what Archive leaves, at the end and at the crash points
// the comment on Archive analyses, with every active record and the right
// next index.
func TestArchiveThenStoreOpens(t *testing.T) {
	const mb = RecordsPerMB
	check := func(t *testing.T, dir string, wantActive int, wantNext uint64) {
		t.Helper()
		active := 0
		s, err := Open(Options{Dir: dir}, func(r *Record) error { active++; return nil })
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if st := s.Stats(); active != wantActive || st.Next != wantNext {
			t.Fatalf("active %d next %d, want %d %d", active, st.Next, wantActive, wantNext)
		}
	}
	t.Run("after archive", func(t *testing.T) {
		dir, _ := archiveFixture(t, 2*mb+10, 100, 2)
		if _, err := Archive(dir, 1, ""); err != nil {
			t.Fatal(err)
		}
		check(t, dir, 100, 2*mb+110)
	})
	t.Run("everything archived", func(t *testing.T) {
		dir, _ := archiveFixture(t, mb, 0, 1)
		if _, err := Archive(dir, 1, ""); err != nil {
			t.Fatal(err)
		}
		check(t, dir, 0, mb)
	})
	t.Run("crash before the rename", func(t *testing.T) {
		// Steps 3 and 4 done, pms.bin still the old file.
		dir, _ := archiveFixture(t, 2*mb+10, 100, 2)
		if err := WriteHistoricalMB(dir, 1); err != nil {
			t.Fatal(err)
		}
		if err := WriteIndexBase(dir, mb); err != nil {
			t.Fatal(err)
		}
		check(t, dir, 100, 2*mb+110)
	})
}
