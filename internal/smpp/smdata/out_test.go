package smdata

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"switchboard/internal/smstext"
)

func TestFromPartErrors(t *testing.T) {
	tests := []struct {
		name          string
		dcs, esm, udl byte
		ud            []byte
	}{
		{"GSM UDL beyond 160 septets", 0x00, 0, 161, make([]byte, 141)},
		{"UCS-2 UDL beyond 140 octets", 0x08, 0, 142, make([]byte, 142)},
		{"8-bit UDL beyond 140 octets", 0x04, 0, 141, make([]byte, 141)},
		{"GSM UD shorter than UDL", 0x00, 0, 5, mustHex("E8329BFD")},
		{"UCS-2 UD shorter than UDL", 0x08, 0, 4, mustHex("0041")},
		{"UDHI with no user data", 0x00, 0x40, 0, nil},
		{"UDHL past the user data", 0x04, 0x40, 3, mustHex("050003")},
		{"UDH septets beyond UDL", 0x00, 0x40, 6, mustHex("050003010201")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, opts := range []OutOptions{{}, {GSMAsLatin1: true}} {
				dc, udhi, sm, err := FromPart(tt.dcs, tt.esm, tt.udl, tt.ud, opts)
				if !errors.Is(err, ErrBadUserData) {
					t.Errorf("%+v: FromPart = %02X %02X %X, %v; want ErrBadUserData", opts, dc, udhi, sm, err)
				}
			}
		})
	}
}

// TestFromPartOutDataCoding covers every TP-DCS: up to 0x0F the SMPP value
// for the alphabet, from 0x10 the TP-DCS itself.
func TestFromPartOutDataCoding(t *testing.T) {
	for v := range 256 {
		dcs := byte(v)
		c := smstext.CodingOf(dcs)
		udl, ud := byte(2), []byte{0x41, 0x42}
		if c == smstext.CodingGSM7 {
			ud = mustHex("41 21") // "AB" packed
		}
		want := dcs
		if dcs <= 0x0F {
			want = map[smstext.Coding]byte{smstext.CodingGSM7: 0x00, smstext.CodingUCS2: 0x08, smstext.CodingBinary: 0x04}[c]
		}
		dc, _, sm, err := FromPart(dcs, 0, udl, ud, OutOptions{})
		if err != nil || dc != want {
			t.Errorf("TP-DCS %#02x: data_coding %#02x, %v; want %#02x", dcs, dc, err, want)
		}
		if c == smstext.CodingGSM7 && string(sm) != "AB" || c != smstext.CodingGSM7 && !bytes.Equal(sm, ud) {
			t.Errorf("TP-DCS %#02x (%v): short_message %X", dcs, c, sm)
		}
	}
}

