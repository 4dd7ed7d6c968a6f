package smdata

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"switchboard/internal/smstext"
)

func TestToPartsErrors(t *testing.T) {
	udh := "\x05\x00\x03\x07\x02\x01"
	tests := []struct {
		name string
		msg  Message
		opts Options
		want error
	}{
		{"short_message and message_payload", Message{ShortMessage: []byte("a"), Payload: []byte("b")}, Options{}, ErrBothBodies},
		{"data_coding 0 octet with the high bit", Message{ShortMessage: []byte("ab\x80")}, Options{}, ErrBadUserData},
		{"data_coding 0 high bit after the first 8 octets", Message{ShortMessage: []byte("abcdefghijklm\x80nopqrstuvwxyz")}, Options{}, ErrBadUserData},
		{"data_coding 0 packed text", Message{ShortMessage: mustHex("E8329BFD06")}, Options{}, ErrBadUserData},
		{"data_coding 0x11 octet with the high bit", Message{DataCoding: 0x11, ShortMessage: []byte("\xff")}, Options{}, ErrBadUserData},
		{"IA5 octet with the high bit", Message{DataCoding: 0x01, ShortMessage: []byte("caf\xe9")}, Options{}, ErrBadUserData},
		{"UCS-2 odd length", Message{DataCoding: 0x08, ShortMessage: []byte{0, 'a', 0}}, Options{}, ErrBadUserData},
		{"UCS-2 odd length after a UDH", Message{DataCoding: 0x08, ESMClass: 0x40, ShortMessage: []byte(udh + "\x00a\x00")}, Options{}, ErrBadUserData},
		{"UCS-2 payload odd length", Message{DataCoding: 0x08, Payload: make([]byte, 301)}, Options{}, ErrBadUserData},
		{"UDHI on an empty message", Message{ESMClass: 0x40}, Options{}, ErrBadUserData},
		{"UDHL past the end", Message{ESMClass: 0x40, ShortMessage: []byte("\x05\x00\x03")}, Options{}, ErrBadUserData},
		{"UDH element past the header", Message{ESMClass: 0x40, ShortMessage: []byte("\x03\x00\x05\x01abc")}, Options{}, ErrBadUserData},
		{"UDH element without its length", Message{ESMClass: 0x40, ShortMessage: []byte("\x01\x00abc")}, Options{}, ErrBadUserData},
		{"own UDH and 154 septets", Message{ESMClass: 0x40, ShortMessage: []byte(udh + strings.Repeat("x", 154))}, Options{}, ErrTooLong},
		{"own UDH in a long payload", Message{ESMClass: 0x40, Payload: []byte(udh + strings.Repeat("x", 300))}, Options{}, ErrTooLong},
		{"own UDH and 135 octets", Message{DataCoding: 0x04, ESMClass: 0x40, ShortMessage: []byte(udh + strings.Repeat("x", 135))}, Options{}, ErrTooLong},
		{"SAR segment of 154 septets", Message{ShortMessage: []byte(strings.Repeat("x", 154)), SAR: &SAR{Ref: 1, Total: 2, Seq: 1}}, Options{}, ErrTooLong},
		{"SAR segment of 153 septets with a 16-bit reference", Message{ShortMessage: []byte(strings.Repeat("x", 153)), SAR: &SAR{Ref: 0x100, Total: 2, Seq: 1}}, Options{}, ErrTooLong},
		{"SAR segment of 67 UCS-2 units with a 16-bit reference", Message{DataCoding: 0x08, ShortMessage: make([]byte, 134), SAR: &SAR{Ref: 0x100, Total: 2, Seq: 1}}, Options{}, ErrTooLong},
		{"more parts than MaxParts", Message{Payload: []byte(strings.Repeat("x", 307))}, Options{MaxParts: 2}, ErrTooLong},
		{"more than 255 parts", Message{DataCoding: 0x04, Payload: make([]byte, 134*255+1)}, Options{}, ErrTooLong},
		{"more than 255 parts though MaxParts says 1000", Message{DataCoding: 0x04, Payload: make([]byte, 134*255+1)}, Options{MaxParts: 1000}, ErrTooLong},
		{"payload longer than 160 octets per part", Message{Payload: make([]byte, 160*255+1)}, Options{}, ErrTooLong},
		{"short_message longer than 160 octets per part", Message{ShortMessage: make([]byte, 160*3+1)}, Options{MaxParts: 3}, ErrTooLong},
		{"huge payload and a short_message", Message{ShortMessage: []byte("a"), Payload: make([]byte, 1<<20)}, Options{}, ErrBothBodies},
		{"SAR total 0", Message{ShortMessage: []byte("a"), SAR: &SAR{Ref: 1, Total: 0, Seq: 0}}, Options{}, ErrBadSAR},
		{"SAR seq 0", Message{ShortMessage: []byte("a"), SAR: &SAR{Ref: 1, Total: 2, Seq: 0}}, Options{}, ErrBadSAR},
		{"SAR seq past total", Message{ShortMessage: []byte("a"), SAR: &SAR{Ref: 1, Total: 2, Seq: 3}}, Options{}, ErrBadSAR},
	}
	for _, dc := range []byte{0x05, 0x06, 0x07, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E} {
		tests = append(tests, struct {
			name string
			msg  Message
			opts Options
			want error
		}{"data_coding " + hexByte(dc), Message{DataCoding: dc, ShortMessage: []byte("a")}, Options{}, ErrUnsupportedCoding})
	}
	sentinels := []error{ErrBothBodies, ErrBadUserData, ErrTooLong, ErrBadSAR, ErrUnsupportedCoding}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := ToParts(tt.msg, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ToParts = %d parts, %v; want %v", len(parts), err, tt.want)
			}
			if parts != nil {
				t.Errorf("parts returned with the error: %+v", parts)
			}
			// Each failure is exactly one kind, so the SMPP layer's
			// status mapping is unambiguous.
			for _, s := range sentinels {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("error %v also matches %v", err, s)
				}
			}
			// Text shares the checks, except those about splitting.
			if tt.want != ErrTooLong && tt.want != ErrBadSAR {
				if _, err := Text(tt.msg); !errors.Is(err, tt.want) {
					t.Errorf("Text: %v, want %v", err, tt.want)
				}
			}
		})
	}
}

