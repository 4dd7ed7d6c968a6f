package hoststand

import "testing"

// The page takes numbers as people type them; the parsing itself is
// pager.ParseNumber's.
func TestParsePhone(t *testing.T) {
	for in, want := range map[string]uint64{
		"+1 (619) 555-0100": 16195550100,
		" 619.555.0100 ":    16195550100,
		"(619) 555-0100":    16195550100,
		"+44 20 7946 0000":  442079460000,
	} {
		if got, ok := parsePhone(in); !ok || got != want {
			t.Errorf("parsePhone(%q) = %d, %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "12ab", "(+1) 619 555 0100", "1+6195550100", "0619 555 0100", "555-0100"} {
		if got, ok := parsePhone(in); ok {
			t.Errorf("parsePhone(%q) = %d, want refused", in, got)
		}
	}
}
