package smdata

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"switchboard/internal/smstext"
)

// The vectors below are the ones printed in docs/smpp-text.md; keep the two
// in step. The GSM hex of the long messages is the same as in
// docs/smstext.md (whose tests check it against smstext.Encode), because an
// SMPP message and the same text typed into submit must be stored alike.

// digits200 is "0123456789" twenty times: 200 GSM septets, which are also
// their own unpacked form because digits are ASCII and GSM alike.
var digits200 = strings.Repeat("0123456789", 20)

// packedDigitsPart1 is digits200[:153] packed after a 6-octet UDH (1 fill
// bit); packedDigitsPart2 is digits200[153:] the same way.
const (
	packedDigitsPart1 = "6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
		"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
		"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
		"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564"
	packedDigitsPart2 = "66B49AED86CBC162B219AD66BBE172B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CB01"
)

// wantPart is one expected store part; ud is hex and may contain spaces.
type wantPart struct {
	dcs, esm, udl byte
	ud            string
	ref           uint16
	total, seq    byte
}

var inVectors = []struct {
	name  string
	msg   Message
	opts  Options
	parts []wantPart
}{
	{
		name:  "hello, data_coding 0 unpacked",
		msg:   Message{DataCoding: 0x00, ShortMessage: []byte("hello")},
		parts: []wantPart{{dcs: 0x00, udl: 5, ud: "E8 32 9B FD 06"}},
	},
	{
		name: "Kannel part: UDH 05 00 03 2A 02 01 and 153 unpacked septets (159 octets)",
		msg: Message{DataCoding: 0x00, ESMClass: 0x40,
			ShortMessage: append(mustHex("05 00 03 2A 02 01"), digits200[:153]...)},
		parts: []wantPart{{dcs: 0x00, esm: 0x40, udl: 160, ud: "0500032A0201" + packedDigitsPart1, ref: 0x2A, total: 2, seq: 1}},
	},
	{
		name: "200 GSM characters in message_payload, ref 0x42",
		msg:  Message{DataCoding: 0x00, Payload: []byte(digits200)},
		opts: Options{Ref: 0x42},
		parts: []wantPart{
			{dcs: 0x00, esm: 0x40, udl: 160, ud: "050003420201" + packedDigitsPart1, ref: 0x42, total: 2, seq: 1},
			{dcs: 0x00, esm: 0x40, udl: 54, ud: "050003420202" + packedDigitsPart2, ref: 0x42, total: 2, seq: 2},
		},
	},
	{
		name: "escape pair at the 153rd septet moves to part 2, ref 0x45",
		msg: Message{DataCoding: 0x00,
			Payload: []byte(strings.Repeat("a", 152) + "\x1b\x3c" + strings.Repeat("b", 10))},
		opts: Options{Ref: 0x45},
		parts: []wantPart{
			{dcs: 0x00, esm: 0x40, udl: 159, ud: "050003450201" + "C2" + strings.Repeat("E170381C0E87C3", 18) + "E170381C0E8701",
				ref: 0x45, total: 2, seq: 1},
			{dcs: 0x00, esm: 0x40, udl: 19, ud: "050003450202" + "363CB1582C168BC562B118", ref: 0x45, total: 2, seq: 2},
		},
	},
	{
		name:  "café in Latin-1 (data_coding 3) becomes GSM 7-bit",
		msg:   Message{DataCoding: 0x03, ShortMessage: []byte("caf\xe9")},
		parts: []wantPart{{dcs: 0x00, udl: 4, ud: "E3 B0 B9 00"}},
	},
	{
		name:  "ç in Latin-1 is not in GSM, so UCS-2",
		msg:   Message{DataCoding: 0x03, ShortMessage: []byte("\xe7a")},
		parts: []wantPart{{dcs: 0x08, udl: 4, ud: "00E7 0061"}},
	},
	{
		name:  "Ç in Latin-1 is GSM septet 09",
		msg:   Message{DataCoding: 0x03, ShortMessage: []byte("\xc7")},
		parts: []wantPart{{dcs: 0x00, udl: 1, ud: "09"}},
	},
	{
		name:  "IA5 [x] gets an escape",
		msg:   Message{DataCoding: 0x01, ShortMessage: []byte("[x]")},
		parts: []wantPart{{dcs: 0x00, udl: 5, ud: "1B 1E 7E E3 03"}},
	},
	{
		name: "UCS-2 payload, surrogate pair at the 67th unit moves to part 2, ref 0x44",
		msg: Message{DataCoding: 0x08,
			Payload: mustHex(strings.Repeat("0436", 66) + "D83DDE00" + "0065006E0064")},
		opts: Options{Ref: 0x44},
		parts: []wantPart{
			{dcs: 0x08, esm: 0x40, udl: 138, ud: "050003440201" + strings.Repeat("0436", 66), ref: 0x44, total: 2, seq: 1},
			{dcs: 0x08, esm: 0x40, udl: 16, ud: "050003440202" + "D83DDE00" + "0065006E0064", ref: 0x44, total: 2, seq: 2},
		},
	},
	{
		name:  "SAR ref 0x2A, segment 2 of 3, becomes an 8-bit concatenation UDH",
		msg:   Message{DataCoding: 0x00, ShortMessage: []byte("hi"), SAR: &SAR{Ref: 0x2A, Total: 3, Seq: 2}},
		parts: []wantPart{{dcs: 0x00, esm: 0x40, udl: 9, ud: "0500032A0302 D0 69", ref: 0x2A, total: 3, seq: 2}},
	},
	{
		name:  "SAR ref 0x1234 needs the 16-bit IE",
		msg:   Message{DataCoding: 0x00, ShortMessage: []byte("hi"), SAR: &SAR{Ref: 0x1234, Total: 3, Seq: 2}},
		parts: []wantPart{{dcs: 0x00, esm: 0x40, udl: 10, ud: "06080412340302 E8 34", ref: 0x1234, total: 3, seq: 2}},
	},
	{
		name:  "data_coding 0x11 is a TP-DCS: GSM unpacked, class 1, kept",
		msg:   Message{DataCoding: 0x11, ShortMessage: []byte("hello")},
		parts: []wantPart{{dcs: 0x11, udl: 5, ud: "E8329BFD06"}},
	},
	{
		name:  "data_coding 0xF5 is 8-bit data, class 1, kept",
		msg:   Message{DataCoding: 0xF5, ShortMessage: mustHex("DEADBEEF")},
		parts: []wantPart{{dcs: 0xF5, udl: 4, ud: "DEADBEEF"}},
	},
	{
		name:  "data_coding 2 is 8-bit data, stored as TP-DCS 4",
		msg:   Message{DataCoding: 0x02, ShortMessage: mustHex("00FF")},
		parts: []wantPart{{dcs: 0x04, udl: 2, ud: "00FF"}},
	},
	{
		name:  "empty message",
		msg:   Message{DataCoding: 0x00},
		parts: []wantPart{{dcs: 0x00, udl: 0, ud: ""}},
	},
}

