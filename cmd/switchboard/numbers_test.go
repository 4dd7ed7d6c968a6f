package main

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/internal/numbering"
)

// numbersCLI runs one command line in-process against a data directory and
// returns the exit status and both streams.
type numbersCLI struct {
	t    *testing.T
	data string
}

func (c numbersCLI) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code := run(context.Background(), env, append(args, "--data", c.data))
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its output.
func (c numbersCLI) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	return out
}

// fails runs a command that must exit with want and returns its stderr.
func (c numbersCLI) fails(want int, args ...string) string {
	c.t.Helper()
	code, _, errs := c.run("", args...)
	if code != want {
		c.t.Fatalf("%v: exit %d, want %d (stderr %q)", args, code, want, errs)
	}
	return errs
}

func (c numbersCLI) table() *numbering.Table {
	c.t.Helper()
	tab, err := numbering.LoadTable(filepath.Join(c.data, numbering.FileName))
	if err != nil {
		c.t.Fatal(err)
	}
	return tab
}

func TestNumbersCommand(t *testing.T) {
	c := numbersCLI{t, filepath.Join(t.TempDir(), "data")} // created on first change

	// An empty list before the database exists.
	if out := c.ok("numbers", "list"); strings.TrimSpace(out) != "NUMBER  TYPE  SMSPROV" {
		t.Fatalf("empty list: %q", out)
	}
	// Flags after and before the number.
	c.ok("numbers", "add", "+16195550100", "--type", "gsm", "--smsprov")
	c.ok("numbers", "add", "--type", "local", "6195550101")
	c.ok("numbers", "add", "4242", "--type=none")

	out := c.ok("numbers", "list")
	want := "NUMBER        TYPE   SMSPROV\n" +
		"+16195550100  gsm    yes\n" +
		"+16195550101  local  no\n" +
		"4242          none   no\n"
	if out != want {
		t.Fatalf("list:\n%s\nwant:\n%s", out, want)
	}

	// Duplicates are runtime errors (1); bad command lines are usage
	// errors (2).
	if e := c.fails(1, "numbers", "add", "16195550100", "--type", "gsm"); !strings.Contains(e, "already exists") {
		t.Errorf("duplicate: %q", e)
	}
	if e := c.fails(2, "numbers", "add", "6190550100", "--type", "gsm"); !strings.Contains(e, "invalid NANP") {
		t.Errorf("invalid NANP: %q", e)
	}
	c.fails(2, "numbers", "add", "24273", "--type", "gsm")         // short code
	c.fails(2, "numbers", "add", "+447700900123", "--type", "gsm") // international
	c.fails(2, "numbers", "add", "6195550102")                     // no --type
	c.fails(2, "numbers", "add", "6195550102", "--type", "sms")
	c.fails(2, "numbers", "add", "4243", "--type", "gsm", "--smsprov")
	c.fails(2, "numbers", "add", "6195550102", "6195550103", "--type", "gsm")
	c.fails(2, "numbers", "add", "6195550102", "--type", "gsm", "--bogus")
	c.fails(2, "numbers")
	c.fails(2, "numbers", "frobnicate")
	c.fails(0, "numbers", "add", "-h")
	c.fails(0, "numbers", "--help")

	// Change in place, then remove.
	c.ok("numbers", "change", "6195550101", "--type", "gsm", "--smsprov")
	if e, _ := c.table().LookupLocal("16195550101"); e.Type != numbering.GSM || !e.SMSProv {
		t.Fatalf("after change: %+v", e)
	}
	c.fails(1, "numbers", "change", "6195550199", "--type", "gsm")
	c.ok("numbers", "remove", "16195550100")
	c.ok("numbers", "remove", "4242")
	c.fails(1, "numbers", "remove", "+16195550100")
	c.fails(2, "numbers", "remove")

	tab := c.table()
	if _, ok := tab.LookupLocal("16195550100"); ok {
		t.Fatal("removed number still there")
	}
	if n := len(tab.Numbers()); n != 1 {
		t.Fatalf("%d numbers left, want 1", n)
	}
}

