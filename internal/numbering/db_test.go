package numbering

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

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

func num(t *testing.T, s string) Number {
	t.Helper()
	n, err := ParseNumberArg(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
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

func TestNumbersAddRemoveList(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.AddNumber(num(t, "+16195550100"), GSM, true); err != nil {
		t.Fatal(err)
	}
	if err := db.AddNumber(num(t, "6195550101"), Local, false); err != nil {
		t.Fatal(err)
	}
	if err := db.AddNumber(num(t, "4242"), None, false); err != nil {
		t.Fatal(err)
	}
	// The same number in another form is the same number.
	if err := db.AddNumber(num(t, "16195550100"), Local, false); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: err = %v", err)
	}
	if err := db.AddNumber(num(t, "4242"), GSM, false); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate special: err = %v", err)
	}
	list, err := db.ListNumbers()
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"16195550100", GSM, true},
		{"16195550101", Local, false},
		{"4242", None, false},
	}
	if !slices.Equal(list, want) {
		t.Fatalf("list = %+v, want %+v", list, want)
	}

	if err := db.ChangeNumber(num(t, "6195550101"), GSM, true); err != nil {
		t.Fatal(err)
	}
	if err := db.ChangeNumber(num(t, "6195550199"), GSM, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("change missing: err = %v", err)
	}

	if err := db.RemoveNumber(num(t, "+16195550100")); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveNumber(num(t, "+16195550100")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: err = %v", err)
	}
	if err := db.RemoveNumber(num(t, "4242")); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListNumbers()
	if want := []Entry{{"16195550101", GSM, true}}; !slices.Equal(list, want) {
		t.Fatalf("list = %+v, want %+v", list, want)
	}
}