func TestInVectors(t *testing.T) {
	for _, v := range inVectors {
		t.Run(v.name, func(t *testing.T) {
			parts, err := ToParts(v.msg, v.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkParts(t, parts, v.parts)
		})
	}
}

func checkParts(t *testing.T, parts []smstext.Part, want []wantPart) {
	t.Helper()
	if len(parts) != len(want) {
		t.Fatalf("%d parts, want %d: %+v", len(parts), len(want), parts)
	}
	for i, p := range parts {
		w := want[i]
		wud := mustHex(w.ud)
		if p.DCS != w.dcs || p.ESM != w.esm || p.UDL != w.udl || !bytes.Equal(p.UD, wud) {
			t.Errorf("part %d: DCS %02X ESM %02X UDL %d UD %X\n want DCS %02X ESM %02X UDL %d UD %X",
				i+1, p.DCS, p.ESM, p.UDL, p.UD, w.dcs, w.esm, w.udl, wud)
		}
		if p.Ref != w.ref || p.Total != w.total || p.Seq != w.seq {
			t.Errorf("part %d: ref %#x %d/%d, want ref %#x %d/%d", i+1, p.Ref, p.Seq, p.Total, w.ref, w.seq, w.total)
		}
	}
}

var outVectors = []struct {
	name          string
	dcs, esm, udl byte
	ud            string
	opts          OutOptions
	dc, udhi      byte
	sm            string
}{
	{
		name: "hello goes out unpacked as data_coding 0",
		dcs:  0x00, udl: 5, ud: "E8329BFD06",
		dc: 0x00, sm: "68656C6C6F",
	},
	{
		name: "a stored 153-septet part goes out as Kannel's 159 octets",
		dcs:  0x00, esm: 0x40, udl: 160, ud: "050003420201" + packedDigitsPart1,
		dc: 0x00, udhi: 0x40, sm: "050003420201" + hex.EncodeToString([]byte(digits200[:153])),
	},
	{
		name: "café with GSMAsLatin1 goes as data_coding 3",
		dcs:  0x00, udl: 4, ud: "E3B0B900", opts: OutOptions{GSMAsLatin1: true},
		dc: 0x03, sm: "636166E9",
	},
	{
		name: "€ is not Latin-1, so GSMAsLatin1 falls back to septets",
		dcs:  0x00, udl: 2, ud: "9B32", opts: OutOptions{GSMAsLatin1: true},
		dc: 0x00, sm: "1B65",
	},
	{
		name: "TP-DCS 0x11 (class 1) is kept and still unpacked",
		dcs:  0x11, udl: 5, ud: "E8329BFD06",
		dc: 0x11, sm: "68656C6C6F",
	},
	{
		name: "TP-DCS 0x01 (GSM, reserved bits) is normalised to 0, not IA5",
		dcs:  0x01, udl: 5, ud: "E8329BFD06",
		dc: 0x00, sm: "68656C6C6F",
	},
	{
		name: "TP-DCS 0x05 (8-bit) is normalised to 4, not JIS",
		dcs:  0x05, udl: 2, ud: "00FF",
		dc: 0x04, sm: "00FF",
	},
	{
		name: "UCS-2 with a UDH goes as it is",
		dcs:  0x08, esm: 0x40, udl: 16, ud: "050003440202D83DDE000065006E0064",
		dc: 0x08, udhi: 0x40, sm: "050003440202D83DDE000065006E0064",
	},
	{
		name: "octets beyond UDL are dropped",
		dcs:  0x04, udl: 2, ud: "00FF0000",
		dc: 0x04, sm: "00FF",
	},
}

func TestOutVectors(t *testing.T) {
	for _, v := range outVectors {
		t.Run(v.name, func(t *testing.T) {
			dc, udhi, sm, err := FromPart(v.dcs, v.esm, v.udl, mustHex(v.ud), v.opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(v.sm); dc != v.dc || udhi != v.udhi || !bytes.Equal(sm, want) {
				t.Errorf("got data_coding %02X UDHI %02X short_message %X (%d octets)\nwant data_coding %02X UDHI %02X short_message %X (%d octets)",
					dc, udhi, sm, len(sm), v.dc, v.udhi, want, len(want))
			}
		})
	}
}

// mustHex decodes hex with optional spaces; the vectors are constants, so
// a typo is a bug in the test and panics.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}
