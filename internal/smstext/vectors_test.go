package smstext

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"switchboard/internal/gsm7"
)

// vectorPart is one expected part: TP-UDL and the UD in hex.
type vectorPart struct {
	udl int
	ud  string
}

// vectors are the test vectors of docs/smstext.md; keep the two in step.
// The long hex strings are split only for readability.
var vectors = []struct {
	name  string
	text  string
	ref   uint16
	opts  Options
	dcs   byte
	parts []vectorPart
}{
	{
		name: "spec example", text: "Hi @ [x]", dcs: DCSGSM7,
		parts: []vectorPart{{10, "C834080 0DAF0F01B1F"}},
	},
	{
		name: "empty", text: "", dcs: DCSGSM7,
		parts: []vectorPart{{0, ""}},
	},
	{
		name: "200 GSM characters, 8-bit ref", text: strings.Repeat("0123456789", 20), ref: 0x42, dcs: DCSGSM7,
		parts: []vectorPart{
			{160, "050003420201" + "6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
				"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
				"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564335ACD76C3E5" +
				"6031D98C56B3DD7039584C36A3D56C375C0E1693CD6835DB0D9783C564"},
			{54, "050003420202" + "66B49AED86CBC162B219AD66BBE172B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CB01"},
		},
	},
	{
		name: "200 GSM characters, 16-bit ref", text: strings.Repeat("0123456789", 20), ref: 0x1234,
		opts: Options{Ref16: true}, dcs: DCSGSM7,
		parts: []vectorPart{
			{160, "06080412340201" + "B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CBC162B219AD66BBE172" +
				"B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CBC162B219AD66BBE172" +
				"B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CBC162B219AD66BBE172" +
				"B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CBC162"},
			{56, "06080412340202" + "B219AD66BBE172B0986C46ABD96EB81C2C269BD16AB61B2E078BC966B49AED86CBC162B219AD66BBE172"},
		},
	},
	{
		name: "100 UCS-2 characters", text: strings.Repeat("абвгдежзий", 10), ref: 0x43, dcs: DCSUCS2,
		parts: []vectorPart{
			{140, "050003430201" + strings.Repeat("0430043104320433043404350436043704380439", 6) +
				"0430043104320433043404350436"},
			{72, "050003430202" + "043704380439" + strings.Repeat("0430043104320433043404350436043704380439", 3)},
		},
	},
	{
		name: "emoji at the 67th unit", text: strings.Repeat("ж", 66) + "😀end", ref: 0x44, dcs: DCSUCS2,
		parts: []vectorPart{
			{138, "050003440201" + strings.Repeat("0436", 66)},
			{16, "050003440202" + "D83DDE00" + "0065006E0064"},
		},
	},
	{
		name: "escape at the 153rd septet", text: strings.Repeat("a", 152) + "[" + strings.Repeat("b", 10), ref: 0x45, dcs: DCSGSM7,
		parts: []vectorPart{
			{159, "050003450201" + "C2" + strings.Repeat("E170381C0E87C3", 18) + "E170381C0E8701"},
			{19, "050003450202" + "363CB1582C168BC562B118"},
		},
	},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			parts, err := Encode(v.text, v.ref, v.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != len(v.parts) {
				t.Fatalf("%d parts, want %d", len(parts), len(v.parts))
			}
			for i, p := range parts {
				want := mustHex(t, v.parts[i].ud)
				if p.DCS != v.dcs || int(p.UDL) != v.parts[i].udl || !bytes.Equal(p.UD, want) {
					t.Errorf("part %d: DCS %02X UDL %d UD %X\nwant DCS %02X UDL %d UD %X",
						i+1, p.DCS, p.UDL, p.UD, v.dcs, v.parts[i].udl, want)
				}
				single := len(parts) == 1
				if single != (p.ESM == 0 && p.Total == 0 && p.Seq == 0 && p.Ref == 0) {
					t.Errorf("part %d: ESM %02X ref %d %d/%d for %d parts", i+1, p.ESM, p.Ref, p.Seq, p.Total, len(parts))
				}
				if !single && (p.ESM != ESMUDHI || int(p.Total) != len(parts) || int(p.Seq) != i+1 || p.Ref != v.ref) {
					t.Errorf("part %d: ESM %02X ref %d %d/%d", i+1, p.ESM, p.Ref, p.Seq, p.Total)
				}
			}
			got, err := Reassemble(parts)
			if err != nil || got != v.text {
				t.Errorf("Reassemble = %q, %v", got, err)
			}
			// The same message written in sms-encode-text form must parse
			// to the same parts, which ties the two entry paths together.
			parsed, err := ParseEncodeText(strings.NewReader(toEncodeText(t, parts)))
			if err != nil {
				t.Fatalf("ParseEncodeText(toEncodeText(parts)): %v", err)
			}
			assertSameParts(t, parsed, parts)
		})
	}
}