func TestAddNumberRefuses(t *testing.T) {
	db, _ := openTemp(t)
	for name, n := range map[string]Number{
		"short code":    num(t, "24273"),
		"international": num(t, "+447700900123"),
		"zero":          {},
		"forged nanp":   {Kind: NANP, E164: "10195550100"},
	} {
		if err := db.AddNumber(n, GSM, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := db.AddNumber(num(t, "4242"), GSM, true); !errors.Is(err, ErrInvalidNumber) {
		t.Errorf("smsprov special: err = %v", err)
	}
	if err := db.AddNumber(num(t, "6195550100"), 0, false); err == nil {
		t.Error("type 0 accepted")
	}
	if err := db.AddNumber(num(t, "6195550100"), None+1, false); err == nil {
		t.Error("type 4 accepted")
	}
}

func TestPeersAndOverlap(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.AddNumber(num(t, "6195550100"), GSM, true); err != nil {
		t.Fatal(err)
	}
	a := Peer{Name: "alpha", Pool: []string{"+1858555", "16195550150"}}
	if err := db.AddPeer(a); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(Peer{Name: "alpha"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate peer: err = %v", err)
	}
	// The same entry, in another spelling, for another peer.
	if err := db.AddPeer(Peer{Name: "beta", Pool: []string{"6195550150"}}); !errors.Is(err, ErrOverlap) {
		t.Fatalf("claimed entry: err = %v", err)
	}
	// A locally owned number cannot be in a pool.
	if err := db.AddPeer(Peer{Name: "beta", Pool: []string{"16195550100"}}); !errors.Is(err, ErrOverlap) {
		t.Fatalf("local number in pool: err = %v", err)
	}
	// Nor can a pool number become locally owned.
	if err := db.AddNumber(num(t, "6195550150"), GSM, false); !errors.Is(err, ErrOverlap) {
		t.Fatalf("pool number made local: err = %v", err)
	}
	// A local number under a peer's prefix is fine: local wins.
	if err := db.AddNumber(num(t, "8585550100"), Local, false); err != nil {
		t.Fatal(err)
	}
	// Failed adds left nothing behind.
	if peers, _ := db.ListPeers(); len(peers) != 1 {
		t.Fatalf("peers after failed adds: %+v", peers)
	}
	// A nested prefix for another peer is a delegation, not an overlap.
	if err := db.AddPeer(Peer{Name: "beta", Pool: []string{"18585551"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(Peer{Name: "gamma", Pool: []string{"1702", "1702"}}); !errors.Is(err, ErrExists) {
		t.Fatalf("entry listed twice: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "gamma", Pool: []string{"1911"}}); !errors.Is(err, ErrInvalidNANP) {
		t.Fatalf("invalid prefix: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "-gamma"}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("bad name: err = %v", err)
	}

	// Pool edits.
	if err := db.AddPoolEntry("beta", "1702555", "+17025560000"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPoolEntry("beta", "1702555"); !errors.Is(err, ErrExists) {
		t.Fatalf("own entry again: err = %v", err)
	}
	if err := db.AddPoolEntry("alpha", "1702555"); !errors.Is(err, ErrOverlap) {
		t.Fatalf("other's entry: err = %v", err)
	}
	if err := db.AddPoolEntry("nobody", "1303"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing peer: err = %v", err)
	}
	// All or none: the second entry fails, so the first is not added.
	if err := db.AddPoolEntry("alpha", "1303", "1702555"); !errors.Is(err, ErrOverlap) {
		t.Fatalf("mixed add: err = %v", err)
	}
	if err := db.RemovePoolEntry("alpha", "1702555"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove other's entry: err = %v", err)
	}
	if err := db.RemovePoolEntry("beta", "17025560000"); err != nil {
		t.Fatal(err)
	}

	peers, err := db.ListPeers()
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 2 || peers[0].Name != "alpha" || peers[1].Name != "beta" {
		t.Fatalf("peers = %+v", peers)
	}
	if want := []string{"16195550150", "1858555"}; !slices.Equal(peers[0].Pool, want) {
		t.Fatalf("alpha pool = %v, want %v", peers[0].Pool, want)
	}
	if want := []string{"1702555", "18585551"}; !slices.Equal(peers[1].Pool, want) {
		t.Fatalf("beta pool = %v, want %v", peers[1].Pool, want)
	}

	// Removing a peer frees its entries for others.
	if err := db.RemovePeer("alpha"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemovePeer("alpha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "gamma", Pool: []string{"1858555", "16195550150"}}); err != nil {
		t.Fatal(err)
	}
}

func TestPeerCredentials(t *testing.T) {
	db, _ := openTemp(t)
	h := mustHash(t, "secret")
	if err := db.AddPeer(Peer{Name: "a", SystemID: "fief"}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("system ID without password: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "a", PasswordHash: h}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("password without system ID: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "a", SystemID: "fief", PasswordHash: "secret"}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("clear-text password: err = %v", err)
	}
	if err := db.AddPeer(Peer{Name: "a", SystemID: "sixteen-chars-id", PasswordHash: h}); !errors.Is(err, ErrInvalidPeer) {
		t.Fatalf("long system ID: err = %v", err)
	}
	allow := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),
		netip.MustParsePrefix("::ffff:192.0.2.7/128"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	if err := db.AddPeer(Peer{Name: "a", SystemID: "fief", PasswordHash: h, AllowIPs: allow}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(Peer{Name: "b", SystemID: "fief", PasswordHash: h}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate system ID: err = %v", err)
	}
	peers, _ := db.ListPeers()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if len(peers) != 1 || !slices.Equal(peers[0].AllowIPs, want) || peers[0].PasswordHash != h {
		t.Fatalf("peer = %+v", peers)
	}
	// The caller's slice was not rewritten in place.
	if allow[0] != netip.MustParsePrefix("10.1.2.3/8") {
		t.Fatalf("AddPeer modified its argument: %v", allow)
	}
}

func TestPasswordHash(t *testing.T) {
	h := mustHash(t, "pw")
	h2 := mustHash(t, "pw")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !VerifyPassword(h, "pw") || VerifyPassword(h, "pW") || VerifyPassword(h, "") {
		t.Fatal("VerifyPassword wrong")
	}
	for _, bad := range []string{"", "pw", "pbkdf2-sha256$0$AA$AA", "pbkdf2-sha256$99999999999$AA$AA", "md5$1$AA$AA", "pbkdf2-sha256$1$!!$AA"} {
		if VerifyPassword(bad, "pw") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
	if _, err := HashPassword(""); !errors.Is(err, ErrInvalidPeer) {
		t.Errorf("empty password: err = %v", err)
	}
	if _, err := HashPassword("a\x00b"); !errors.Is(err, ErrInvalidPeer) {
		t.Errorf("NUL in password: err = %v", err)
	}
}

func TestPersistence(t *testing.T) {
	db, path := openTemp(t)
	if err := db.AddNumber(num(t, "6195550100"), GSM, true); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(Peer{Name: "p", Pool: []string{"1858"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	nums, _ := db.ListNumbers()
	peers, _ := db.ListPeers()
	if len(nums) != 1 || nums[0] != (Entry{"16195550100", GSM, true}) {
		t.Fatalf("numbers after reopen: %+v", nums)
	}
	if len(peers) != 1 || !slices.Equal(peers[0].Pool, []string{"1858"}) {
		t.Fatalf("peers after reopen: %+v", peers)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	db, path := openTemp(t)
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("Open accepted a newer schema")
	}
	if _, err := LoadTable(path); err == nil {
		t.Fatal("LoadTable accepted a newer schema")
	}
}