// TestHighBitOffset checks that the error points at the offending octet,
// counted from the start of short_message, past a UDH and past the
// eight-at-a-time fast path.
func TestHighBitOffset(t *testing.T) {
	for _, tt := range []struct {
		m    Message
		want string
	}{
		{Message{ShortMessage: []byte("abcdefghijklm\x80nop")}, "0x80 at offset 13"},
		{Message{ShortMessage: []byte("abcdefgh\xff")}, "0xFF at offset 8"},
		{Message{ESMClass: 0x40, ShortMessage: []byte("\x00abc\x90")}, "0x90 at offset 4"},
	} {
		_, err := ToParts(tt.m, Options{})
		if !errors.Is(err, ErrBadUserData) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.m.ShortMessage, err, tt.want)
		}
	}
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return "0x" + string([]byte{digits[b>>4], digits[b&15]})
}

// TestClassify checks every data_coding against a table written out from
// SMPP v3.4 §5.2.19 and TS 23.038 §4, independently of classify's logic.
func TestClassify(t *testing.T) {
	for v := range 256 {
		dc := byte(v)
		var (
			wantDCS  = dc
			wantForm form
			wantErr  bool
		)
		switch {
		case dc == 0x00, dc == 0x01, dc == 0x03:
			wantDCS, wantForm = 0x00, formSeptets
		case dc == 0x02, dc == 0x04:
			wantDCS, wantForm = 0x04, formOctets
		case dc == 0x08:
			wantDCS, wantForm = 0x08, formUCS2
		case dc >= 0x05 && dc <= 0x0E:
			wantErr = true
		case dc >= 0x20 && dc <= 0x3F, dc >= 0x60 && dc <= 0x7F: // compressed
			wantForm = formOctets
		case dc >= 0x14 && dc <= 0x17, dc >= 0x54 && dc <= 0x57, dc >= 0xF4 && dc <= 0xF7, dc >= 0xFC:
			wantForm = formOctets
		case dc >= 0x18 && dc <= 0x1B, dc >= 0x48 && dc <= 0x4B, dc >= 0x58 && dc <= 0x5B, dc >= 0xE0 && dc <= 0xEF:
			wantForm = formUCS2
		case dc >= 0x44 && dc <= 0x47:
			wantForm = formOctets
		default: // 0x0F, 0x10-0x13, 0x1C-0x1F, 0x40-0x43, 0x4C-0x53, 0x5C-0x5F, 0x80-0xDF, 0xF0-0xF3, 0xF8-0xFB
			wantForm = formSeptets
		}
		dcs, f, _, err := classify(dc)
		if wantErr {
			if !errors.Is(err, ErrUnsupportedCoding) {
				t.Errorf("classify(%#02x) = %#02x, %d, %v; want ErrUnsupportedCoding", dc, dcs, f, err)
			}
			continue
		}
		if err != nil || dcs != wantDCS || f != wantForm {
			t.Errorf("classify(%#02x) = %#02x, %d, %v; want %#02x, %d", dc, dcs, f, err, wantDCS, wantForm)
		}
	}
}

