package smstext

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"switchboard/internal/gsm7"
)

// specCoding is TS 23.038 §4 written out as ranges, independently of
// CodingOf's bit tests, with the reserved codings resolved as documented.
func specCoding(dcs byte) Coding {
	general := func(low byte) Coding {
		switch {
		case low <= 0x3:
			return CodingGSM7
		case low <= 0x7:
			return CodingBinary
		case low <= 0xB:
			return CodingUCS2
		}
		return CodingGSM7 // alphabet 11: reserved
	}
	switch {
	case dcs <= 0x1F:
		return general(dcs & 0x0F)
	case dcs <= 0x3F:
		return CodingCompressed
	case dcs <= 0x5F:
		return general(dcs & 0x0F)
	case dcs <= 0x7F:
		return CodingCompressed
	case dcs <= 0xBF: // reserved coding groups
		return CodingGSM7
	case dcs <= 0xDF: // message waiting, discard or store, GSM 7-bit
		return CodingGSM7
	case dcs <= 0xEF: // message waiting, store, UCS-2
		return CodingUCS2
	case dcs <= 0xF3, dcs >= 0xF8 && dcs <= 0xFB:
		return CodingGSM7
	}
	return CodingBinary
}

func TestCodingOf(t *testing.T) {
	for d := range 256 {
		if got, want := CodingOf(byte(d)), specCoding(byte(d)); got != want {
			t.Errorf("CodingOf(0x%02X) = %v, want %v", d, got, want)
		}
	}
	spot := map[byte]Coding{
		0x00: CodingGSM7, 0x01: CodingGSM7, 0x10: CodingGSM7, 0x13: CodingGSM7, 0xF0: CodingGSM7, 0xF3: CodingGSM7,
		0x04: CodingBinary, 0xF5: CodingBinary, 0x08: CodingUCS2, 0x18: CodingUCS2, 0xE8: CodingUCS2,
		0x20: CodingCompressed, 0xC0: CodingGSM7, 0x0C: CodingGSM7,
	}
	for d, want := range spot {
		if got := CodingOf(d); got != want {
			t.Errorf("CodingOf(0x%02X) = %v, want %v", d, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	hi := mustHex(t, "C8340800DAF0F01B1F")
	empty8 := append([]byte{0x00}, gsm7.PackWithFill(mustEncode(t, "abc"), gsm7.FillBits(1))...)
	tests := []struct {
		name     string
		dcs, esm byte
		udl      int
		ud       []byte
		text     string
		udh      string
	}{
		{"GSM single", 0x00, 0, 10, hi, "Hi @ [x]", ""},
		{"GSM, DCS 0x01", 0x01, 0, 10, hi, "Hi @ [x]", ""},
		{"GSM, class 0 (0x10)", 0x10, 0, 10, hi, "Hi @ [x]", ""},
		{"GSM, class 1 (0xF1)", 0xF1, 0, 10, hi, "Hi @ [x]", ""},
		{"GSM, message waiting (0xC8)", 0xC8, 0, 10, hi, "Hi @ [x]", ""},
		{"GSM, trailing octets beyond UDL ignored", 0x00, 0, 10, append(bytes.Clone(hi), 0xFF, 0xFF), "Hi @ [x]", ""},
		{"GSM, UDL shorter than the data", 0x00, 0, 2, hi, "Hi", ""},
		{"GSM, esm without UDHI bit", 0x00, 0x03, 10, hi, "Hi @ [x]", ""},
		{"GSM, empty UDH with 6 fill bits", 0x00, 0x40, 5, empty8, "abc", "00"},
		{"GSM, UDH only", 0x00, 0x40, 7, mustHex(t, "05000301020100"), "", "050003010201"},
		{"empty", 0x00, 0, 0, nil, "", ""},
		{"UCS-2", 0x08, 0, 6, mustHex(t, "0436D83DDE00"), "ж😀", ""},
		{"UCS-2, class 0 (0x18)", 0x18, 0, 2, mustHex(t, "0436"), "ж", ""},
		{"UCS-2, message waiting (0xE0)", 0xE0, 0, 2, mustHex(t, "0436"), "ж", ""},
		{"UCS-2 with UDH", 0x08, 0x40, 10, mustHex(t, "0500030A020200410042"), "AB", "0500030A0202"},
		{"UCS-2 unpaired high surrogate", 0x08, 0, 4, mustHex(t, "D8000041"), "\uFFFDA", ""},
		{"UCS-2 unpaired low surrogate", 0x08, 0, 4, mustHex(t, "DC000041"), "\uFFFDA", ""},
		{"UCS-2 reversed pair", 0x08, 0, 4, mustHex(t, "DE00D83D"), "\uFFFD\uFFFD", ""},
		{"UCS-2 trailing high surrogate", 0x08, 0, 4, mustHex(t, "0041D83D"), "A\uFFFD", ""},
		{"UCS-2 odd octet", 0x08, 0, 3, mustHex(t, "004100"), "A\uFFFD", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, udh, err := Decode(tt.dcs, tt.esm, byte(tt.udl), tt.ud)
			if err != nil {
				t.Fatal(err)
			}
			if text != tt.text || !bytes.Equal(udh, mustHex(t, tt.udh)) {
				t.Errorf("Decode = %q, UDH %X; want %q, %s", text, udh, tt.text, tt.udh)
			}
		})
	}
}

func TestDecodeUDHIsACopy(t *testing.T) {
	ud := mustHex(t, "0500030A020200410042")
	_, udh, err := Decode(0x08, 0x40, 10, ud)
	if err != nil {
		t.Fatal(err)
	}
	udh[0] = 0xEE
	if ud[0] != 0x05 {
		t.Error("changing the returned UDH changed the caller's UD")
	}
}

func TestDecodeBinary(t *testing.T) {
	ud := mustHex(t, "050003010201DEADBEEF")
	for _, dcs := range []byte{0x04, 0x15, 0xF4, 0xF6, 0xFD, 0x24, 0x60} {
		text, udh, err := Decode(dcs, 0x40, byte(len(ud)), ud)
		if !errors.Is(err, ErrBinary) || text != "" {
			t.Errorf("DCS %02X: %q, %v; want ErrBinary", dcs, text, err)
		}
		if !bytes.Equal(udh, ud[:6]) {
			t.Errorf("DCS %02X: UDH %X, want %X", dcs, udh, ud[:6])
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name     string
		dcs, esm byte
		udl      int
		ud       string
	}{
		{"GSM UDL beyond data", 0x00, 0, 10, "C83408"},
		{"UCS-2 UDL beyond data", 0x08, 0, 4, "0041"},
		{"UDHI with no data", 0x00, 0x40, 0, ""},
		{"UDHI with no data, UCS-2", 0x08, 0x40, 0, ""},
		{"UDHL past UD", 0x08, 0x40, 5, "1000030102"},
		{"UDHL past UDL though UD is longer", 0x08, 0x40, 3, "0500030102010041"},
		{"UDH septets exceed UDL", 0x00, 0x40, 7, "06080401020201"},
		{"binary with bad UDHL", 0x04, 0x40, 2, "0900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.dcs, tt.esm, byte(tt.udl), mustHex(t, tt.ud))
			if !errors.Is(err, ErrBadUserData) {
				t.Errorf("err = %v, want ErrBadUserData", err)
			}
		})
	}
}

// gsmPart builds a GSM 7-bit part around raw septets, the way another
// sender might, including splits Encode never makes.
func gsmPart(ref uint16, total, seq byte, septets []byte) Part {
	udh := appendConcatUDH(nil, false, ref, total, seq)
	return Part{
		DCS: DCSGSM7, ESM: ESMUDHI, Ref: ref, Total: total, Seq: seq,
		UDL: byte(gsm7.HeaderSeptets(len(udh)) + len(septets)),
		UD:  append(udh, gsm7.PackWithFill(septets, gsm7.FillBits(len(udh)))...),
	}
}

func ucs2Part(ref uint16, total, seq byte, hexText string) Part {
	ud := appendConcatUDH(nil, false, ref, total, seq)
	b, _ := hexDecode(hexText)
	ud = append(ud, b...)
	return Part{DCS: DCSUCS2, ESM: ESMUDHI, UDL: byte(len(ud)), UD: ud, Ref: ref, Total: total, Seq: seq}
}

func hexDecode(s string) ([]byte, error) { return parseHex(s, 0) }

func mustEncode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := gsm7.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReassemble(t *testing.T) {
	tests := []struct {
		name  string
		parts []Part
		want  string
	}{
		{"none", nil, ""},
		{"escape split by a foreign sender",
			[]Part{gsmPart(3, 2, 1, []byte{'a', gsm7.Escape}), gsmPart(3, 2, 2, []byte{0x3C, 'b'})}, "a[b"},
		{"surrogate pair split by a foreign sender",
			[]Part{ucs2Part(3, 2, 1, "0041D83D"), ucs2Part(3, 2, 2, "DE000042")}, "A😀B"},
		{"coding changes between parts",
			[]Part{gsmPart(3, 3, 1, []byte("ab")), ucs2Part(3, 3, 2, "04360436"), gsmPart(3, 3, 3, []byte("c"))}, "abжжc"},
		{"missing middle part",
			[]Part{gsmPart(3, 3, 1, []byte("ab")), gsmPart(3, 3, 3, []byte("cd"))}, "abcd"},
		{"single without UDH",
			[]Part{{DCS: DCSGSM7, UDL: 10, UD: mustHex(t, "C8340800DAF0F01B1F")}}, "Hi @ [x]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Reassemble(tt.parts)
			if err != nil || got != tt.want {
				t.Errorf("Reassemble = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReassembleErrors(t *testing.T) {
	a := gsmPart(3, 2, 1, []byte("ab"))
	b := gsmPart(3, 2, 2, []byte("cd"))
	single := Part{DCS: DCSGSM7, UDL: 1, UD: []byte{0x41}}
	otherRef := gsmPart(4, 2, 2, []byte("cd"))
	otherTotal := gsmPart(3, 3, 2, []byte("cd"))
	badSeq := b
	badSeq.Seq = 3
	zeroSeq := a
	zeroSeq.Seq = 0
	for name, parts := range map[string][]Part{
		"reversed":          {b, a},
		"duplicate":         {a, a},
		"different ref":     {a, otherRef},
		"different total":   {a, otherTotal},
		"seq beyond total":  {a, badSeq},
		"seq zero":          {zeroSeq, b},
		"single among many": {a, single},
	} {
		if _, err := Reassemble(parts); !errors.Is(err, ErrNotOneMessage) {
			t.Errorf("%s: %v, want ErrNotOneMessage", name, err)
		}
	}
	bin := ucs2Part(3, 2, 2, "0041")
	bin.DCS = 0x04
	if _, err := Reassemble([]Part{a, bin}); !errors.Is(err, ErrBinary) {
		t.Errorf("binary part: %v, want ErrBinary", err)
	}
	short := b
	short.UDL = 200
	if _, err := Reassemble([]Part{a, short}); !errors.Is(err, ErrBadUserData) {
		t.Errorf("short part: %v, want ErrBadUserData", err)
	}
	if _, err := Reassemble([]Part{a, short}); err == nil || !strings.Contains(err.Error(), "part 2") {
		t.Errorf("error %v should name part 2", err)
	}
}
