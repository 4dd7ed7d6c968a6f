package smstext

import (
	"fmt"
	"unicode/utf8"

	"switchboard/internal/gsm7"
)

// Per-part capacities of a concatenated message, after the UDH has taken
// its share of the 140 octets (see the constants in smstext.go).
const (
	septetsPer8  = MaxUDSeptets - 7 // 153: 6-octet UDH plus 1 fill bit
	septetsPer16 = MaxUDSeptets - 8 // 152: 7-octet UDH, no fill
	unitsSingle  = MaxUDOctets / 2  // 70 UCS-2 units without a UDH
	unitsPer8    = (MaxUDOctets - 6) / 2
	unitsPer16   = (MaxUDOctets - 7) / 2 // 66: the odd octet left over is unusable
)

// Encode turns UTF-8 text into the user data of one or more short messages.
//
// The text goes as GSM 7-bit (DCS 0x00) when every character is in the
// default alphabet or its extension table, where extension characters cost
// two septets, and as UCS-2 (DCS 0x08, UTF-16BE with surrogate pairs for
// characters beyond the BMP) otherwise, or always when opts.ForceUCS2 is set.
// Text that fits one message (160 septets or 70 UTF-16 units) becomes one
// part without a UDH, and ref is then unused. Longer text is split into
// parts carrying a concatenation UDH with reference ref (only its low byte
// unless opts.Ref16), filling each part as far as possible: 153 septets or
// 67 units with an 8-bit reference, 152 septets or 66 units with a 16-bit
// one. A part ends one septet or unit early rather than separate an escape
// from the code it modifies, or the halves of a surrogate pair, because a
// receiver that shows parts before it has them all would otherwise show
// garbage. The empty text is one empty part.
//
// Invalid UTF-8 fails with ErrInvalidText; needing more than opts.MaxParts
// parts fails with ErrTooLong.
func Encode(text string, ref uint16, opts Options) ([]Part, error) {
	limit := opts.MaxParts
	if limit <= 0 || limit > maxTotal {
		limit = maxTotal
	}
	// A cheap guard before any encoding work, so that a huge input costs
	// nothing: no character takes more than 2 UTF-8 bytes per septet or 3
	// per UTF-16 unit, so text longer than this cannot fit in limit parts
	// in either alphabet. The exact count comes after splitting.
	if most := max(2*MaxUDSeptets, 2*septetsPer8*limit); len(text) > most {
		// Invalid UTF-8 is still reported as such, so that the error
		// does not depend on the length of the text.
		if !utf8.ValidString(text) {
			return nil, fmt.Errorf("%w: invalid byte at offset %d", ErrInvalidText, invalidOffset(text))
		}
		return nil, fmt.Errorf("%w: %d bytes of text cannot fit in %d parts", ErrTooLong, len(text), limit)
	}
	if !opts.ForceUCS2 {
		// gsm7.Encode also refuses invalid UTF-8, so success here means
		// the text is valid and GSM, and one pass has done both checks.
		if septets, err := gsm7.Encode(text); err == nil {
			return fromSeptets(septets, ref, opts.Ref16, limit)
		}
	}
	b, bad := appendUTF16BE(make([]byte, 0, 2*len(text)), text)
	if bad >= 0 {
		return nil, fmt.Errorf("%w: invalid byte at offset %d", ErrInvalidText, bad)
	}
	return fromUTF16(b, ref, opts.Ref16, limit)
}

// invalidOffset returns the byte offset of the first invalid UTF-8 sequence
// in s, which the caller knows to exist, so that the error can point at it.
func invalidOffset(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return len(s)
}