// TestSpecExampleParses checks the example of sms-encode-text.md against
// Encode of its text.
func TestSpecExampleParses(t *testing.T) {
	parts, err := ParseEncodeText(strings.NewReader("dcs 0 septet\nmsg 4869200020 1B3C781B3E\n"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Encode("Hi @ [x]", 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertSameParts(t, parts, want)
	if s, _, err := Decode(parts[0].DCS, parts[0].ESM, parts[0].UDL, parts[0].UD); err != nil || s != "Hi @ [x]" {
		t.Errorf("Decode = %q, %v", s, err)
	}
}

// toEncodeText writes parts the way sms-encode-text would: unpacked septets
// in septet mode, with the UDH as octets in msg-udh lines.
func toEncodeText(t testing.TB, parts []Part) string {
	t.Helper()
	var b strings.Builder
	septet := CodingOf(parts[0].DCS) == CodingGSM7
	fmt.Fprintf(&b, "# generated\ndcs %d %s\n", parts[0].DCS, modeName(septet))
	for _, p := range parts {
		directive := "msg"
		var data []byte
		if p.ESM&ESMUDHI != 0 {
			directive = "msg-udh"
		}
		if septet {
			_, udh, body, err := userData(p.DCS, p.ESM, p.UDL, p.UD)
			if err != nil {
				t.Fatal(err)
			}
			data = append(udh, body...)
		} else {
			data = p.UD
		}
		if len(data) == 0 {
			fmt.Fprintf(&b, "%s \"\"\n", directive)
			continue
		}
		fmt.Fprintf(&b, "%s % X\n", directive, data)
	}
	return b.String()
}

func assertSameParts(t testing.TB, got, want []Part) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d parts, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.DCS != w.DCS || g.ESM != w.ESM || g.UDL != w.UDL || !bytes.Equal(g.UD, w.UD) ||
			g.Ref != w.Ref || g.Total != w.Total || g.Seq != w.Seq {
			t.Errorf("part %d:\n got %+v\nwant %+v", i+1, g, w)
		}
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad test hex %q: %v", s, err)
	}
	return b
}

// checkPart verifies the invariants every part must satisfy, whatever
// produced it: the size limit, and a UDL consistent with the UD length.
func checkPart(t testing.TB, p Part) {
	t.Helper()
	if len(p.UD) > MaxUDOctets {
		t.Fatalf("UD of %d octets", len(p.UD))
	}
	want := int(p.UDL)
	if CodingOf(p.DCS) == CodingGSM7 {
		want = (7*int(p.UDL) + 7) / 8
		if p.UDL > MaxUDSeptets {
			t.Fatalf("UDL %d septets", p.UDL)
		}
	}
	if len(p.UD) != want {
		t.Fatalf("UD of %d octets, UDL %d (DCS %02X) implies %d", len(p.UD), p.UDL, p.DCS, want)
	}
	if p.ESM&ESMUDHI != 0 && CodingOf(p.DCS) == CodingGSM7 && len(p.UD) > 0 {
		if hs := gsm7.HeaderSeptets(1 + int(p.UD[0])); hs > int(p.UDL) {
			t.Fatalf("UDH takes %d septets, UDL %d", hs, p.UDL)
		}
	}
}
