package redact

import "testing"

func TestNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"486 Busy Here":                    "486 Busy Here",
		"6195550123 not in service":        "# not in service",
		"(619) 555-0123 is unavailable":    "(# is unavailable",
		"cannot reach +1 619-555-0100 now": "cannot reach # now",
		"call +44 20 7946 0000, not 999":   "call #, not 999",
		"no digits":                        "no digits",
	} {
		if got := Numbers(in); got != want {
			t.Errorf("Numbers(%q) = %q, want %q", in, got, want)
		}
	}
}
