package credential

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// The tests check logic, not the work factor; real hashes cost
	// ~40 ms, far more under -race.
	restore := SetIterationsForTest(1000)
	code := m.Run()
	restore()
	os.Exit(code)
}

func TestHashVerify(t *testing.T) {
	h, err := Hash("pw")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := Hash("pw")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h, Scheme+"$1000$") {
		t.Fatalf("hash %q does not record its scheme and iteration count", h)
	}
	if err := CheckHash(h); err != nil {
		t.Fatal(err)
	}
	if !Verify(h, "pw") || Verify(h, "pW") || Verify(h, "") || Verify(h, "pw ") {
		t.Fatal("Verify wrong")
	}
	for _, bad := range []string{"", "pw", "pbkdf2-sha256$0$AA$AA", "pbkdf2-sha256$99999999999$AA$AA",
		"md5$1$AA$AA", "pbkdf2-sha256$1$!!$AA", "pbkdf2-sha256$1$AA$", "pbkdf2-sha256$1$$AA", "pbkdf2-sha256$x$AA$AA"} {
		if Verify(bad, "pw") {
			t.Errorf("malformed hash %q verified", bad)
		}
		if err := CheckHash(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckHash(%q) = %v", bad, err)
		}
	}
	if _, err := Hash(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty password: %v", err)
	}
	if _, err := Hash(strings.Repeat("x", MaxLength+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("overlong password: %v", err)
	}
}

func TestIterationsRecordedPerHash(t *testing.T) {
	// A hash keeps verifying after the work factor changes: the count
	// is read from the hash, not from the current setting.
	old, _ := Hash("pw")
	restore := SetIterationsForTest(2000)
	if !Verify(old, "pw") {
		t.Fatal("old hash no longer verifies")
	}
	h, _ := Hash("pw")
	restore()
	if !strings.HasPrefix(h, Scheme+"$2000$") || !Verify(h, "pw") {
		t.Fatalf("hash %q", h)
	}
	if n := iterations.Load(); n != 1000 {
		t.Fatalf("restore left %d iterations", n)
	}
	Burn("anything") // must not panic, whatever the input
	Burn("")
}

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw       string
		min, max int
		ok       bool
	}{
		{"a", 1, 8, true},
		{"12345678", 1, 8, true},
		{"123456789", 1, 8, false},
		{"", 1, 8, false},
		{"a\x00b", 1, 8, false},
		{strings.Repeat("p", 64), 1, 64, true},
	} {
		err := CheckPassword(c.pw, c.min, c.max)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckPassword(len %d, %d, %d) = %v", len(c.pw), c.min, c.max, err)
		}
		if err != nil && c.pw != "" && strings.Contains(err.Error(), c.pw) {
			t.Errorf("error repeats the password: %v", err)
		}
	}
}

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestCanonicalPrefixes(t *testing.T) {
	in := pfxs("10.1.2.3/8", "::ffff:192.0.2.0/120", "2001:db8::1/32", "192.0.2.0/24", "10.0.0.0/8")
	saved := slices.Clone(in)
	got, err := CanonicalPrefixes(in)
	if err != nil {
		t.Fatal(err)
	}
	want := pfxs("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32")
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !slices.Equal(in, saved) {
		t.Fatalf("input rewritten: %v", in)
	}
	if got, err := CanonicalPrefixes([]netip.Prefix{}); got != nil || err != nil {
		t.Fatalf("empty: %v, %v", got, err)
	}
	if _, err := CanonicalPrefixes([]netip.Prefix{{}}); !errors.Is(err, ErrInvalidPrefix) {
		t.Fatalf("zero prefix: %v", err)
	}
}

func TestAddrAllowed(t *testing.T) {
	allow := pfxs("192.0.2.0/24", "2001:db8::/32")
	for _, c := range []struct {
		ip string
		ok bool
	}{
		{"192.0.2.77", true},
		{"::ffff:192.0.2.77", true}, // a dual-stack listener's view
		{"192.0.3.1", false},
		{"2001:db8:1::5", true},
		{"2001:db9::5", false},
		{"fe80::1%eth0", false},
	} {
		if got := AddrAllowed(allow, netip.MustParseAddr(c.ip)); got != c.ok {
			t.Errorf("AddrAllowed(%s) = %v", c.ip, got)
		}
	}
	zoned := pfxs("fe80::/10")
	if !AddrAllowed(zoned, netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("a zone kept an address out of its prefix")
	}
	if !AddrAllowed(nil, netip.MustParseAddr("203.0.113.9")) || !AddrAllowed(nil, netip.Addr{}) {
		t.Error("an empty list must allow everything")
	}
	if AddrAllowed(allow, netip.Addr{}) {
		t.Error("the zero address passed a non-empty list")
	}
	ip := netip.MustParseAddr("::ffff:192.0.2.77")
	if n := testing.AllocsPerRun(100, func() { AddrAllowed(allow, ip) }); n != 0 {
		t.Errorf("AddrAllowed allocates %v times", n)
	}
}