func TestGSMAsLatin1OnlyForDCS0(t *testing.T) {
	// With a message class the TP-DCS must survive, and data_coding 0x03
	// cannot carry one, so the text stays in septets.
	dc, _, sm, err := FromPart(0x10, 0, 5, mustHex("E8329BFD06"), OutOptions{GSMAsLatin1: true})
	if err != nil || dc != 0x10 || string(sm) != "hello" {
		t.Fatalf("got %#02x %q %v; want 0x10 \"hello\"", dc, sm, err)
	}
	// With a UDH the header goes first and the text is Latin-1 after it.
	udh := "\x05\x00\x03\x07\x02\x01"
	parts, err := ToParts(Message{ESMClass: 0x40, ShortMessage: []byte(udh + "caf\x05")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := parts[0]
	dc, udhi, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{GSMAsLatin1: true})
	if err != nil || dc != 0x03 || udhi != 0x40 || string(sm) != udh+"caf\xe9" {
		t.Fatalf("got %#02x %02X %q %v", dc, udhi, sm, err)
	}
	// Odd escapes come out as a GSM receiver shows them: 1B 41 is 'A'
	// and SS2 (1B 1B) a space.
	parts, err = ToParts(Message{ShortMessage: []byte("a\x1b\x41\x1b\x1bb")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p = parts[0]
	if dc, _, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{GSMAsLatin1: true}); err != nil || dc != 0x03 || string(sm) != "aA b" {
		t.Fatalf("got %#02x %q %v; want 0x03 \"aA b\"", dc, sm, err)
	}
}

// TestRoundTrip sends SMPP messages in and out again: what comes out must
// be what went in, part by part, for each coding, with and without a UDH
// and when split.
func TestRoundTrip(t *testing.T) {
	udh := "\x05\x00\x03\x07\x02\x01"
	// Unpacked septets: "Hello @ 10:30, £5 [ok] € Ø", then SS2.
	gsm := "Hello \x00 10:30, \x015 \x1b\x3cok\x1b\x3e \x1b\x65 \x0b\x1b\x1b"
	ucs2 := mustHex("0041 0436 D83DDE00 20AC")
	bin := mustHex("00 FF 80 7F 1B")
	tests := []struct {
		name string
		msg  Message
	}{
		{"GSM", Message{DataCoding: 0x00, ShortMessage: []byte(gsm)}},
		{"GSM with UDH", Message{DataCoding: 0x00, ESMClass: 0x40, ShortMessage: []byte(udh + gsm)}},
		{"GSM, 160 septets", Message{DataCoding: 0x00, ShortMessage: []byte(strings.Repeat("z", 160))}},
		{"GSM, Kannel part", Message{DataCoding: 0x00, ESMClass: 0x40, ShortMessage: []byte(udh + strings.Repeat("z", 153))}},
		{"GSM class 1", Message{DataCoding: 0x11, ShortMessage: []byte(gsm)}},
		{"GSM, long payload", Message{DataCoding: 0x00, Payload: []byte(strings.Repeat(gsm, 20))}},
		{"UCS-2", Message{DataCoding: 0x08, ShortMessage: ucs2}},
		{"UCS-2 with UDH", Message{DataCoding: 0x08, ESMClass: 0x40, ShortMessage: append([]byte(udh), ucs2...)}},
		{"UCS-2, long payload", Message{DataCoding: 0x08, Payload: bytes.Repeat(ucs2, 40)}},
		{"binary", Message{DataCoding: 0x04, ShortMessage: bin}},
		{"binary with UDH", Message{DataCoding: 0x04, ESMClass: 0x40, ShortMessage: append([]byte(udh), bin...)}},
		{"binary class 2", Message{DataCoding: 0xF6, ShortMessage: bin}},
		{"binary, long payload", Message{DataCoding: 0x04, Payload: bytes.Repeat(bin, 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := ToParts(tt.msg, Options{Ref: 9})
			if err != nil {
				t.Fatal(err)
			}
			body := tt.msg.ShortMessage
			if tt.msg.Payload != nil {
				body = tt.msg.Payload
			}
			var got []byte
			for _, p := range parts {
				dc, udhi, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if dc != tt.msg.DataCoding || len(sm) > 254 {
					t.Fatalf("data_coding %#02x, %d octets", dc, len(sm))
				}
				if len(parts) == 1 {
					if udhi != tt.msg.ESMClass&0x40 {
						t.Fatalf("UDHI %02X, sent %02X", udhi, tt.msg.ESMClass)
					}
					got = sm
					continue
				}
				// Parts we split carry our 6-octet header; the text
				// after it is the sender's.
				if udhi != 0x40 || !bytes.Equal(sm[:4], []byte{5, 0, 3, 9}) {
					t.Fatalf("split part has UDHI %02X and starts %X", udhi, sm[:6])
				}
				got = append(got, sm[6:]...)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("out %X\nin  %X", got, body)
			}
			// Text agrees with what the store's view reassembles.
			text, err := Text(tt.msg)
			rtext, rerr := smstext.Reassemble(parts)
			if text != rtext || (err == nil) != (rerr == nil) {
				t.Fatalf("Text = %q, %v; Reassemble = %q, %v", text, err, rtext, rerr)
			}
		})
	}
}

// TestLatin1RoundTrip: Latin-1 in, Latin-1 out with GSMAsLatin1, for every
// Latin-1 character that GSM has; UCS-2 out for the others, same text.
func TestLatin1RoundTrip(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	for b := range 256 {
		in := []byte{'<', byte(b), '>'}
		parts, err := ToParts(Message{DataCoding: 0x03, ShortMessage: in}, Options{})
		if err != nil || len(parts) != 1 {
			t.Fatalf("%#02x: %v", b, err)
		}
		p := parts[0]
		dc, _, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{GSMAsLatin1: true})
		if err != nil {
			t.Fatal(err)
		}
		text, err := smstext.Reassemble(parts)
		if err != nil || text != "<"+string(rune(b))+">" {
			t.Fatalf("%#02x: stored text %q, %v", b, text, err)
		}
		if latin1GSM[b] != 0 {
			if p.DCS != 0x00 || dc != 0x03 || !bytes.Equal(sm, in) {
				t.Errorf("%#02x: TP-DCS %#02x, out data_coding %#02x %X", b, p.DCS, dc, sm)
			}
		} else if p.DCS != 0x08 || dc != 0x08 || !bytes.Equal(sm, []byte{0, '<', 0, byte(b), 0, '>'}) {
			t.Errorf("%#02x: TP-DCS %#02x, out data_coding %#02x %X", b, p.DCS, dc, sm)
		}
	}
	// The whole of Latin-1 at once has non-GSM characters, so all of it
	// goes as UCS-2 (one DCS per message) and reads back unchanged.
	text, err := Text(Message{DataCoding: 0x03, Payload: all})
	if err != nil || len([]rune(text)) != 256 {
		t.Fatalf("Text of all Latin-1: %d runes, %v", len([]rune(text)), err)
	}
	for i, r := range []rune(text) {
		if r != rune(i) {
			t.Fatalf("rune %d is %U", i, r)
		}
	}
}

// TestLatin1Table checks the GSM table against the characters GSM 03.38
// shares with Latin-1, written out by hand.
func TestLatin1Table(t *testing.T) {
	const basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	want := map[rune]uint16{}
	for i, r := range []rune(basic) {
		if r < 0x100 && r != 0x1b {
			want[r] = l1Valid | uint16(i)
		}
	}
	for code, r := range map[byte]rune{0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|'} {
		want[r] = l1Valid | l1Ext | uint16(code)
	}
	for b := range 256 {
		if latin1GSM[b] != want[rune(b)] {
			t.Errorf("latin1GSM[%#02x] = %#04x, want %#04x", b, latin1GSM[b], want[rune(b)])
		}
	}
}

func TestText(t *testing.T) {
	udh := "\x05\x00\x03\x07\x02\x01"
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"GSM", Message{ShortMessage: []byte("Hi \x00 \x1b\x3cx\x1b\x3e \x1b\x65")}, "Hi @ [x] €"},
		{"GSM without its UDH", Message{ESMClass: 0x40, ShortMessage: []byte(udh + "Hi")}, "Hi"},
		{"IA5", Message{DataCoding: 0x01, ShortMessage: []byte("a`b")}, "a`b"},
		{"Latin-1", Message{DataCoding: 0x03, ShortMessage: []byte("caf\xe9 \xe7a")}, "café ça"},
		{"UCS-2 with a surrogate pair", Message{DataCoding: 0x08, ShortMessage: mustHex("D83DDE00 0021")}, "😀!"},
		{"UCS-2 unpaired surrogates", Message{DataCoding: 0x08, ShortMessage: mustHex("D83D 0041 DE00")}, "\uFFFDA\uFFFD"},
		{"UCS-2 class 0", Message{DataCoding: 0x18, ShortMessage: mustHex("0436")}, "ж"},
		{"long payload", Message{Payload: []byte(strings.Repeat("x", 1000))}, strings.Repeat("x", 1000)},
		{"long payload with a UDH", Message{ESMClass: 0x40, Payload: []byte(udh + strings.Repeat("x", 1000))}, strings.Repeat("x", 1000)},
		{"SAR does not matter", Message{ShortMessage: []byte("x"), SAR: &SAR{}}, "x"},
		{"empty", Message{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Text(tt.msg)
			if err != nil || got != tt.want {
				t.Fatalf("Text = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, dc := range []byte{0x02, 0x04, 0xF4, 0x24} {
		if _, err := Text(Message{DataCoding: dc, ShortMessage: []byte{1, 2}}); !errors.Is(err, smstext.ErrBinary) {
			t.Errorf("data_coding %#02x: %v, want ErrBinary", dc, err)
		}
	}
}

// TestEncodedPartsRoundTrip takes parts made by smstext.Encode (the submit
// path) for random text, sends each out with FromPart and takes it back in
// with ToParts: the store must get the identical part back, so a message
// relayed through an SMPP peer is unchanged.
func TestEncodedPartsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcXYZ019 @£Δ€[]{}^~|\\\f\n\rçжЖ😀\u00a0é")
	for i := range 2000 {
		n := rng.IntN(400)
		r := make([]rune, n)
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		text := string(r)
		parts, err := smstext.Encode(text, uint16(rng.IntN(0x10000)), smstext.Options{Ref16: i%2 == 1, ForceUCS2: i%7 == 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			dc, udhi, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{})
			if err != nil || len(sm) > 254 {
				t.Fatalf("%q: FromPart: %d octets, %v", text, len(sm), err)
			}
			back, err := ToParts(Message{DataCoding: dc, ESMClass: udhi, ShortMessage: sm}, Options{})
			if err != nil || len(back) != 1 {
				t.Fatalf("%q: ToParts: %d parts, %v", text, len(back), err)
			}
			q := back[0]
			if q.DCS != p.DCS || q.ESM != p.ESM || q.UDL != p.UDL || !bytes.Equal(q.UD, p.UD) ||
				q.Ref != p.Ref || q.Total != p.Total || q.Seq != p.Seq {
				t.Fatalf("%q:\n sent %+v\n back %+v", text, p, q)
			}
		}
		if got, err := smstext.Reassemble(parts); err != nil || got != text || !utf8.ValidString(got) {
			t.Fatalf("Reassemble = %q, %v", got, err)
		}
	}
}
