package pdu

import (
	"errors"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in       string
		want     time.Time
		relative bool
	}{
		{"", time.Time{}, false},
		{"261201183000000+", utc(2026, 12, 1, 18, 30, 0, 0), false},
		// +04 quarter hours: local time one hour ahead of UTC.
		{"261201183000004+", utc(2026, 12, 1, 17, 30, 0, 0), false},
		// -08 quarter hours and 5 tenths.
		{"261201183000508-", utc(2026, 12, 1, 20, 30, 0, 5e8), false},
		// The offset can move the date.
		{"270101003000048+", utc(2026, 12, 31, 12, 30, 0, 0), false},
		{"280229000000000+", utc(2028, 2, 29, 0, 0, 0, 0), false},
		{"991231235959900-", utc(2099, 12, 31, 23, 59, 59, 9e8), false},
		{"000001000000000R", now.AddDate(0, 0, 1), true},
		{"000000020304000R", now.Add(2*time.Hour + 3*time.Minute + 4*time.Second), true},
		// A month from 31 January normalises as time.AddDate does.
		{"000100000000000R", time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), true},
		// Relative fields are not limited to calendar ranges.
		{"000000009000000R", now.Add(90 * time.Minute), true},
	}
	for _, tt := range tests {
		got, rel, err := ParseTime(tt.in, now)
		if err != nil || !got.Equal(tt.want) || rel != tt.relative {
			t.Errorf("ParseTime(%q) = %v, %v, %v; want %v, %v", tt.in, got, rel, err, tt.want, tt.relative)
		}
		if err == nil && !rel && !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) location %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestParseTimeErrors(t *testing.T) {
	for _, in := range []string{
		"26120118300000+",   // 15 characters
		"2612011830000000+", // 17
		"26120118300000A+",  // non-digit
		"261201183000000X",  // bad sign
		"261301183000000+",  // month 13
		"260001183000000+",  // month 0
		"260230183000000+",  // 30 February
		"270229000000000+",  // 29 February in a common year
		"260100183000000+",  // day 0
		"261201243000000+",  // hour 24
		"261201186000000+",  // minute 60
		"261201183060000+",  // second 60
		"261201183000049+",  // offset over 12 hours
		"26120118300000 R",  // space
	} {
		if got, _, err := ParseTime(in, time.Now()); !errors.Is(err, ErrBadTime) {
			t.Errorf("ParseTime(%q) = %v, %v; want ErrBadTime", in, got, err)
		}
	}
}

func TestFormatAbsolute(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC), "261201183000000+"},
		{time.Date(2026, 12, 1, 18, 30, 0, 999999999, time.UTC), "261201183000900+"},
		{time.Date(2026, 12, 1, 19, 30, 5, 0, time.FixedZone("CET", 3600)), "261201183005000+"},
		{time.Date(2009, 1, 2, 3, 4, 5, 6e8, time.UTC), "090102030405600+"},
	}
	for _, tt := range tests {
		if got := FormatAbsolute(tt.t); got != tt.want {
			t.Errorf("FormatAbsolute(%v) = %q, want %q", tt.t, got, tt.want)
		}
		back, rel, err := ParseTime(tt.want, time.Time{})
		if err != nil || rel || !back.Equal(tt.t.Truncate(100*time.Millisecond)) {
			t.Errorf("ParseTime(FormatAbsolute(%v)) = %v, %v, %v", tt.t, back, rel, err)
		}
	}
}
