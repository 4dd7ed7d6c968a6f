package accounts

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"switchboard/internal/credential"
)

func TestMain(m *testing.M) {
	// Real hashes cost ~40 ms each, far more under -race; the tests check
	// the logic, not the work factor.
	restore := credential.SetIterationsForTest(1000)
	code := m.Run()
	restore()
	os.Exit(code)
}

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func snap(t *testing.T, db *DB) *Table {
	t.Helper()
	tab, err := db.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestValidName(t *testing.T) {
	good := []string{"alice", "Bob", "a", strings.Repeat("x", MaxName), "a.b-c_d", "ünïcødé", "名前", "🙂", "systems", "sys-tem", "-dash"}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	bad := []string{"", strings.Repeat("x", MaxName+1), strings.Repeat("é", 17), "a b", "a\tb", "a\nb", "nul\x00",
		"\x7f", "a\u00a0b", "zero\u200bwidth", "bidi\u202e", "\xff", "system", "SYSTEM", "System", "ſystem"}
	for _, n := range bad {
		if err := ValidName(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalid", n, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, pw := range []string{"p", "hunter2", strings.Repeat("p", MaxPassword), "pässwörd", "!@#$%^&*()"} {
		if err := CheckPassword(pw); err != nil {
			t.Errorf("CheckPassword(%q) = %v", pw, err)
		}
	}
	for _, pw := range []string{"", strings.Repeat("p", MaxPassword+1), "two words", "tab\t", "line\n", "cr\r", "nul\x00", "\xff\xfe"} {
		err := CheckPassword(pw)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckPassword(%q) = %v, want ErrInvalid", pw, err)
		}
		if _, herr := HashPassword(pw); !errors.Is(herr, ErrInvalid) {
			t.Errorf("HashPassword(%q) = %v, want ErrInvalid", pw, herr)
		}
		if err != nil && len(pw) > 2 && strings.Contains(err.Error(), pw) {
			t.Errorf("error repeats the password: %v", err)
		}
	}
}

func TestAddAndErrors(t *testing.T) {
	db, _ := openTemp(t)
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	alice := Account{Name: "alice", PasswordHash: mustHash(t, "pw"), Number: "16195550100",
		AllowIPs: pfxs("10.1.2.3/8", "::ffff:192.0.2.0/120", "10.0.0.0/8"), Created: created}
	saved := slices.Clone(alice.AllowIPs)
	if err := db.Add(alice); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alice.AllowIPs, saved) {
		t.Fatal("Add rewrote the caller's slice")
	}
	before := time.Now().UTC()
	if err := db.Add(Account{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()

	for _, c := range []struct {
		a    Account
		want error
	}{
		{Account{Name: "alice"}, ErrExists},
		{Account{Name: "carol", Number: "16195550100"}, ErrNumberTaken},
		{Account{Name: "system"}, ErrInvalid},
		{Account{Name: "two words"}, ErrInvalid},
		{Account{Name: ""}, ErrInvalid},
		{Account{Name: "carol", PasswordHash: "plaintext"}, ErrInvalid},
		{Account{Name: "carol", Number: "6195550101"}, ErrInvalid},   // not E.164 form
		{Account{Name: "carol", Number: "+16195550101"}, ErrInvalid}, // not stored form
		{Account{Name: "carol", Number: "16190550101"}, ErrInvalid},  // NXX starts with 0
		{Account{Name: "carol", Number: "4242"}, ErrInvalid},         // specials are not ownable
		{Account{Name: "carol", AllowIPs: []netip.Prefix{{}}}, ErrInvalid},
	} {
		err := db.Add(c.a)
		if !errors.Is(err, c.want) {
			t.Errorf("Add(%+v) = %v, want %v", c.a, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "619555") {
			t.Errorf("error shows a number: %v", err)
		}
	}

	tab := snap(t, db)
	if tab.Len() != 2 {
		t.Fatalf("refused adds left something behind: %d accounts", tab.Len())
	}
	a, ok := tab.Lookup("alice")
	if !ok || a.Number != "16195550100" || !a.HasPassword() || !a.Created.Equal(created) || a.Created.Location() != time.UTC {
		t.Fatalf("alice = %+v", a)
	}
	if want := pfxs("10.0.0.0/8", "192.0.2.0/24"); !slices.Equal(a.AllowIPs, want) {
		t.Fatalf("AllowIPs = %v, want %v", a.AllowIPs, want)
	}
	b, _ := tab.Lookup("bob")
	if b.Created.Before(before.Truncate(time.Second)) || b.Created.After(after) || b.HasPassword() || b.AllowIPs != nil || b.Number != "" {
		t.Fatalf("bob = %+v (added between %v and %v)", b, before, after)
	}
	if _, ok := tab.Lookup("Alice"); ok {
		t.Fatal("names must be case-sensitive")
	}
	if n, ok := tab.ByNumber("16195550100"); !ok || n != "alice" {
		t.Fatalf("ByNumber = %q, %v", n, ok)
	}
	if _, ok := tab.ByNumber("16195550101"); ok {
		t.Fatal("ByNumber found an unowned number")
	}
}

func TestChanges(t *testing.T) {
	db, _ := openTemp(t)
	for _, n := range []string{"alice", "bob"} {
		if err := db.Add(Account{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	// Every change of a missing account is ErrNotFound.
	for name, err := range map[string]error{
		"Remove":      db.Remove("nobody"),
		"SetLocked":   db.SetLocked("nobody", true),
		"SetPassword": db.SetPassword("nobody", "pw"),
		"SetNumber":   db.SetNumber("nobody", "16195550100"),
		"SetAllowIPs": db.SetAllowIPs("nobody", nil),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s(nobody) = %v, want ErrNotFound", name, err)
		}
	}

	if err := db.SetLocked("alice", true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword("alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword("alice", "has space"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetPassword(bad) = %v", err)
	}
	if err := db.SetAllowIPs("alice", pfxs("2001:db8::1/32")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAllowIPs("alice", []netip.Prefix{{}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetAllowIPs(zero) = %v", err)
	}

	// Numbers: set, set again (no-op), taken, replaced, released.
	if err := db.SetNumber("alice", "16195550100"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNumber("alice", "16195550100"); err != nil {
		t.Fatalf("setting the same number again: %v", err)
	}
	if err := db.SetNumber("bob", "16195550100"); !errors.Is(err, ErrNumberTaken) {
		t.Fatalf("taken number: %v", err)
	}
	if err := db.SetNumber("bob", "6195550100"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad form: %v", err)
	}
	if err := db.SetNumber("alice", "16195550101"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNumber("bob", "16195550100"); err != nil {
		t.Fatalf("alice's old number was not released: %v", err)
	}

	tab := snap(t, db)
	a, _ := tab.Lookup("alice")
	if !a.Locked || !credential.Verify(a.PasswordHash, "s3cret") || a.Number != "16195550101" ||
		!slices.Equal(a.AllowIPs, pfxs("2001:db8::/32")) {
		t.Fatalf("alice = %+v", a)
	}
	if n, _ := tab.ByNumber("16195550100"); n != "bob" {
		t.Fatalf("16195550100 owned by %q", n)
	}

	// Undo each, and remove.
	if err := db.SetLocked("alice", false); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword("alice", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAllowIPs("alice", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNumber("alice", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	tab = snap(t, db)
	a, _ = tab.Lookup("alice")
	if a.Locked || a.HasPassword() || a.AllowIPs != nil || a.Number != "" {
		t.Fatalf("alice after undo = %+v", a)
	}
	if _, ok := tab.Lookup("bob"); ok {
		t.Fatal("bob still there")
	}
	if _, ok := tab.ByNumber("16195550100"); ok {
		t.Fatal("a removed account's number is still owned")
	}
	if _, ok := tab.ByNumber("16195550101"); ok {
		t.Fatal("a cleared number is still owned")
	}
	if err := db.Add(Account{Name: "carol", Number: "16195550100"}); err != nil {
		t.Fatalf("the removed account's number is not free: %v", err)
	}
}

func TestSnapshotImmutable(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.Add(Account{Name: "alice", AllowIPs: pfxs("192.0.2.0/24")}); err != nil {
		t.Fatal(err)
	}
	tab := snap(t, db)

	a, _ := tab.Lookup("alice")
	a.AllowIPs[0] = netip.MustParsePrefix("0.0.0.0/0")
	all := tab.Accounts()
	all[0].AllowIPs[0] = netip.MustParsePrefix("0.0.0.0/0")
	all[0].Name = "mallory"
	got, _, _ := tab.Authenticate("alice", nil, netip.MustParseAddr("192.0.2.1"))
	got.AllowIPs[0] = netip.MustParsePrefix("0.0.0.0/0")
	if _, _, err := tab.Authenticate("alice", nil, netip.MustParseAddr("203.0.113.1")); !errors.Is(err, ErrIPNotAllowed) {
		t.Fatalf("the table changed through a returned copy: %v", err)
	}

	// Later changes do not reach an existing snapshot.
	if err := db.SetLocked("alice", true); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(Account{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	if a, _ := tab.Lookup("alice"); a.Locked {
		t.Fatal("old snapshot sees the lock")
	}
	if _, ok := tab.Lookup("bob"); ok || tab.Len() != 1 {
		t.Fatal("old snapshot sees the new account")
	}
}

func TestAccountsSorted(t *testing.T) {
	db, _ := openTemp(t)
	for _, n := range []string{"zed", "Alice", "bob", "ünï"} {
		if err := db.Add(Account{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, a := range snap(t, db).Accounts() {
		names = append(names, a.Name)
	}
	if want := []string{"Alice", "bob", "zed", "ünï"}; !slices.Equal(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
}

func TestEmptyTables(t *testing.T) {
	var nilTab *Table
	for _, tab := range []*Table{nilTab, {}} {
		if _, ok := tab.Lookup("alice"); ok {
			t.Fatal("Lookup on an empty table")
		}
		if _, ok := tab.ByNumber("16195550100"); ok {
			t.Fatal("ByNumber on an empty table")
		}
		if tab.Accounts() != nil && len(tab.Accounts()) != 0 || tab.Len() != 0 {
			t.Fatal("accounts in an empty table")
		}
		if _, reg, err := tab.Authenticate("alice", []byte("pw"), netip.MustParseAddr("127.0.0.1")); reg || err != nil {
			t.Fatalf("Authenticate on an empty table: %v, %v", reg, err)
		}
	}
	tab, err := Load(filepath.Join(t.TempDir(), FileName))
	if err != nil || tab.Len() != 0 {
		t.Fatalf("Load(missing) = %v, %v", tab, err)
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly(missing) = %v", err)
	}
}

func TestPersistenceAndFile(t *testing.T) {
	db, path := openTemp(t)
	if err := db.Add(Account{Name: "alice", PasswordHash: mustHash(t, "pw"), Locked: true, Number: "16195550100", AllowIPs: pfxs("192.0.2.0/24")}); err != nil {
		t.Fatal(err)
	}
	want := snap(t, db).Accounts()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o600 != 0 {
		t.Fatalf("file mode %v, want at most 0600", fi.Mode().Perm())
	}
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := tab.Accounts()
	if len(got) != 1 || got[0].Name != want[0].Name || got[0].PasswordHash != want[0].PasswordHash ||
		got[0].Number != want[0].Number || !got[0].Locked || !got[0].Created.Equal(want[0].Created) ||
		!slices.Equal(got[0].AllowIPs, want[0].AllowIPs) {
		t.Fatalf("after reopen %+v, want %+v", got, want)
	}

	// A read-only DB refuses writes.
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Add(Account{Name: "bob"}); err == nil {
		t.Fatal("write through a read-only DB")
	}
}

func TestStoredLayout(t *testing.T) {
	// The layout is documented in docs/accounts.md; other tools may read
	// it.
	db, _ := openTemp(t)
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.Add(Account{Name: "alice", Locked: true, Number: "16195550100", AllowIPs: pfxs("192.0.2.0/24"), Created: created}); err != nil {
		t.Fatal(err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "1" {
			t.Errorf("schema %q", v)
		}
		if v := string(tx.Bucket(bucketAccounts).Get([]byte("alice"))); v != `{"locked":true,"allow_ips":["192.0.2.0/24"],"created":"2024-01-02T03:04:05Z"}` {
			t.Errorf("record %s", v)
		}
		if v := string(tx.Bucket(bucketNumbers).Get([]byte("16195550100"))); v != "alice" {
			t.Errorf("number owner %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDamagedAndNewerFiles(t *testing.T) {
	db, path := openTemp(t)
	if err := db.Add(Account{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	damage := func(bucket []byte, k, v string) {
		t.Helper()
		if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(k), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	undo := func(bucket []byte, k string) {
		t.Helper()
		if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(k)) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		bucket []byte
		k, v   string
	}{
		{bucketNumbers, "16195550100", "ghost"},
		{bucketAccounts, "bob", "{not json"},
		{bucketAccounts, "bob", `{"allow_ips":["nonsense"]}`},
	} {
		damage(c.bucket, c.k, c.v)
		if _, err := db.Snapshot(); err == nil {
			t.Errorf("snapshot accepted %s %s=%s", c.bucket, c.k, c.v)
		}
		undo(c.bucket, c.k)
	}
	damage(bucketNumbers, "16195550100", "alice")
	damage(bucketNumbers, "16195550101", "alice")
	if _, err := db.Snapshot(); err == nil {
		t.Error("snapshot accepted an account with two numbers")
	}
	undo(bucketNumbers, "16195550101")
	if _, err := db.Snapshot(); err != nil {
		t.Fatal(err)
	}

	damage(bucketMeta, "schema", "99")
	db.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("Open accepted a newer schema")
	}
	if _, err := Load(path); err == nil {
		t.Fatal("Load accepted a newer schema")
	}
}

func TestOpenBusy(t *testing.T) {
	db, path := openTemp(t)
	saved := lockTimeout
	lockTimeout = 200 * time.Millisecond
	defer func() { lockTimeout = saved }()
	start := time.Now()
	if _, err := Load(path); !errors.Is(err, ErrBusy) {
		t.Fatalf("Load beside a writer: %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrBusy) {
		t.Fatalf("Open beside a writer: %v", err)
	}
	if d := time.Since(start); d < lockTimeout {
		t.Fatalf("gave up after %v, before the timeout", d)
	}
	db.Close()
	if _, err := Load(path); err != nil {
		t.Fatalf("Load after the writer closed: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	db, _ := openTemp(t)
	for _, a := range []Account{
		{Name: "open"},
		{Name: "pw", PasswordHash: mustHash(t, "s3cret")},
		{Name: "locked", PasswordHash: mustHash(t, "s3cret"), Locked: true, AllowIPs: pfxs("192.0.2.0/24")},
		{Name: "v4", AllowIPs: pfxs("192.0.2.0/24", "198.51.100.7/32")},
		{Name: "v6", PasswordHash: mustHash(t, "s3cret"), AllowIPs: pfxs("2001:db8::/32")},
		{Name: "mapped", AllowIPs: pfxs("::ffff:203.0.113.0/120")},
	} {
		if err := db.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	tab := snap(t, db)
	const (
		v4in   = "192.0.2.10"
		v4out  = "203.0.114.1"
		v6in   = "2001:db8:5::1"
		v6out  = "2001:db9::1"
		mapped = "::ffff:192.0.2.10"
	)
	for _, c := range []struct {
		name, secret, ip string
		registered       bool
		want             error
	}{
		{"nobody", "", v4in, false, nil},
		{"nobody", "anything", v4in, false, nil},
		{"Open", "", v4in, false, nil}, // case-sensitive: another name
		{"open", "", v4in, true, nil},
		{"open", "whatever", v6out, true, nil}, // no password: a secret is accepted
		{"pw", "s3cret", v4in, true, nil},
		{"pw", "", v4in, true, ErrBadCredentials},
		{"pw", "wrong", v4in, true, ErrBadCredentials},
		{"pw", "s3cret ", v4in, true, ErrBadCredentials},
		// Locked comes first, before the address and the password.
		{"locked", "s3cret", v4in, true, ErrLocked},
		{"locked", "wrong", v4out, true, ErrLocked},
		{"v4", "", v4in, true, nil},
		{"v4", "", mapped, true, nil}, // a dual-stack listener's view of v4in
		{"v4", "", "198.51.100.7", true, nil},
		{"v4", "", "198.51.100.8", true, ErrIPNotAllowed},
		{"v4", "", v4out, true, ErrIPNotAllowed},
		{"v4", "", v6in, true, ErrIPNotAllowed},
		// The address comes before the password.
		{"v6", "wrong", v6out, true, ErrIPNotAllowed},
		{"v6", "wrong", v6in, true, ErrBadCredentials},
		{"v6", "s3cret", v6in, true, nil},
		{"v6", "s3cret", "2001:db8::1%eth0", true, nil},
		{"v6", "s3cret", v4in, true, ErrIPNotAllowed},
		{"mapped", "", "203.0.113.5", true, nil},
		{"mapped", "", "::ffff:203.0.113.5", true, nil},
		{"mapped", "", "203.0.112.5", true, ErrIPNotAllowed},
	} {
		var secret []byte
		if c.secret != "" {
			secret = []byte(c.secret)
		}
		a, reg, err := tab.Authenticate(c.name, secret, netip.MustParseAddr(c.ip))
		if reg != c.registered || err != c.want { // bare sentinels, by contract
			t.Errorf("Authenticate(%q, %q, %s) = %v, %v; want %v, %v", c.name, c.secret, c.ip, reg, err, c.registered, c.want)
			continue
		}
		if err == nil && reg && a.Name != c.name {
			t.Errorf("Authenticate(%q) returned account %q", c.name, a.Name)
		}
		if err != nil && a.Name != "" {
			t.Errorf("Authenticate(%q) returned an account with an error", c.name)
		}
	}
	// The zero address (a listener that could not tell) passes only
	// accounts without address rules.
	if _, _, err := tab.Authenticate("v4", nil, netip.Addr{}); err != ErrIPNotAllowed {
		t.Errorf("zero address: %v", err)
	}
	if _, _, err := tab.Authenticate("open", nil, netip.Addr{}); err != nil {
		t.Errorf("zero address, no rules: %v", err)
	}
}

func TestAuthenticateAllocs(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.Add(Account{Name: "open"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(Account{Name: "v4", AllowIPs: pfxs("10.0.0.0/8", "192.0.2.0/24")}); err != nil {
		t.Fatal(err)
	}
	tab := snap(t, db)
	ip := netip.MustParseAddr("::ffff:192.0.2.1")
	for _, name := range []string{"open", "nobody"} {
		if n := testing.AllocsPerRun(200, func() { tab.Authenticate(name, nil, ip) }); n != 0 {
			t.Errorf("Authenticate(%s) allocates %v times", name, n)
		}
	}
	// The account with rules is refused without allocating; accepted, it
	// costs one copy of its prefixes (the table must stay immutable).
	out := netip.MustParseAddr("203.0.113.1")
	if n := testing.AllocsPerRun(200, func() { tab.Authenticate("v4", nil, out) }); n != 0 {
		t.Errorf("refused Authenticate allocates %v times", n)
	}
}

func TestConcurrentReaders(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.Add(Account{Name: "pw", PasswordHash: mustHash(t, "s3cret"), Number: "16195550100"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(Account{Name: "v6", AllowIPs: pfxs("2001:db8::/32")}); err != nil {
		t.Fatal(err)
	}
	tab := snap(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if _, reg, err := tab.Authenticate("v6", nil, netip.MustParseAddr("2001:db8::1")); !reg || err != nil {
					errs <- err
					return
				}
				if i%50 == g { // a few password checks, which cost a hash each
					if _, _, err := tab.Authenticate("pw", []byte("s3cret"), netip.MustParseAddr("127.0.0.1")); err != nil {
						errs <- err
						return
					}
				}
				if n, ok := tab.ByNumber("16195550100"); !ok || n != "pw" {
					errs <- errors.New("ByNumber")
					return
				}
				all := tab.Accounts()
				all[1].AllowIPs[0] = netip.Prefix{} // writes to a copy: no race
				if a, ok := tab.Lookup("v6"); !ok || !a.AllowIPs[0].IsValid() {
					errs <- errors.New("Lookup")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// BenchmarkAuthenticate measures the login path of accounts without a
// password in a registry of 10,000: the cost every CPT CONNECT pays.
func BenchmarkAuthenticate(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.bolt.NoSync = true // setup speed only; the table is what is measured
	for i := range 10_000 {
		if err := db.Add(Account{Name: fmt.Sprintf("user%05d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Add(Account{Name: "ruled", AllowIPs: pfxs("10.0.0.0/8", "172.16.0.0/12", "192.0.2.0/24")}); err != nil {
		b.Fatal(err)
	}
	tab, err := db.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	for _, c := range []struct{ label, name string }{{"open", "user04242"}, {"unregistered", "nobody"}, {"allow-ip", "ruled"}} {
		b.Run(c.label, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := tab.Authenticate(c.name, nil, ip); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
