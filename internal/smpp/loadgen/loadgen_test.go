package loadgen

import (
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	now := time.Unix(1764614400, 123456789)
	s := Stamp(42, now, 40)
	if len(s) != 40 {
		t.Fatalf("stamp %q is %d long, want 40", s, len(s))
	}
	got, ok := ParseStamp(s)
	if !ok || !got.Equal(now) {
		t.Fatalf("ParseStamp(%q) = %v %v, want %v", s, got, ok, now)
	}
	if Stamp(43, now, 40) == s {
		t.Fatal("two sequence numbers, one text: duplicate detection would fold them")
	}
	if _, ok := ParseStamp("hello world"); ok {
		t.Fatal("an unstamped text parsed")
	}
}

func TestFill(t *testing.T) {
	for _, c := range []struct {
		pattern string
		n       int64
		want    string
	}{
		{"4420794600xx", 7, "442079460007"},
		{"4420794600xx", 1234, "442079460034"},
		{"16195550100", 5, "16195550100"},
	} {
		if got := fill(c.pattern, c.n); got != c.want {
			t.Errorf("fill(%q, %d) = %q, want %q", c.pattern, c.n, got, c.want)
		}
	}
}
