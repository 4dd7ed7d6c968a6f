package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"switchboard/internal/accounts"
	"switchboard/internal/credential"
	"switchboard/internal/datadir"
)

// cheapHashes makes password hashing cheap for one test: the tests check
// the commands, not the work factor (~40 ms a hash, far more under -race).
func cheapHashes(t *testing.T) {
	t.Cleanup(credential.SetIterationsForTest(1000))
}

func (c numbersCLI) accounts() *accounts.Table {
	c.t.Helper()
	tab, err := accounts.Load(filepath.Join(c.data, accounts.FileName))
	if err != nil {
		c.t.Fatal(err)
	}
	return tab
}

// auth is Authenticate from localhost against the current file.
func (c numbersCLI) auth(name, secret string) error {
	c.t.Helper()
	_, _, err := c.accounts().Authenticate(name, []byte(secret), netip.MustParseAddr("127.0.0.1"))
	return err
}

var createdRe = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestAccountsCommand(t *testing.T) {
	cheapHashes(t)
	c := numbersCLI{t, filepath.Join(t.TempDir(), "data")} // created on first change

	if out := c.ok("accounts", "list"); strings.TrimSpace(out) != "NAME  LOCKED  PASSWORD  NUMBER  ALLOW-IP  CREATED" {
		t.Fatalf("empty list: %q", out)
	}
	c.ok("numbers", "add", "6195550100", "--type", "local")
	c.ok("numbers", "add", "6195550101", "--type", "gsm")

	// With no server running, a change succeeds silently.
	code, out, errs := c.run("", "accounts", "add", "alice", "--password", "pw1", "--number", "+16195550100",
		"--allow-ip", "192.0.2.0/24", "--allow-ip", "2001:db8::1")
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("add: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	c.ok("accounts", "add", "--allow-ip", "10.0.0.0/8,192.0.2.7", "bob") // options before NAME
	c.ok("accounts", "add", "ünï")
	c.ok("accounts", "add", "--", "-dash") // a name that looks like an option
	if code, _, errs := c.run("s3cret\r\n", "accounts", "add", "carol", "--password-stdin", "--number", "16195550101"); code != 0 {
		t.Fatalf("--password-stdin: exit %d: %s", code, errs)
	}

	out = c.ok("accounts", "list")
	for _, secret := range []string{"pw1", "s3cret", "pbkdf2"} {
		if strings.Contains(out, secret) {
			t.Fatalf("list shows a password or its hash:\n%s", out)
		}
	}
	if n := len(createdRe.FindAllString(out, -1)); n != 5 {
		t.Fatalf("%d creation times in\n%s", n, out)
	}
	want := "NAME   LOCKED  PASSWORD  NUMBER        ALLOW-IP                      CREATED\n" +
		"-dash  no      no        -             -                             T\n" +
		"alice  no      yes       +16195550100  192.0.2.0/24,2001:db8::1/128  T\n" +
		"bob    no      no        -             10.0.0.0/8,192.0.2.7/32       T\n" +
		"carol  no      yes       +16195550101  -                             T\n" +
		"ünï    no      no        -             -                             T\n"
	if got := createdRe.ReplaceAllString(out, "T"); got != want {
		t.Fatalf("list:\n%s\nwant:\n%s", got, want)
	}

	tab := c.accounts()
	if owner, _ := tab.ByNumber("16195550100"); owner != "alice" {
		t.Fatalf("ByNumber = %q", owner)
	}
	if err := c.auth("carol", "s3cret"); err != nil {
		t.Fatalf("carol with the password from stdin: %v", err)
	}
	if err := c.auth("alice", "pw1"); !errors.Is(err, accounts.ErrIPNotAllowed) {
		t.Fatalf("alice from 127.0.0.1: %v", err)
	}

	// Refusals: runtime errors are 1, bad command lines 2.
	if e := c.fails(1, "accounts", "add", "alice"); !strings.Contains(e, "already exists") {
		t.Errorf("duplicate: %q", e)
	}
	if e := c.fails(1, "accounts", "add", "dave", "--number", "6195550100"); !strings.Contains(e, "owned by another account") {
		t.Errorf("taken number: %q", e)
	}
	// A NANP number that is not locally owned: the error says so without
	// the digits.
	if e := c.fails(1, "accounts", "add", "dave", "--number", "+16195550199"); !strings.Contains(e, "not a locally owned number") || strings.Contains(e, "5550199") {
		t.Errorf("unowned number: %q", e)
	}
	c.fails(2, "accounts", "add", "dave", "--number", "4242")          // a special
	c.fails(2, "accounts", "add", "dave", "--number", "24273")         // a short code
	c.fails(2, "accounts", "add", "dave", "--number", "+447700900123") // international
	c.fails(2, "accounts", "add", "dave", "--number", "6190550100")    // invalid NANP
	c.fails(2, "accounts", "add", "system")
	c.fails(2, "accounts", "add", "SyStEm")
	c.fails(2, "accounts", "add", "two words")
	c.fails(2, "accounts", "add", strings.Repeat("x", 33))
	c.fails(2, "accounts", "add", "dave", "--allow-ip", "not-an-ip")
	c.fails(2, "accounts", "add", "dave", "--password", "has space")
	c.fails(2, "accounts", "add", "dave", "--password", strings.Repeat("p", 65))
	c.fails(2, "accounts", "add", "dave", "--password", "x", "--password-stdin")
	if code, _, _ := c.run("\n", "accounts", "add", "dave", "--password-stdin"); code != 2 {
		t.Errorf("empty password on stdin: exit %d", code)
	}
	c.fails(2, "accounts", "add")
	c.fails(2, "accounts", "add", "a", "b")
	c.fails(2, "accounts", "add", "dave", "--bogus")
	c.fails(2, "accounts")
	c.fails(2, "accounts", "frobnicate")
	c.fails(0, "accounts", "--help")
	c.fails(0, "accounts", "add", "-h")
	if _, ok := c.accounts().Lookup("dave"); ok {
		t.Fatal("a refused add left an account behind")
	}

	// lock, unlock.
	c.ok("accounts", "lock", "carol")
	if err := c.auth("carol", "s3cret"); !errors.Is(err, accounts.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	c.ok("accounts", "unlock", "carol")
	if err := c.auth("carol", "s3cret"); err != nil {
		t.Fatalf("unlocked: %v", err)
	}
	c.fails(1, "accounts", "lock", "nobody")
	c.fails(2, "accounts", "lock")
	c.fails(2, "accounts", "unlock", "carol", "bob")

	// passwd: set, from stdin, remove two ways; no option is refused.
	c.ok("accounts", "allow-ip", "bob", "--clear") // bob's rules kept 127.0.0.1 out
	c.ok("accounts", "passwd", "bob", "--password", "new1")
	if err := c.auth("bob", ""); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("bob without the new password: %v", err)
	}
	if err := c.auth("bob", "new1"); err != nil {
		t.Fatalf("bob with the new password: %v", err)
	}
	if code, _, errs := c.run("new2\n", "accounts", "passwd", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("passwd --password-stdin: exit %d: %s", code, errs)
	}
	if err := c.auth("bob", "new2"); err != nil {
		t.Fatalf("bob with the password from stdin: %v", err)
	}
	c.ok("accounts", "passwd", "bob", "--clear")
	if a, _ := c.accounts().Lookup("bob"); a.HasPassword() {
		t.Fatal("--clear kept the password")
	}
	c.ok("accounts", "passwd", "carol", "--password", "")
	if err := c.auth("carol", ""); err != nil {
		t.Fatalf("carol after --password '': %v", err)
	}
	c.fails(2, "accounts", "passwd", "bob")
	c.fails(2, "accounts", "passwd", "bob", "--clear", "--password", "x")
	c.fails(2, "accounts", "passwd", "bob", "--password", "bad pw")
	c.fails(1, "accounts", "passwd", "nobody", "--password", "x")

	// number: move, clear, refusals.
	c.fails(1, "accounts", "number", "bob", "16195550100") // alice's
	c.ok("accounts", "number", "alice", "--clear")
	c.ok("accounts", "number", "bob", "16195550100")
	if owner, _ := c.accounts().ByNumber("16195550100"); owner != "bob" {
		t.Fatalf("after the move, owner %q", owner)
	}
	c.fails(1, "accounts", "number", "alice", "6195550102") // not locally owned
	c.fails(2, "accounts", "number", "alice")
	c.fails(2, "accounts", "number", "alice", "6195550100", "--clear")
	c.fails(2, "accounts", "number", "alice", "4242")
	c.fails(1, "accounts", "number", "nobody", "--clear")

	// allow-ip: replace, clear.
	c.ok("accounts", "allow-ip", "alice", "127.0.0.0/8", "::1")
	if err := c.auth("alice", "pw1"); err != nil {
		t.Fatalf("alice after allow-ip: %v", err)
	}
	a, _ := c.accounts().Lookup("alice")
	if len(a.AllowIPs) != 2 || a.AllowIPs[0].String() != "127.0.0.0/8" {
		t.Fatalf("alice AllowIPs = %v", a.AllowIPs)
	}
	c.fails(2, "accounts", "allow-ip", "alice")
	c.fails(2, "accounts", "allow-ip", "alice", "--clear", "10.0.0.0/8")
	c.fails(2, "accounts", "allow-ip", "alice", "nonsense")
	c.fails(2, "accounts", "allow-ip", "alice", ",")

	// remove releases the number.
	c.ok("accounts", "remove", "bob")
	c.fails(1, "accounts", "remove", "bob")
	c.ok("accounts", "number", "alice", "16195550100")
	if _, ok := c.accounts().Lookup("bob"); ok {
		t.Fatal("bob still there")
	}
	c.fails(2, "accounts", "list", "extra")
}

// TestAccountsWithServer checks that a change is announced to a running
// server (the command fails if the server does not acknowledge the
// reload) and that the server keeps running.
func TestAccountsWithServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server")
	}
	cheapHashes(t)
	e := startSMSC(t)
	c := numbersCLI{t, e.data}
	// Without the socket the command would succeed silently without
	// telling anyone, and the test would prove nothing.
	if _, err := os.Stat(filepath.Join(e.data, datadir.CoreSocket)); err != nil {
		t.Fatalf("no core socket beside the running server: %v", err)
	}
	c.ok("numbers", "add", "6195550100", "--type", "local")
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader("pw\n"), Stdout: &out, Stderr: &errb}
	code := run(context.Background(), env, []string{"accounts", "add", "alice", "--password-stdin", "--number", "6195550100", "--data", e.data})
	if code != 0 || out.Len() != 0 || errb.Len() != 0 {
		t.Fatalf("add beside a server: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	c.ok("accounts", "lock", "alice")
	if got := e.run("", "accounts", "list"); !strings.Contains(got, "alice  yes") {
		t.Fatalf("list beside a server:\n%s", got)
	}
}
