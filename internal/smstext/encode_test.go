package smstext

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"switchboard/internal/gsm7"
)

// runePools are the kinds of characters that exercise different paths:
// plain GSM, GSM extension (two septets), GSM non-ASCII, characters that
// force UCS-2, characters beyond the BMP (surrogate pairs), and odd ones
// such as NUL, U+FFFD and the BOM, which must survive UCS-2 unchanged.
var runePools = [][]rune{
	[]rune("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,!?\n\r@$"),
	[]rune("[]{}~^|\\€\f"),
	[]rune("£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà"),
	[]rune("çабвжЖ中文字한국어ąęł`\tÿ"),
	[]rune("😀🎉𝄞𠜎🇺🇸"),
	{0, 0xFFFD, 0xFEFF, 0x1B, 0x7F, 0xD7FF, 0xE000, 0xFFFF},
}

// randomText builds a string of n runes. Most strings stay within GSM so
// that the 7-bit path gets as much exercise as UCS-2.
func randomText(rng *rand.Rand, n int) string {
	pools := []int{0, 1, 2}
	if rng.IntN(2) == 0 {
		pools = []int{0, 1, 2, 3, 4, 5}
	}
	var b strings.Builder
	for range n {
		pool := runePools[pools[rng.IntN(len(pools))]]
		b.WriteRune(pool[rng.IntN(len(pool))])
	}
	return b.String()
}

// checkEncoded verifies everything Encode promises about its parts for
// text, and that they decode back to it part by part and as a whole.
func checkEncoded(t testing.TB, text string, ref uint16, opts Options, parts []Part) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatalf("Encode(%q) gave no parts", text)
	}
	wantDCS := DCSUCS2
	if !opts.ForceUCS2 && gsm7.CanEncode(text) {
		wantDCS = DCSGSM7
	}
	per := septetsPer8
	if wantDCS == DCSUCS2 {
		per = unitsPer8
	}
	if opts.Ref16 {
		per--
	}
	var joined strings.Builder
	for i, p := range parts {
		checkPart(t, p)
		if p.DCS != wantDCS {
			t.Fatalf("part %d DCS %02X, want %02X for %q", i+1, p.DCS, wantDCS, text)
		}
		s, udh, err := Decode(p.DCS, p.ESM, p.UDL, p.UD)
		if err != nil {
			t.Fatalf("Decode(part %d of %q): %v", i+1, text, err)
		}
		joined.WriteString(s)
		if len(parts) == 1 {
			if p.ESM != 0 || udh != nil || p.Total != 0 || p.Seq != 0 || p.Ref != 0 {
				t.Fatalf("single part has ESM %02X UDH %X ref %d %d/%d", p.ESM, udh, p.Ref, p.Seq, p.Total)
			}
			continue
		}
		r, total, seq, ok := Concat(udh)
		if !ok || r != p.Ref || total != p.Total || seq != p.Seq || int(total) != len(parts) || int(seq) != i+1 {
			t.Fatalf("part %d: Concat(%X) = %d %d/%d %v; part says %d %d/%d", i+1, udh, r, seq, total, ok, p.Ref, p.Seq, p.Total)
		}
		if wantRef := wireRef(opts.Ref16, ref); r != wantRef {
			t.Fatalf("part %d ref %d, want %d", i+1, r, wantRef)
		}
		if (udh[1] == IEIConcat16) != opts.Ref16 {
			t.Fatalf("part %d UDH %X with Ref16 %v", i+1, udh, opts.Ref16)
		}
		// Greedy filling: every part but the last is full, or one short
		// because a pair was kept together.
		if i < len(parts)-1 {
			n := textUnits(t, p)
			if n != per && n != per-1 {
				t.Fatalf("part %d holds %d units, want %d or %d", i+1, n, per, per-1)
			}
		}
	}
	if joined.String() != text {
		t.Fatalf("parts decoded one by one = %q, want %q", joined.String(), text)
	}
	got, err := Reassemble(parts)
	if err != nil || got != text {
		t.Fatalf("Reassemble = %q, %v; want %q", got, err, text)
	}
}

// textUnits is the text length of a part in its own units: septets for
// GSM 7-bit, UTF-16 units for UCS-2.
func textUnits(t testing.TB, p Part) int {
	t.Helper()
	c, _, body, err := userData(p.DCS, p.ESM, p.UDL, p.UD)
	if err != nil {
		t.Fatal(err)
	}
	if c == CodingGSM7 {
		return len(body)
	}
	return len(body) / 2
}

func TestEncodeRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		text := randomText(rng, rng.IntN(700))
		ref := uint16(rng.Uint32())
		opts := Options{ForceUCS2: rng.IntN(5) == 0, Ref16: rng.IntN(2) == 0}
		parts, err := Encode(text, ref, opts)
		if err != nil {
			t.Fatalf("Encode(%q, %+v): %v", text, opts, err)
		}
		checkEncoded(t, text, ref, opts, parts)
	}
}

func TestEncodeBoundaries(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		opts   Options
		dcs    byte
		counts []int // text septets or units per part
	}{
		{"160 septets fit", strings.Repeat("a", 160), Options{}, DCSGSM7, []int{160}},
		{"161 septets split", strings.Repeat("a", 161), Options{}, DCSGSM7, []int{153, 8}},
		{"extension char pushes past 160", strings.Repeat("a", 159) + "€", Options{}, DCSGSM7, []int{153, 8}},
		{"158 plus extension fits", strings.Repeat("a", 158) + "€", Options{}, DCSGSM7, []int{160}},
		{"306 septets is 2 parts", strings.Repeat("a", 306), Options{}, DCSGSM7, []int{153, 153}},
		{"307 septets is 3 parts", strings.Repeat("a", 307), Options{}, DCSGSM7, []int{153, 153, 1}},
		{"16-bit ref", strings.Repeat("a", 305), Options{Ref16: true}, DCSGSM7, []int{152, 152, 1}},
		{"escape at 152nd with 16-bit ref", strings.Repeat("a", 151) + "|" + strings.Repeat("z", 10), Options{Ref16: true}, DCSGSM7, []int{151, 12}},
		{"escape ending exactly at 153", strings.Repeat("a", 151) + "|" + strings.Repeat("z", 10), Options{}, DCSGSM7, []int{153, 10}},
		{"70 units fit", strings.Repeat("ж", 70), Options{}, DCSUCS2, []int{70}},
		{"71 units split", strings.Repeat("ж", 71), Options{}, DCSUCS2, []int{67, 4}},
		{"emoji as the 69th-70th unit fits", strings.Repeat("ж", 68) + "😀", Options{}, DCSUCS2, []int{70}},
		{"emoji at 66th unit with 16-bit ref", strings.Repeat("ж", 65) + "😀жжжжж", Options{Ref16: true}, DCSUCS2, []int{65, 7}},
		{"emoji ending exactly at 67", strings.Repeat("ж", 65) + "😀жжжжж", Options{}, DCSUCS2, []int{67, 5}},
		{"all emoji", strings.Repeat("😀", 40), Options{}, DCSUCS2, []int{66, 14}},
		{"ForceUCS2", "hello", Options{ForceUCS2: true}, DCSUCS2, []int{5}},
		{"ForceUCS2 empty", "", Options{ForceUCS2: true}, DCSUCS2, []int{0}},
		{"one non-GSM char makes all UCS-2", strings.Repeat("a", 100) + "ç", Options{}, DCSUCS2, []int{67, 34}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := Encode(tt.text, 9, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var counts []int
			for _, p := range parts {
				if p.DCS != tt.dcs {
					t.Errorf("DCS %02X, want %02X", p.DCS, tt.dcs)
				}
				counts = append(counts, textUnits(t, p))
			}
			if !equalInts(counts, tt.counts) {
				t.Errorf("part sizes %v, want %v", counts, tt.counts)
			}
			checkEncoded(t, tt.text, 9, tt.opts, parts)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeMaxParts(t *testing.T) {
	max8 := strings.Repeat("a", 255*153)
	parts, err := Encode(max8, 1, Options{})
	if err != nil || len(parts) != 255 {
		t.Fatalf("255 full parts: %d parts, %v", len(parts), err)
	}
	if _, err := Encode(max8+"a", 1, Options{}); !errors.Is(err, ErrTooLong) {
		t.Errorf("one septet more: %v, want ErrTooLong", err)
	}
	// An escape pushed to the next part can add a part the lower bound
	// did not predict; the exact count must catch it.
	tricky := strings.Repeat(strings.Repeat("a", 152)+"€", 2)
	if parts, err := Encode(tricky, 1, Options{MaxParts: 2}); !errors.Is(err, ErrTooLong) {
		t.Errorf("escape-shifted third part with MaxParts 2: %d parts, %v; want ErrTooLong", len(parts), err)
	}
	if parts, err := Encode(tricky, 1, Options{MaxParts: 3}); err != nil || len(parts) != 3 {
		t.Errorf("MaxParts 3: %d parts, %v", len(parts), err)
	}
	if _, err := Encode(strings.Repeat("ж", 135), 1, Options{MaxParts: 2}); !errors.Is(err, ErrTooLong) {
		t.Errorf("135 units in 2 parts: %v, want ErrTooLong", err)
	}
	if _, err := Encode(strings.Repeat("a", 161), 1, Options{MaxParts: 1}); !errors.Is(err, ErrTooLong) {
		t.Errorf("161 septets with MaxParts 1: %v, want ErrTooLong", err)
	}
	if parts, err := Encode(strings.Repeat("a", 160), 1, Options{MaxParts: 1}); err != nil || len(parts) != 1 {
		t.Errorf("160 septets with MaxParts 1: %d parts, %v", len(parts), err)
	}
	// MaxParts above what a one-octet count can say is clamped to 255.
	if _, err := Encode(max8+"a", 1, Options{MaxParts: 1000}); !errors.Is(err, ErrTooLong) {
		t.Errorf("MaxParts 1000: %v, want ErrTooLong", err)
	}
}

// TestEncodeHugeFailsFast guards the lower-bound check: a multi-megabyte
// text must be refused without encoding it.
func TestEncodeHugeFailsFast(t *testing.T) {
	huge := strings.Repeat("ab€", 2<<20)
	start := time.Now()
	for _, opts := range []Options{{}, {ForceUCS2: true}} {
		if _, err := Encode(huge, 0, opts); !errors.Is(err, ErrTooLong) {
			t.Fatalf("%+v: %v, want ErrTooLong", opts, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing a huge text took %v", d)
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	for _, s := range []string{"\xff", "ab\xc3", "ok\xed\xa0\x80surrogate", "\xc0\x80"} {
		for _, opts := range []Options{{}, {ForceUCS2: true}} {
			if _, err := Encode(s, 0, opts); !errors.Is(err, ErrInvalidText) {
				t.Errorf("Encode(%q, %+v) = %v, want ErrInvalidText", s, opts, err)
			}
		}
	}
	_, err := Encode("ab\xffc", 0, Options{})
	if err == nil || !strings.Contains(err.Error(), "offset 2") {
		t.Errorf("error %v should name offset 2", err)
	}
}

func TestAppendUTF16BEInvalid(t *testing.T) {
	for s, want := range map[string]int{"\xff": 0, "ab\xc3": 2, "ж\xed\xa0\x80": 2, "😀\xc0\x80": 4} {
		if _, bad := appendUTF16BE(nil, s); bad != want {
			t.Errorf("appendUTF16BE(%q) bad offset %d, want %d", s, bad, want)
		}
	}
}

func TestEncodeRef8UsesLowByte(t *testing.T) {
	parts, err := Encode(strings.Repeat("x", 200), 0xABCD, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Ref != 0xCD || p.UD[3] != 0xCD {
			t.Errorf("Ref %04X, UDH %X; want low byte CD", p.Ref, p.UD[:6])
		}
	}
}

// TestAppendUTF16BE checks the hand-written surrogate arithmetic against
// the standard library.
func TestAppendUTF16BE(t *testing.T) {
	for _, s := range []string{"", "a", "ж", "😀", "\U0010FFFF", "\U00010000", "\uFFFF", "a😀b𠜎"} {
		got, bad := appendUTF16BE(nil, s)
		if bad != -1 {
			t.Errorf("appendUTF16BE(%q) reports invalid UTF-8 at %d", s, bad)
		}
		var want []byte
		for _, u := range utf16.Encode([]rune(s)) {
			want = append(want, byte(u>>8), byte(u))
		}
		if string(got) != string(want) {
			t.Errorf("appendUTF16BE(%q) = %X, want %X", s, got, want)
		}
		if !utf8.ValidString(decodeUnits(appendUnits(nil, got))) || decodeUnits(appendUnits(nil, got)) != s {
			t.Errorf("decodeUnits(appendUTF16BE(%q)) mismatch", s)
		}
	}
}
