package gsm7

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// specBasic is TS 23.038 §6.2.1 written out again independently of the
// package's table, row by row (septets 0x00-0x0F, 0x10-0x1F, ...), so the
// tests check the table against the specification rather than against
// itself. The escape position 0x1B holds a placeholder that is skipped.
var specBasic = []string{
	"@£$¥èéùìòÇ\nØø\rÅå",
	"Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ",
	" !\"#¤%&'()*+,-./",
	"0123456789:;<=>?",
	"¡ABCDEFGHIJKLMNO",
	"PQRSTUVWXYZÄÖÑÜ§",
	"¿abcdefghijklmno",
	"pqrstuvwxyzäöñüà",
}

// specExtension is the default extension table of TS 23.038 §6.2.1.1.
var specExtension = map[rune]byte{
	'\f': 0x0A,
	'^':  0x14,
	'{':  0x28,
	'}':  0x29,
	'\\': 0x2F,
	'[':  0x3C,
	'~':  0x3D,
	']':  0x3E,
	'|':  0x40,
	'€':  0x65,
}

func specBasicRunes(t *testing.T) []rune {
	t.Helper()
	var all []rune
	for _, row := range specBasic {
		rs := []rune(row)
		if len(rs) != 16 {
			t.Fatalf("test table row %q has %d runes, want 16", row, len(rs))
		}
		all = append(all, rs...)
	}
	return all
}

func TestBasicTableRoundTrip(t *testing.T) {
	for c, r := range specBasicRunes(t) {
		if c == Escape {
			continue
		}
		s := string(r)
		got, err := Encode(s)
		if err != nil {
			t.Errorf("Encode(%q): %v", s, err)
			continue
		}
		if !bytes.Equal(got, []byte{byte(c)}) {
			t.Errorf("Encode(%q) = % X, want %02X", s, got, c)
		}
		dec, err := Decode([]byte{byte(c)})
		if err != nil || dec != s {
			t.Errorf("Decode(%02X) = %q, %v; want %q", c, dec, err, s)
		}
		if n, ok := SeptetLen(s); !ok || n != 1 {
			t.Errorf("SeptetLen(%q) = %d, %v; want 1, true", s, n, ok)
		}
	}
}

func TestExtensionTableRoundTrip(t *testing.T) {
	for r, code := range specExtension {
		s := string(r)
		want := []byte{Escape, code}
		got, err := Encode(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Encode(%q) = % X, %v; want % X", s, got, err, want)
		}
		dec, err := Decode(want)
		if err != nil || dec != s {
			t.Errorf("Decode(% X) = %q, %v; want %q", want, dec, err, s)
		}
		if n, ok := SeptetLen(s); !ok || n != 2 {
			t.Errorf("SeptetLen(%q) = %d, %v; want 2, true", s, n, ok)
		}
	}
	// Every extension code that is not in the spec table must fall back to
	// the basic character of the same code (or the documented SS2 space).
	for c := range 128 {
		if _, defined := extensionCode(byte(c)); defined {
			continue
		}
		want := string(basic[c])
		if c == Escape {
			want = " "
		}
		got, err := Decode([]byte{Escape, byte(c)})
		if err != nil || got != want {
			t.Errorf("Decode(1B %02X) = %q, %v; want %q", c, got, err, want)
		}
	}
}

func extensionCode(c byte) (rune, bool) {
	for r, code := range specExtension {
		if code == c {
			return r, true
		}
	}
	return 0, false
}

// TestAllBasicCharsInOneString encodes the whole alphabet as one string, to
// catch mistakes that only show up when characters of different UTF-8
// widths sit next to each other.
func TestAllBasicCharsInOneString(t *testing.T) {
	var sb strings.Builder
	var want []byte
	for c, r := range specBasicRunes(t) {
		if c == Escape {
			continue
		}
		sb.WriteRune(r)
		want = append(want, byte(c))
	}
	for r, code := range specExtension {
		sb.WriteRune(r)
		want = append(want, Escape, code)
	}
	s := sb.String()
	got, err := Encode(s)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Encode(alphabet) = % X, %v; want % X", got, err, want)
	}
	if n, ok := SeptetLen(s); !ok || n != len(want) {
		t.Errorf("SeptetLen(alphabet) = %d, %v; want %d", n, ok, len(want))
	}
	dec, err := Decode(got)
	if err != nil || dec != s {
		t.Errorf("Decode(Encode(alphabet)) = %q, %v; want %q", dec, err, s)
	}
}