func TestPeersCommand(t *testing.T) {
	c := numbersCLI{t, t.TempDir()}
	c.ok("numbers", "add", "6195550100", "--type", "gsm")

	c.ok("peers", "add", "fief", "--pool", "1858555", "--pool", "+16195550150,1702",
		"--system-id", "fief01", "--password", "hunter2", "--allow-ip", "192.0.2.0/24", "--allow-ip", "2001:db8::1")
	c.ok("peers", "add", "--pool", "18585551", "nested") // a delegation inside fief's prefix
	c.ok("peers", "add", "bare")

	// The password comes from stdin without its newline.
	code, _, errs := c.run("s3cret\n", "peers", "add", "stdin", "--system-id", "stdin01", "--password-stdin")
	if code != 0 {
		t.Fatalf("--password-stdin: exit %d: %s", code, errs)
	}

	if e := c.fails(1, "peers", "add", "other", "--pool", "1858555"); !strings.Contains(e, "claimed by peer fief") {
		t.Errorf("overlap: %q", e)
	}
	c.fails(1, "peers", "add", "other", "--pool", "16195550100") // a local number
	c.fails(1, "peers", "add", "fief")
	// (A duplicate system ID is tested in the numbering package, where
	// hashing is cheap.)
	c.fails(2, "peers", "add", "other", "--system-id", "x") // no password
	c.fails(2, "peers", "add", "other", "--password", "x")  // no system ID
	c.fails(2, "peers", "add", "other", "--pool", "1911")
	c.fails(2, "peers", "add", "other", "--pool", "619")
	c.fails(2, "peers", "add", "other", "--allow-ip", "not-an-ip")
	c.fails(2, "peers", "add", "bad/name")
	c.fails(2, "peers", "add", "name-that-is-far-too-long")
	c.fails(2, "peers", "add")
	c.fails(2, "peers", "add", "a", "b")

	out := c.ok("peers", "list")
	for _, secret := range []string{"hunter2", "s3cret", "pbkdf2"} {
		if strings.Contains(out, secret) {
			t.Fatalf("peers list shows a password or its hash:\n%s", out)
		}
	}
	want := "NAME    SYSTEM-ID  ALLOW-IP                      POOL\n" +
		"bare    -          -                             -\n" +
		"fief    fief01     192.0.2.0/24,2001:db8::1/128  16195550150,1702,1858555\n" +
		"nested  -          -                             18585551\n" +
		"stdin   stdin01    -                             -\n"
	if out != want {
		t.Fatalf("peers list:\n%s\nwant:\n%s", out, want)
	}

	tab := c.table()
	if p, ok := tab.LookupPeer("18585551234"); !ok || p != "nested" {
		t.Errorf("LookupPeer nested = %q, %v", p, ok)
	}
	if p, ok := tab.LookupPeer("18585550000"); !ok || p != "fief" {
		t.Errorf("LookupPeer fief = %q, %v", p, ok)
	}
	if p, err := tab.AuthPeer("stdin01", "s3cret", netip.MustParseAddr("127.0.0.1")); err != nil || p.Name != "stdin" {
		t.Errorf("AuthPeer after --password-stdin: %q, %v", p.Name, err)
	}

	// Pool edits, all or none.
	c.ok("peers", "add-pool", "bare", "1303", "+13035550100")
	c.fails(1, "peers", "add-pool", "bare", "1720", "1702") // 1702 is fief's
	c.fails(1, "peers", "add-pool", "nobody", "1720")
	c.fails(2, "peers", "add-pool", "bare")
	c.ok("peers", "remove-pool", "bare", "13035550100")
	c.fails(1, "peers", "remove-pool", "bare", "1702")
	if p, _ := c.table().Peer("bare"); strings.Join(p.Pool, ",") != "1303" {
		t.Errorf("bare pool = %v", p.Pool)
	}

	c.ok("peers", "remove", "fief")
	c.fails(1, "peers", "remove", "fief")
	// Its entries are free again.
	c.ok("peers", "add-pool", "bare", "1858555")
	if p, _ := c.table().LookupPeer("18585550000"); p != "bare" {
		t.Errorf("after removal, LookupPeer = %q", p)
	}
}
