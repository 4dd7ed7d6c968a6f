package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/internal/datadir"
	"switchboard/internal/pms"
)

var storeT0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// writeStore writes historical then active SM records (one a second from
// storeT0, text "hello") as dir/pms.bin, and sets historical-mb.
func writeStore(t *testing.T, dir string, historical, active int, histMB uint64) {
	t.Helper()
	n := historical + active
	buf := make([]byte, n*pms.RecordSize)
	for i := range n {
		r := &pms.Record{
			Index: uint64(i), Kind: pms.KindSM, Entry: storeT0.Add(time.Duration(i) * time.Second),
			SrcClass: pms.ClassLocal, DstClass: pms.ClassGSM,
			UDL: 5, UD: []byte{0xE8, 0x32, 0x9B, 0xFD, 0x06},
			Src: pms.Address{TON: 1, NPI: 1, Digits: "12025550100"},
			Dst: pms.Address{TON: 0, NPI: 1, Digits: "619555" + string(rune('0'+i%10)) + "000"},
		}
		if i < historical {
			r.State.Disposition = pms.Delivered
		}
		if err := pms.Encode(buf[i*pms.RecordSize:], r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.PMSFile), buf, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := pms.WriteHistoricalMB(dir, histMB); err != nil {
		t.Fatal(err)
	}
}

func testEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, &out, &errb
}

func TestCmdDump(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 20, 5, 0)
	ctx := context.Background()

	env, out, _ := testEnv()
	if err := cmdDump(ctx, env, []string{"--data", dir}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 26 {
		t.Fatalf("want header + 25 rows, got %d lines:\n%s", lines, out)
	}
	if strings.Contains(out.String(), "hello") {
		t.Fatal("text printed without --show-text")
	}

	env, out, _ = testEnv()
	args := []string{"--data", dir, "--json", "--since", "2024-03-01T12:00:10Z", "--until", "1709294415",
		"--number", "2025550100", "--dst", "6195553000", "--class", "gsm", "--state", "historical", "--show-text"}
	if err := cmdDump(ctx, env, args); err != nil {
		t.Fatal(err)
	}
	// Seconds 10..14, destination digit 3: only index 13.
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"index":13,`) || !strings.Contains(got, `"text":"hello"`) {
		t.Fatalf("filtered dump:\n%s", got)
	}

	env, out, _ = testEnv()
	if err := cmdDump(ctx, env, []string{"--data", dir, "--json", "--state", "active", "--count", "2"}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, "\n") != 2 || !strings.Contains(got, `"index":20,`) || !strings.Contains(got, `"index":21,`) {
		t.Fatalf("active dump:\n%s", got)
	}

	// --file reads another store file, e.g. an archive.
	other := t.TempDir()
	writeStore(t, other, 3, 0, 0)
	env, out, _ = testEnv()
	if err := cmdDump(ctx, env, []string{"--data", dir, "--file", filepath.Join(other, datadir.PMSFile), "--json"}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("--file dump has %d rows", n)
	}
}

func TestCmdDumpErrors(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 2, 0, 0)
	ctx := context.Background()
	for _, args := range [][]string{
		{"--state", "zombie"},
		{"--class", "pigeon"},
		{"--since", "yesterday"},
		{"--until", "2024-13-01"},
		{"--count", "-1"},
		{"extra"},
	} {
		env, _, _ := testEnv()
		if err := cmdDump(ctx, env, append([]string{"--data", dir}, args...)); !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	env, _, _ := testEnv()
	err := cmdDump(ctx, env, []string{"--data", t.TempDir()})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), datadir.PMSFile) {
		t.Fatalf("missing store: %v", err)
	}
	foreign := filepath.Join(t.TempDir(), "x.bin")
	if err := os.WriteFile(foreign, bytes.Repeat([]byte("x"), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdDump(ctx, env, []string{"--file", foreign}); !errors.Is(err, pms.ErrMagic) {
		t.Fatalf("foreign file: %v", err)
	}
}

// A store whose records fail their CRC still dumps, with a warning.
func TestCmdDumpBadRecordWarns(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 3, 0, 0)
	path := filepath.Join(dir, datadir.PMSFile)
	data, _ := os.ReadFile(path)
	data[pms.RecordSize+100] ^= 1
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	env, out, errb := testEnv()
	if err := cmdDump(context.Background(), env, []string{"--data", dir}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "BAD RECORD at position 1") || !strings.Contains(errb.String(), "1 of 3 records") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, errb)
	}
}

func TestParseTime(t *testing.T) {
	cases := map[string]time.Time{
		"":                          {},
		"2024-03-01":                time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		"2024-03-01T12:30:05":       time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC),
		"2024-03-01T12:30:05Z":      time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC),
		"2024-03-01T12:30:05.25Z":   time.Date(2024, 3, 1, 12, 30, 5, 250e6, time.UTC),
		"2024-03-01T14:30:05+02:00": time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC),
		"1709296205":                time.Date(2024, 3, 1, 12, 30, 5, 0, time.UTC),
		"0":                         time.Unix(0, 0),
	}
	for in, want := range cases {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"now", "2024-3-1", "12:00", "2024-03-01 12:00:00x"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) succeeded", bad)
		}
	}
}

func TestCmdArchive(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, pms.RecordsPerMB+10, 5, 1)
	ctx := context.Background()

	env, out, _ := testEnv()
	if err := cmdArchive(ctx, env, []string{"--data", dir, "--mb", "1"}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "pms-archive-0-4095.bin")
	want := "archived 4096 records (index 0 to 4095) to " + archive + "; pms.bin now starts at index 4096\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	// Both halves dump, with their own numbering.
	env, out, _ = testEnv()
	if err := cmdDump(ctx, env, []string{"--file", archive, "--json", "--count", "1"}); err != nil || !strings.Contains(out.String(), `"index":0,`) {
		t.Fatalf("dump archive: %v\n%s", err, out)
	}
	env, out, _ = testEnv()
	if err := cmdDump(ctx, env, []string{"--data", dir, "--json"}); err != nil || strings.Count(out.String(), "\n") != 15 || !strings.HasPrefix(out.String(), `{"position":0,"index":4096,`) {
		t.Fatalf("dump rest: %v\n%s", err, out)
	}

	// historical-mb is now 0: nothing more may be archived.
	env, _, _ = testEnv()
	if err := cmdArchive(ctx, env, []string{"--data", dir, "--mb", "1"}); !errors.Is(err, pms.ErrArchiveRefused) {
		t.Fatalf("second archive: %v", err)
	}
}

func TestCmdArchiveRefusals(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, pms.RecordsPerMB, 0, 1)
	ctx := context.Background()

	env, _, _ := testEnv()
	if err := cmdArchive(ctx, env, []string{"--data", dir}); !errors.Is(err, errUsage) {
		t.Fatalf("without --mb: %v", err)
	}
	if err := cmdArchive(ctx, env, []string{"--data", dir, "--mb", "2"}); !errors.Is(err, pms.ErrArchiveRefused) {
		t.Fatalf("--mb 2: %v", err)
	}

	// While serve (here: anyone) holds the lock, archive refuses.
	lock, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = cmdArchive(ctx, env, []string{"--data", dir, "--mb", "1"})
	lock.Release()
	if !errors.Is(err, datadir.ErrLocked) || !strings.Contains(err.Error(), "serve is running") {
		t.Fatalf("locked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pms-archive-0-4095.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("archive written while locked: %v", err)
	}
	// Once the lock is free it runs.
	if err := cmdArchive(ctx, env, []string{"--data", dir, "--mb", "1"}); err != nil {
		t.Fatal(err)
	}
}
