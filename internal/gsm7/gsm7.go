// Package gsm7 implements the GSM 7-bit default alphabet of 3GPP TS 23.038
// (formerly GSM 03.38) together with its default extension table, and the
// septet packing used in the TP-User-Data field of 3GPP TS 23.040.
//
// The package works at two levels. Encode, Decode, CanEncode and SeptetLen
// convert between UTF-8 strings and unpacked septets, one septet per byte
// with the high bit clear. Pack, PackWithFill, Unpack and UnpackWithFill
// convert between unpacked septets and the packed octet form that travels
// on the wire. Keeping the two levels apart lets an SMSC count, split and
// concatenate messages in septets before it commits to a bit layout.
//
// The edge cases where the specification leaves room for choice (an escape
// followed by an undefined code, a trailing escape, the reserved second
// escape, and the '@' padding ambiguity of packed text) are described on the
// functions concerned and in docs/gsm7.md.
package gsm7

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape is the septet that switches the following septet to the default
// extension table (TS 23.038 §6.2.1.1).
const Escape = 0x1B

// ErrUnencodable is returned, wrapped with the offending rune and its byte
// offset, when a string holds a character that neither the default alphabet
// nor its extension table can represent. Callers usually react by falling
// back to UCS-2, so they test for it with errors.Is.
var ErrUnencodable = errors.New("gsm7: character not representable in the GSM 7-bit default alphabet")

// ErrInvalidSeptet is returned, wrapped with the offending value and its
// index, when Decode is given a byte with the high bit set. Such a byte
// cannot be a septet, so it signals a caller that forgot to unpack or a
// corrupt message, and silently masking it would hide that.
var ErrInvalidSeptet = errors.New("gsm7: byte is not a septet (high bit set)")

