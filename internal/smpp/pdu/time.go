package pdu

import (
	"errors"
	"fmt"
	"time"
)

// ErrBadTime is wrapped by ParseTime's errors. The server answers
// ESME_RINVSCHED or ESME_RINVEXPIRY depending on the field.
var ErrBadTime = errors.New("bad SMPP time")

// timeLen is the length of an SMPP time string, "YYMMDDhhmmsstnnp" (§7.1.1).
const timeLen = 16

// ParseTime parses an SMPP 3.4 time string (§7.1.1), as found in
// schedule_delivery_time, validity_period and final_date.
//
// An absolute time "YYMMDDhhmmsstnn+" or "...-" is a local time with its
// offset from UTC in quarter hours (nn, 00 to 48; '+' means ahead of UTC)
// and tenths of a second (t); it is returned in UTC, with years 00 to 99
// meaning 2000 to 2099. A relative time "YYMMDDhhmmss000R" is added to now,
// field by field, and returned with relative true; its t and nn are
// ignored, as the spec makes them meaningless there. The empty string, the
// spec's "not given", is the zero time and no error.
func ParseTime(s string, now time.Time) (t time.Time, relative bool, err error) {
	if s == "" {
		return time.Time{}, false, nil
	}
	if len(s) != timeLen {
		return time.Time{}, false, fmt.Errorf("%w: %q is %d characters, want %d", ErrBadTime, s, len(s), timeLen)
	}
	var d [15]int
	for i := 0; i < 15; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, false, fmt.Errorf("%w: %q: non-digit at %d", ErrBadTime, s, i)
		}
		d[i] = int(c - '0')
	}
	two := func(i int) int { return d[i]*10 + d[i+1] }
	yy, mo, dd, hh, mi, ss := two(0), two(2), two(4), two(6), two(8), two(10)
	tenths, nn := d[12], two(13)

	switch s[15] {
	case 'R':
		t := now.AddDate(yy, mo, dd).Add(time.Duration(hh)*time.Hour +
			time.Duration(mi)*time.Minute + time.Duration(ss)*time.Second)
		return t, true, nil
	case '+', '-':
	default:
		return time.Time{}, false, fmt.Errorf("%w: %q: last character must be '+', '-' or 'R'", ErrBadTime, s)
	}
	if mo < 1 || mo > 12 || dd < 1 || dd > daysIn(time.Month(mo), 2000+yy) ||
		hh > 23 || mi > 59 || ss > 59 || nn > 48 {
		return time.Time{}, false, fmt.Errorf("%w: %q: field out of range", ErrBadTime, s)
	}
	offset := nn * 15 * 60
	if s[15] == '-' {
		offset = -offset
	}
	zone := time.FixedZone("", offset)
	t = time.Date(2000+yy, time.Month(mo), dd, hh, mi, ss, tenths*1e8, zone)
	return t.UTC(), false, nil
}

// daysIn returns the number of days in month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// FormatAbsolute formats t as an absolute SMPP time in UTC with the "000+"
// suffix style most SMSCs send: tenths of a second, then a zero quarter-hour
// offset, e.g. "261201183000000+". Years outside 2000..2099 lose their
// century, as the format has only two digits.
func FormatAbsolute(t time.Time) string {
	var b [timeLen]byte
	appendAbsolute(b[:0], t)
	return string(b[:])
}

func appendAbsolute(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = append2(dst, t.Year()%100)
	dst = append2(dst, int(t.Month()))
	dst = append2(dst, t.Day())
	dst = append2(dst, t.Hour())
	dst = append2(dst, t.Minute())
	dst = append2(dst, t.Second())
	dst = append(dst, byte('0'+t.Nanosecond()/1e8))
	return append(dst, '0', '0', '+')
}

// append2 appends v (0..99) as two digits.
func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}