func TestEncodeVectors(t *testing.T) {
	tests := []struct {
		in   string
		want string // hex septets
	}{
		{"", ""},
		{"Hi @ [x]", "48692000201B3C781B3E"},
		{"hellohello", "68656C6C6F68656C6C6F"},
		{"€10", "1B653130"},
		{"a\fb", "611B0A62"},
		{"ΔΣ£", "101801"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.in)
		if err != nil {
			t.Errorf("Encode(%q): %v", tt.in, err)
			continue
		}
		if h := strings.ToUpper(hex.EncodeToString(got)); h != tt.want {
			t.Errorf("Encode(%q) = %s, want %s", tt.in, h, tt.want)
		}
	}
}

func TestEncodeUnencodable(t *testing.T) {
	tests := []struct {
		in      string
		wantMsg string
	}{
		{"hello 😀", `'😀' (U+1F600) at byte offset 6`},
		{"ç", `'ç' (U+00E7) at byte offset 0`},      // only capital Ç is in the table
		{"a\u00a0b", `(U+00A0) at byte offset 1`},   // NBSP is how 0x1B displays, not a character
		{"ab\tc", `'\t' (U+0009) at byte offset 2`}, // no TAB in GSM 7-bit
		{"Ωω", `'ω' (U+03C9) at byte offset 2`},     // lower-case Greek is not in the table
		{"x`", "'`' (U+0060) at byte offset 1"},
		{"ok\xffno", "invalid UTF-8 byte 0xFF at byte offset 2"},
		{"\x1b", `'\x1b' (U+001B) at byte offset 0`}, // a literal ESC must not become an escape
	}
	for _, tt := range tests {
		got, err := Encode(tt.in)
		if !errors.Is(err, ErrUnencodable) {
			t.Errorf("Encode(%q) = % X, %v; want ErrUnencodable", tt.in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Encode(%q) error %q does not contain %q", tt.in, err, tt.wantMsg)
		}
		if CanEncode(tt.in) {
			t.Errorf("CanEncode(%q) = true, want false", tt.in)
		}
		if n, ok := SeptetLen(tt.in); ok || n != 0 {
			t.Errorf("SeptetLen(%q) = %d, %v; want 0, false", tt.in, n, ok)
		}
	}
}

// TestUnencodableRunesNearTables probes every rune in the ranges the reverse
// lookup uses, so that a rune adjacent to a table entry cannot slip through.
func TestUnencodableRunesNearTables(t *testing.T) {
	inTable := map[rune]bool{}
	for c, r := range specBasicRunes(t) {
		if c != Escape {
			inTable[r] = true
		}
	}
	for r := range specExtension {
		inTable[r] = true
	}
	for r := rune(0); r < 0x3000; r++ {
		s := string(r)
		if got := CanEncode(s); got != inTable[r] {
			t.Errorf("CanEncode(%U) = %v, want %v", r, got, inTable[r])
		}
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"trailing escape is ignored", []byte{'a', Escape}, "a"},
		{"lone escape", []byte{Escape}, ""},
		{"undefined extension code falls back to basic", []byte{Escape, 0x41}, "A"},
		{"euro", []byte{Escape, 0x65}, "€"},
		{"CR2 decodes as CR", []byte{Escape, 0x0D}, "\r"},
		{"escape at 0 falls back to @", []byte{Escape, 0x00}, "@"},
		{"SS2 is a space", []byte{Escape, Escape, 0x41}, " A"},
		{"SS2 then trailing escape", []byte{Escape, Escape, Escape}, " "},
		{"double extension", []byte{Escape, 0x28, Escape, 0x29}, "{}"},
	}
	for _, tt := range tests {
		got, err := Decode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: Decode(% X) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeInvalidSeptet(t *testing.T) {
	for _, in := range [][]byte{{0x80}, {'a', 0xFF}, {Escape, 0x80}, {Escape, 0x3C, 0x9B}} {
		got, err := Decode(in)
		if !errors.Is(err, ErrInvalidSeptet) {
			t.Errorf("Decode(% X) = %q, %v; want ErrInvalidSeptet", in, got, err)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	s := "Hello {world} – no" // the en dash makes it unencodable
	ok := "Hello {world}, €5 and Ωmega"
	if n := testing.AllocsPerRun(100, func() { CanEncode(ok); CanEncode(s) }); n != 0 {
		t.Errorf("CanEncode allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { SeptetLen(ok); SeptetLen(s) }); n != 0 {
		t.Errorf("SeptetLen allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Encode(ok) }); n != 1 {
		t.Errorf("Encode allocates %v times, want 1", n)
	}
}