// septetCounts and octetCounts give what the boundary tests care about: the
// text units in each part, after the header in front of them.
func septetCounts(t *testing.T, parts []smstext.Part) []int {
	t.Helper()
	var n []int
	for _, p := range parts {
		hl := 0
		if p.ESM&0x40 != 0 {
			hl = int(p.UD[0]) + 1
		}
		hs := (hl*8 + 6) / 7
		n = append(n, int(p.UDL)-hs)
	}
	return n
}

func octetCounts(parts []smstext.Part) []int {
	var n []int
	for _, p := range parts {
		hl := 0
		if p.ESM&0x40 != 0 {
			hl = int(p.UD[0]) + 1
		}
		n = append(n, int(p.UDL)-hl)
	}
	return n
}

func TestSplitBoundaries(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		msg   Message
		opts  Options
		count func([]smstext.Part) []int
		want  []int
	}{
		{"160 septets fit one record", Message{ShortMessage: []byte(x(160))}, Options{}, nil, []int{160}},
		{"161 septets in short_message are split", Message{ShortMessage: []byte(x(161))}, Options{}, nil, []int{153, 8}},
		{"306 septets in 2 parts", Message{Payload: []byte(x(306))}, Options{MaxParts: 2}, nil, []int{153, 153}},
		{"16-bit reference: 152 per part", Message{Payload: []byte(x(305))}, Options{Ref16: true}, nil, []int{152, 152, 1}},
		{"escape pair at the boundary moves", Message{Payload: []byte(x(152) + "\x1b\x65" + x(10))}, Options{}, nil, []int{152, 12}},
		{"escape pair just inside the boundary stays", Message{Payload: []byte(x(151) + "\x1b\x65" + x(10))}, Options{}, nil, []int{153, 10}},
		// A second escape is the code of the first (SS2), so the escape at
		// septet 153 here ends a pair and starts nothing; a check that
		// only looks at the last septet would wrongly cut at 152.
		{"SS2 pair then escape pair across the boundary", Message{Payload: []byte(x(151) + "\x1b\x1b\x1b\x41" + x(10))}, Options{}, nil, []int{153, 12}},
		{"SS2 pair at the boundary moves", Message{Payload: []byte(x(152) + "\x1b\x1b" + x(10))}, Options{}, nil, []int{152, 12}},
		{"trailing lone escape", Message{Payload: []byte(x(160) + "\x1b")}, Options{}, nil, []int{153, 8}},
		{"140 UCS-2 octets fit one record", Message{DataCoding: 0x08, Payload: make([]byte, 140)}, Options{}, octetCounts, []int{140}},
		{"142 UCS-2 octets are split", Message{DataCoding: 0x08, ShortMessage: make([]byte, 142)}, Options{}, octetCounts, []int{134, 8}},
		{"UCS-2, 16-bit reference: 66 units", Message{DataCoding: 0x08, Payload: make([]byte, 142)}, Options{Ref16: true}, octetCounts, []int{132, 10}},
		{"unpaired high surrogate at the boundary is not held back",
			Message{DataCoding: 0x08, Payload: mustHex(strings.Repeat("0436", 66) + "D83D" + strings.Repeat("0041", 5))}, Options{}, octetCounts, []int{134, 10}},
		{"140 octets of 8-bit data fit", Message{DataCoding: 0x04, Payload: make([]byte, 140)}, Options{}, octetCounts, []int{140}},
		{"141 octets of 8-bit data are split", Message{DataCoding: 0x04, Payload: make([]byte, 141)}, Options{}, octetCounts, []int{134, 7}},
		{"8-bit data, 16-bit reference: 133 per part", Message{DataCoding: 0x04, Payload: make([]byte, 141)}, Options{Ref16: true}, octetCounts, []int{133, 8}},
		{"own UDH and 153 septets fit", Message{ESMClass: 0x40, ShortMessage: []byte("\x05\x00\x03\x07\x02\x01" + x(153))}, Options{}, nil, []int{153}},
		{"SAR and 153 septets fit", Message{ShortMessage: []byte(x(153)), SAR: &SAR{Ref: 1, Total: 2, Seq: 1}}, Options{}, nil, []int{153}},
		{"SAR ref 255 still takes the 8-bit IE", Message{ShortMessage: []byte(x(153)), SAR: &SAR{Ref: 255, Total: 2, Seq: 1}}, Options{}, nil, []int{153}},
		{"SAR with a 16-bit reference and 152 septets fit", Message{ShortMessage: []byte(x(152)), SAR: &SAR{Ref: 256, Total: 2, Seq: 1}}, Options{}, nil, []int{152}},
		{"Latin-1 brackets cost 2 septets each", Message{DataCoding: 0x03, Payload: []byte(strings.Repeat("[", 100))}, Options{}, nil, []int{152, 48}},
		{"long Latin-1 text with ç goes as UCS-2", Message{DataCoding: 0x03, Payload: []byte(strings.Repeat("\xe7", 100))}, Options{}, octetCounts, []int{134, 66}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := ToParts(tt.msg, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			if tt.count != nil {
				got = tt.count(parts)
			} else {
				got = septetCounts(t, parts)
			}
			if !equalInts(got, tt.want) {
				t.Fatalf("text per part %v, want %v", got, tt.want)
			}
			checkWellFormed(t, parts, tt.opts)
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

// checkWellFormed checks what every result of ToParts must satisfy: size
// limits, UDL against the UD length, concatenation fields against the UDH,
// and that each part decodes on its own.
func checkWellFormed(t testing.TB, parts []smstext.Part, opts Options) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	limit := opts.MaxParts
	if limit <= 0 || limit > 255 {
		limit = 255
	}
	if len(parts) > limit {
		t.Fatalf("%d parts, limit %d", len(parts), limit)
	}
	for i, p := range parts {
		if len(p.UD) > 140 {
			t.Fatalf("part %d: %d octets of UD", i+1, len(p.UD))
		}
		if smstext.CodingOf(p.DCS) == smstext.CodingGSM7 {
			if p.UDL > 160 || len(p.UD) != (7*int(p.UDL)+7)/8 {
				t.Fatalf("part %d: UDL %d septets in %d octets", i+1, p.UDL, len(p.UD))
			}
		} else if int(p.UDL) != len(p.UD) {
			t.Fatalf("part %d: UDL %d octets but %d present", i+1, p.UDL, len(p.UD))
		}
		if p.ESM != 0 && p.ESM != 0x40 {
			t.Fatalf("part %d: ESM %02X", i+1, p.ESM)
		}
		var udh []byte
		if p.ESM != 0 {
			udh = p.UD[:int(p.UD[0])+1]
			if _, err := smstext.ParseUDH(udh); err != nil {
				t.Fatalf("part %d: %v", i+1, err)
			}
		}
		ref, total, seq, _ := smstext.Concat(udh)
		if p.Ref != ref || p.Total != total || p.Seq != seq {
			t.Fatalf("part %d: ref %d %d/%d, UDH says ref %d %d/%d", i+1, p.Ref, p.Seq, p.Total, ref, seq, total)
		}
		if len(parts) > 1 && (int(p.Total) != len(parts) || int(p.Seq) != i+1) {
			t.Fatalf("part %d: %d/%d of %d parts", i+1, p.Seq, p.Total, len(parts))
		}
		_, dudh, err := smstext.Decode(p.DCS, p.ESM, p.UDL, p.UD)
		switch c := smstext.CodingOf(p.DCS); {
		case c == smstext.CodingBinary || c == smstext.CodingCompressed:
			if !errors.Is(err, smstext.ErrBinary) {
				t.Fatalf("part %d: Decode of %v = %v", i+1, c, err)
			}
		case err != nil:
			t.Fatalf("part %d: Decode: %v", i+1, err)
		}
		if !bytes.Equal(dudh, udh) {
			t.Fatalf("part %d: Decode's UDH %X, want %X", i+1, dudh, udh)
		}
	}
}

// TestLargestMessages checks that the early length guard of ToParts
// refuses nothing that fits: 255 full GSM parts, and 160 septets in one.
func TestLargestMessages(t *testing.T) {
	parts, err := ToParts(Message{Payload: bytes.Repeat([]byte("x"), 153*255)}, Options{})
	if err != nil || len(parts) != 255 {
		t.Fatalf("153×255 septets: %d parts, %v", len(parts), err)
	}
	checkWellFormed(t, parts, Options{})
	parts, err = ToParts(Message{ShortMessage: bytes.Repeat([]byte("x"), 160)}, Options{MaxParts: 1})
	if err != nil || len(parts) != 1 {
		t.Fatalf("160 septets, MaxParts 1: %d parts, %v", len(parts), err)
	}
	if _, err := ToParts(Message{ShortMessage: bytes.Repeat([]byte("x"), 161)}, Options{MaxParts: 1}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("161 septets, MaxParts 1: %v", err)
	}
}

func TestEightBitReferenceUsesLowByte(t *testing.T) {
	parts, err := ToParts(Message{Payload: []byte(strings.Repeat("x", 200))}, Options{Ref: 0x1234})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !bytes.Equal(p.UD[:4], []byte{5, 0, 3, 0x34}) || p.Ref != 0x34 {
			t.Errorf("UDH %X, Part.Ref %#x; want 05 00 03 34, 0x34", p.UD[:6], p.Ref)
		}
	}
	parts, err = ToParts(Message{Payload: []byte(strings.Repeat("x", 200))}, Options{Ref: 0x1234, Ref16: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !bytes.Equal(p.UD[:5], []byte{6, 8, 4, 0x12, 0x34}) || p.Ref != 0x1234 {
			t.Errorf("UDH %X, Part.Ref %#x; want 06 08 04 12 34, 0x1234", p.UD[:7], p.Ref)
		}
	}
}

func TestOwnUDHWinsOverSAR(t *testing.T) {
	sm := []byte("\x05\x00\x03\x07\x03\x02hi")
	for _, sar := range []*SAR{{Ref: 9, Total: 4, Seq: 4}, {Ref: 9, Total: 0, Seq: 5}} {
		parts, err := ToParts(Message{ESMClass: 0x40, ShortMessage: sm, SAR: sar}, Options{})
		if err != nil {
			t.Fatalf("SAR %+v: %v", *sar, err)
		}
		checkParts(t, parts, []wantPart{{dcs: 0, esm: 0x40, udl: 9, ud: "050003070302 D0 69", ref: 7, total: 3, seq: 2}})
	}
}

func TestUDHWithoutConcatenation(t *testing.T) {
	// A port-addressing header (IEI 05) says nothing about concatenation,
	// so the part is single as far as the store is concerned.
	sm := mustHex("06 05 04 0B 84 23 F0 DEADBEEF")
	parts, err := ToParts(Message{DataCoding: 0x04, ESMClass: 0x40, ShortMessage: sm}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, parts, []wantPart{{dcs: 0x04, esm: 0x40, udl: 11, ud: "0605040B8423F0DEADBEEF"}})
}

func TestPartsDoNotAliasInput(t *testing.T) {
	for _, m := range []Message{
		{DataCoding: 0x04, ShortMessage: []byte("abc")},
		{DataCoding: 0x08, ShortMessage: []byte("\x00a")},
		{DataCoding: 0x04, ESMClass: 0x40, ShortMessage: []byte("\x00abc")},
		{DataCoding: 0x04, Payload: make([]byte, 300)},
		{DataCoding: 0x00, ESMClass: 0x40, ShortMessage: []byte("\x00abc")},
	} {
		parts, err := ToParts(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var before [][]byte
		for _, p := range parts {
			before = append(before, bytes.Clone(p.UD))
		}
		for i := range m.ShortMessage {
			m.ShortMessage[i] ^= 0x55
		}
		for i := range m.Payload {
			m.Payload[i] ^= 0x55
		}
		for i, p := range parts {
			if !bytes.Equal(p.UD, before[i]) {
				t.Errorf("data_coding %#02x: part %d changed with the input", m.DataCoding, i+1)
			}
		}
	}
}

// TestPartsDoNotOverlap checks that appending to one part's UD cannot
// overwrite the next part, since all parts share one buffer.
func TestPartsDoNotOverlap(t *testing.T) {
	parts, err := ToParts(Message{DataCoding: 0x04, Payload: bytes.Repeat([]byte{0xAA}, 300)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second := bytes.Clone(parts[1].UD)
	_ = append(parts[0].UD, 0xFF)
	if !bytes.Equal(parts[1].UD, second) {
		t.Fatal("appending to part 1 changed part 2")
	}
}

func TestEmptyPayloadIsOneEmptyPart(t *testing.T) {
	for _, m := range []Message{{}, {Payload: []byte{}}, {DataCoding: 0x08, Payload: []byte{}}, {DataCoding: 0x03}} {
		parts, err := ToParts(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 1 || parts[0].UDL != 0 || len(parts[0].UD) != 0 || parts[0].ESM != 0 {
			t.Errorf("%+v: %+v", m, parts)
		}
	}
}

// CheckSize refuses what no part count could hold, whatever the content,
// and lets through what may fit.
func TestCheckSize(t *testing.T) {
	big := Message{Payload: make([]byte, 64<<10)}
	if err := CheckSize(big, Options{MaxParts: 255}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("64 KiB payload: %v", err)
	}
	if err := CheckSize(Message{Payload: make([]byte, 160*4)}, Options{MaxParts: 4}); err != nil {
		t.Fatalf("640 octets in 4 parts: %v", err)
	}
	if err := CheckSize(Message{Payload: make([]byte, 160*4+1)}, Options{MaxParts: 4}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("641 octets in 4 parts: %v", err)
	}
}