func fromSeptets(septets []byte, ref uint16, ref16 bool, limit int) ([]Part, error) {
	if len(septets) <= MaxUDSeptets {
		return []Part{{DCS: DCSGSM7, UDL: byte(len(septets)), UD: gsm7.Pack(septets)}}, nil
	}
	per := septetsPer8
	if ref16 {
		per = septetsPer16
	}
	// gsm7.Encode emits 0x1B only as the first septet of an escape pair
	// (no extension code is 0x1B), so a part ending in 0x1B would split a
	// pair, and the cut moves back by one.
	ends := splitPoints(len(septets), per, func(end int) bool { return septets[end-1] == gsm7.Escape })
	if len(ends) > limit {
		return nil, fmt.Errorf("%w: needs %d parts, limit %d", ErrTooLong, len(ends), limit)
	}
	// All parts share one allocation; each UD is capped so that appending
	// to one can never overwrite the next.
	buf := make([]byte, 0, len(ends)*MaxUDOctets)
	parts := make([]Part, len(ends))
	start := 0
	for i, end := range ends {
		off := len(buf)
		buf = appendConcatUDH(buf, ref16, ref, byte(len(ends)), byte(i+1))
		hl := len(buf) - off
		chunk := septets[start:end]
		buf = append(buf, gsm7.PackWithFill(chunk, gsm7.FillBits(hl))...)
		parts[i] = Part{
			DCS:   DCSGSM7,
			ESM:   ESMUDHI,
			UDL:   byte(gsm7.HeaderSeptets(hl) + len(chunk)),
			UD:    buf[off:len(buf):len(buf)],
			Ref:   wireRef(ref16, ref),
			Total: byte(len(ends)),
			Seq:   byte(i + 1),
		}
		start = end
	}
	return parts, nil
}

// fromUTF16 splits UTF-16BE text b into parts.
func fromUTF16(b []byte, ref uint16, ref16 bool, limit int) ([]Part, error) {
	units := len(b) / 2
	if units <= unitsSingle {
		return []Part{{DCS: DCSUCS2, UDL: byte(len(b)), UD: b}}, nil
	}
	per := unitsPer8
	if ref16 {
		per = unitsPer16
	}
	// A unit whose top six bits are 110110 is a high surrogate; a part
	// ending in one would leave its low half to the next part.
	ends := splitPoints(units, per, func(end int) bool { return b[2*(end-1)]&0xFC == 0xD8 })
	if len(ends) > limit {
		return nil, fmt.Errorf("%w: needs %d parts, limit %d", ErrTooLong, len(ends), limit)
	}
	buf := make([]byte, 0, len(ends)*7+len(b))
	parts := make([]Part, len(ends))
	start := 0
	for i, end := range ends {
		off := len(buf)
		buf = appendConcatUDH(buf, ref16, ref, byte(len(ends)), byte(i+1))
		buf = append(buf, b[2*start:2*end]...)
		parts[i] = Part{
			DCS:   DCSUCS2,
			ESM:   ESMUDHI,
			UDL:   byte(len(buf) - off),
			UD:    buf[off:len(buf):len(buf)],
			Ref:   wireRef(ref16, ref),
			Total: byte(len(ends)),
			Seq:   byte(i + 1),
		}
		start = end
	}
	return parts, nil
}

// splitPoints cuts n units (septets or UTF-16 units) into runs of at most
// per and returns the end index of each run. unsplittable(end) reports
// whether the unit at end-1 must stay with the unit after it; the run then
// ends one unit earlier. Pairs are two units long, so one step back always
// suffices and every run but the last holds at least per-1 units.
func splitPoints(n, per int, unsplittable func(end int) bool) []int {
	ends := make([]int, 0, (n+per-2)/(per-1))
	for start := 0; start < n; {
		end := min(start+per, n)
		if end < n && unsplittable(end) {
			end--
		}
		ends = append(ends, end)
		start = end
	}
	return ends
}

// wireRef is the reference as it travels: an 8-bit reference element
// carries only the low byte, and Part.Ref must say what the receiver sees.
func wireRef(ref16 bool, ref uint16) uint16 {
	if ref16 {
		return ref
	}
	return ref & 0xFF
}

// appendUTF16BE appends text as UTF-16 big-endian, which is how TS 23.038
// UCS-2 travels; characters beyond the BMP become surrogate pairs, which
// every current handset shows correctly although strict UCS-2 lacks them.
// It checks UTF-8 validity on the way, saving a separate pass, and returns
// the byte offset of the first invalid sequence, or -1.
func appendUTF16BE(dst []byte, text string) ([]byte, int) {
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			dst = append(dst, 0, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, i
		}
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		dst = append(dst, byte(r>>8), byte(r))
	}
	return dst, -1
}