// basic is the default alphabet, indexed by septet (TS 23.038 §6.2.1). The
// escape position holds no character: the escape never decodes to anything
// by itself, and leaving it zero keeps it out of the reverse lookup so that
// no rune encodes to a bare escape.
var basic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// extension is the default extension table (TS 23.038 §6.2.1.1), indexed by
// the septet that follows an escape. A zero entry means the code is not
// defined there. CR2 (0x0D) and SS2 (0x1B) are control codes without a
// character, so they are left zero here and handled in Decode.
var extension = [128]rune{
	0x0A: '\f',
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// Reverse lookup entries pack a septet code and two flags into a uint16 so
// that one table read answers both "is it encodable" and "how". A zero entry
// means the rune is not representable, which is why entValid exists: '@' is
// septet 0 and must not look like a missing entry.
const (
	entValid = 1 << 15
	entExt   = 1 << 14
	entCode  = 0x7F
)

// The reverse tables cover the only three places the alphabet draws from:
// Latin-1 (ASCII plus the accented letters and symbols), the Greek capitals
// at U+0393..U+03A9, and the euro sign. Arrays rather than a map keep the
// lookup branch-light and allocation-free.
const (
	greekBase = 0x0390
	greekLen  = 0x20
	euro      = '€'
)

var (
	latinRev [256]uint16
	greekRev [greekLen]uint16
	euroRev  uint16
)

func init() {
	for c, r := range basic {
		if c != Escape {
			setRev(r, entValid|uint16(c))
		}
	}
	for c, r := range extension {
		if r != 0 {
			setRev(r, entValid|entExt|uint16(c))
		}
	}
}

// setRev records one reverse entry. It panics if the tables above ever gain
// a rune outside the ranges lookup understands, or map one rune twice, so a
// bad edit fails at start-up (and in every test) rather than corrupting text.
func setRev(r rune, e uint16) {
	var slot *uint16
	switch {
	case r >= 0 && r < 256:
		slot = &latinRev[r]
	case r >= greekBase && r < greekBase+greekLen:
		slot = &greekRev[r-greekBase]
	case r == euro:
		slot = &euroRev
	default:
		panic(fmt.Sprintf("gsm7: table rune %U outside the reverse lookup ranges", r))
	}
	if *slot != 0 {
		panic(fmt.Sprintf("gsm7: table rune %U mapped twice", r))
	}
	*slot = e
}

// lookup returns the reverse entry for r, or zero if r is not representable.
func lookup(r rune) uint16 {
	switch {
	case uint32(r) < 256:
		return latinRev[r]
	case uint32(r-greekBase) < greekLen:
		return greekRev[r-greekBase]
	case r == euro:
		return euroRev
	}
	return 0
}

// scan walks s once and returns the number of septets Encode would produce,
// or the byte offset of the first unencodable rune (and -1 when there is
// none). Encode, CanEncode and SeptetLen share it so they cannot disagree.
func scan(s string) (n, bad int) {
	for i := 0; i < len(s); {
		// ASCII bytes are looked up directly, skipping UTF-8 decoding,
		// since nearly all traffic is ASCII.
		if c := s[i]; c < utf8.RuneSelf {
			e := latinRev[c]
			if e == 0 {
				return n, i
			}
			n += 1 + int(e&entExt>>14)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		e := lookup(r)
		if e == 0 {
			return n, i
		}
		n += 1 + int(e&entExt>>14)
		i += size
	}
	return n, -1
}

// Encode converts a UTF-8 string to unpacked septets. Characters from the
// extension table (form feed and ^ { } \ [ ~ ] | €) become two septets: the
// escape 0x1B followed by their extension code.
//
// Encode is strict: it maps only the characters in the tables, so that
// Decode(Encode(s)) == s always holds. It does not fold look-alikes (for
// example 'ç' to 'Ç', or Greek capital alpha to Latin 'A'); a caller that
// wants such transliteration must do it before calling Encode. If a rune is not
// representable, or s is not valid UTF-8, the error wraps ErrUnencodable and
// names the rune and its byte offset in s.
func Encode(s string) ([]byte, error) {
	n, bad := scan(s)
	if bad >= 0 {
		return nil, unencodable(s, bad)
	}
	// The first pass sized the result exactly, so this is the only
	// allocation and the loop below never has to grow it.
	out := make([]byte, n)
	j := 0
	for i := 0; i < len(s); {
		var e uint16
		if c := s[i]; c < utf8.RuneSelf {
			e = latinRev[c]
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			e = lookup(r)
			i += size
		}
		if e&entExt != 0 {
			out[j] = Escape
			j++
		}
		out[j] = byte(e & entCode)
		j++
	}
	return out, nil
}

// unencodable builds the error for the rune at byte offset off of s. Invalid
// UTF-8 gets its own wording because "U+FFFD" would mislead: the input held
// a stray byte, not a replacement character.
func unencodable(s string, off int) error {
	r, size := utf8.DecodeRuneInString(s[off:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Errorf("%w: invalid UTF-8 byte 0x%02X at byte offset %d", ErrUnencodable, s[off], off)
	}
	return fmt.Errorf("%w: %q (%U) at byte offset %d", ErrUnencodable, r, r, off)
}

// CanEncode reports whether Encode would succeed on s. It does not allocate,
// so an SMSC can cheaply choose between GSM 7-bit and UCS-2 for every
// message.
func CanEncode(s string) bool {
	_, bad := scan(s)
	return bad < 0
}

// SeptetLen returns the number of septets Encode would produce for s, with
// extension characters counting two, and false if s is not encodable. It
// does not allocate; it is what message segmentation should count, since the
// 160-character limit is really a 160-septet limit.
func SeptetLen(s string) (int, bool) {
	n, bad := scan(s)
	if bad >= 0 {
		return 0, false
	}
	return n, true
}

// Decode converts unpacked septets to a UTF-8 string.
//
// Any byte above 0x7F is an error wrapping ErrInvalidSeptet. The escape
// mechanism follows TS 23.038 §6.2.1.1 and the choices below, all of which
// keep Decode total on valid septets and keep Encode(Decode(x)) decoding
// back to the same string:
//
//   - An escape followed by a code the extension table does not define
//     decodes as the default-alphabet character of that code, as the
//     specification requires of a receiving MS. CR2 (0x1B 0x0D) is such a
//     code for our purposes and therefore decodes as CR.
//   - An escape followed by another escape (SS2, reserved for a further
//     extension table) decodes as a single space, as the specification
//     requires until such a table is defined; the septet after the pair is
//     decoded normally.
//   - A trailing escape with nothing after it decodes as nothing. It is
//     almost always a segmentation bug that split an escape from its code,
//     and a space the sender never typed is worse than a dropped escape.
func Decode(septets []byte) (string, error) {
	var b strings.Builder
	// Most text is ASCII, one byte per septet; non-ASCII characters make
	// the builder grow once or twice, which is cheaper than a sizing pass.
	b.Grow(len(septets))
	for i := 0; i < len(septets); i++ {
		c := septets[i]
		if c > entCode {
			return "", invalidSeptet(c, i)
		}
		if c != Escape {
			b.WriteRune(basic[c])
			continue
		}
		i++
		if i == len(septets) {
			break
		}
		c = septets[i]
		switch {
		case c > entCode:
			return "", invalidSeptet(c, i)
		case c == Escape:
			b.WriteByte(' ')
		case extension[c] != 0:
			b.WriteRune(extension[c])
		default:
			b.WriteRune(basic[c])
		}
	}
	return b.String(), nil
}

func invalidSeptet(c byte, i int) error {
	return fmt.Errorf("%w: 0x%02X at index %d", ErrInvalidSeptet, c, i)
}
