package pager

import (
	"errors"
	"testing"
)

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]uint64{
		"+16195550100":     16195550100,
		"16195550100":      16195550100,
		"6195550100":       16195550100, // NANP national: country code 1
		"+6195550100":      6195550100,  // with "+" it is E.164 as written
		"+442079460000":    442079460000,
		"+999999999999999": 999999999999999,
	} {
		if got, err := ParseNumber(in); err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "+", "12ab", "1234567", "+0441234567", "++16195550100", "+1 619 555 0100",
		"619-555-0100", " 16195550100", "+1000000000000000", "99999999999999999999999"} {
		if got, err := ParseNumber(in); !errors.Is(err, ErrNotNumber) {
			t.Errorf("ParseNumber(%q) = %d, %v, want ErrNotNumber", in, got, err)
		}
	}
}
