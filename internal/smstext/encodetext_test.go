package smstext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"switchboard/internal/gsm7"
)

func TestParseEncodeTextAccepts(t *testing.T) {
	pack := func(fill int, s string) string {
		return fmt.Sprintf("%X", gsm7.PackWithFill(mustEncode(t, s), fill))
	}
	tests := []struct {
		name  string
		input string
		want  []Part
	}{
		{
			name:  "defaults, comments, blank lines, CRLF, lower case, no spaces",
			input: "# a comment\r\n\r\n   # an indented comment\n\t\nmsg 48692000201b3c781b3e\r\n",
			want:  []Part{{DCS: 0, UDL: 10, UD: mustHex(t, "C8340800DAF0F01B1F")}},
		},
		{
			name:  "no trailing newline, tabs as separators",
			input: "dcs\t0\tseptet\nmsg\t48 69",
			want:  []Part{{DCS: 0, UDL: 2, UD: mustHex(t, pack(0, "Hi"))}},
		},
		{
			name:  "empty message",
			input: "dcs 0 septet\nmsg \"\"\n",
			want:  []Part{{DCS: 0, UDL: 0, UD: []byte{}}},
		},
		{
			name:  "empty UCS-2 message",
			input: "dcs 8 octet\nmsg  \"\"  \n",
			want:  []Part{{DCS: 8, UDL: 0, UD: []byte{}}},
		},
		{
			name:  "UCS-2",
			input: "dcs 8 octet\nmsg 0436 D83D DE00\n",
			want:  []Part{{DCS: 8, UDL: 6, UD: mustHex(t, "0436D83DDE00")}},
		},
		{
			name:  "hex dcs with class",
			input: "dcs 0x18 octet\nmsg 0041\n",
			want:  []Part{{DCS: 0x18, UDL: 2, UD: mustHex(t, "0041")}},
		},
		{
			name:  "leading zero is decimal",
			input: "dcs 08 octet\nmsg 0041\n",
			want:  []Part{{DCS: 8, UDL: 2, UD: mustHex(t, "0041")}},
		},
		{
			name:  "8-bit data with any octets",
			input: "dcs 0xF6 octet\nmsg-udh 027000 FF80 00\n",
			want:  []Part{{DCS: 0xF6, ESM: 0x40, UDL: 6, UD: mustHex(t, "027000FF8000")}},
		},
		{
			name:  "septet parts with 8-bit concatenation",
			input: "dcs 0 septet\nmsg-udh 050003070201 48 69\nmsg-udh 05 00 03 07 02 02 21\n",
			want: []Part{
				{DCS: 0, ESM: 0x40, UDL: 9, UD: mustHex(t, "050003070201"+pack(1, "Hi")), Ref: 7, Total: 2, Seq: 1},
				{DCS: 0, ESM: 0x40, UDL: 8, UD: mustHex(t, "050003070202"+pack(1, "!")), Ref: 7, Total: 2, Seq: 2},
			},
		},
		{
			name:  "septet part with 16-bit concatenation and no fill",
			input: "msg-udh 06080412340101 41\n",
			want:  []Part{{DCS: 0, ESM: 0x40, UDL: 9, UD: mustHex(t, "06080412340101"+pack(0, "A")), Ref: 0x1234, Total: 1, Seq: 1}},
		},
		{
			name:  "UDH without concatenation, UDHL 0",
			input: "msg-udh 00 41\n",
			want:  []Part{{DCS: 0, ESM: 0x40, UDL: 3, UD: mustHex(t, "00"+pack(6, "A"))}},
		},
		{
			name:  "UDH only",
			input: "dcs 8 octet\nmsg-udh 050003010101\n",
			want:  []Part{{DCS: 8, ESM: 0x40, UDL: 6, UD: mustHex(t, "050003010101"), Ref: 1, Total: 1, Seq: 1}},
		},
		{
			name:  "invalid concatenation values leave the part single",
			input: "dcs 8 octet\nmsg-udh 050003010300\n",
			want:  []Part{{DCS: 8, ESM: 0x40, UDL: 6, UD: mustHex(t, "050003010300")}},
		},
		{
			name:  "first example of docs/smstext.md",
			input: "# A comment. Blank lines are ignored too.\n# The dcs line is optional; this is the default.\ndcs 0 septet\n# One whole message:\nmsg 4869200020 1B3C781B3E\n",
			want:  []Part{{DCS: 0, UDL: 10, UD: mustHex(t, "C8340800DAF0F01B1F")}},
		},
		{
			name:  "second example of docs/smstext.md",
			input: "dcs 8 octet\n# One line per part: the UDH (UDHL first), then the text.\nmsg-udh 050003070201 0048 0069\nmsg-udh 05 00 03 07 02 02 0021\n",
			want: []Part{
				{DCS: 8, ESM: 0x40, UDL: 10, UD: mustHex(t, "05000307020100480069"), Ref: 7, Total: 2, Seq: 1},
				{DCS: 8, ESM: 0x40, UDL: 8, UD: mustHex(t, "0500030702020021"), Ref: 7, Total: 2, Seq: 2},
			},
		},
		{
			name:  "160 septets",
			input: "msg " + strings.Repeat("61", 160) + "\n",
			want:  []Part{{DCS: 0, UDL: 160, UD: mustHex(t, pack(0, strings.Repeat("a", 160)))}},
		},
		{
			name:  "153 septets after a concatenation UDH",
			input: "msg-udh 050003010101" + strings.Repeat(" 61", 153) + "\n",
			want: []Part{{DCS: 0, ESM: 0x40, UDL: 160, Ref: 1, Total: 1, Seq: 1,
				UD: mustHex(t, "050003010101"+pack(1, strings.Repeat("a", 153)))}},
		},
		{
			name:  "140 octets",
			input: "dcs 4 octet\nmsg " + strings.Repeat("AB", 140) + "\n",
			want:  []Part{{DCS: 4, UDL: 140, UD: bytes.Repeat([]byte{0xAB}, 140)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := ParseEncodeText(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			assertSameParts(t, parts, tt.want)
			for _, p := range parts {
				checkPart(t, p)
			}
		})
	}
}

func TestParseEncodeTextRejects(t *testing.T) {
	long := strings.Repeat("61", 161)
	tests := []struct {
		name  string
		input string
		want  error
		line  int
	}{
		{"non-hex digit", "dcs 0 septet\nmsg 4G\n", ErrBadHex, 2},
		{"blank inside a pair", "msg 4 1\n", ErrBadHex, 1},
		{"odd digit count", "# c\nmsg 414\n", ErrBadHex, 2},
		{"trailing comment", "msg 41 # no\n", ErrBadHex, 1},
		{"0x prefix in hex", "msg 0x41\n", ErrBadHex, 1},
		{"high bit in septet mode", "msg 41 80\n", ErrHighBit, 1},
		{"high bit after a UDH", "msg-udh 050003010101 41 FF\n", ErrHighBit, 1},
		{"161 septets", "msg " + long + "\n", ErrTooManySeptets, 1},
		{"154 septets after a concatenation UDH", "msg-udh 050003010101" + strings.Repeat("61", 154) + "\n", ErrTooManySeptets, 1},
		{"141 octets", "dcs 4 octet\nmsg " + strings.Repeat("00", 141) + "\n", ErrTooManyOctets, 2},
		{"141 octets with UDH", "dcs 8 octet\nmsg-udh 050003010101" + strings.Repeat("00", 135) + "\n", ErrTooManyOctets, 2},
		{"UDHL past the line", "msg-udh 05 00 03\n", ErrUDHOverrun, 1},
		{"UDHL past the line, octet mode", "dcs 8 octet\n\nmsg-udh 0A0003010101\n", ErrUDHOverrun, 3},
		{"empty msg-udh", "msg-udh \"\"\n", ErrUDHOverrun, 1},
		{"IE past UDHL", "msg-udh 03 00 05 01 41\n", ErrBadUDH, 1},
		{"msg then msg-udh", "msg 41\nmsg-udh 0000\n", ErrMixed, 2},
		{"msg-udh then msg", "msg-udh 050003010201 41\nmsg-udh 050003010202 42\nmsg 43\n", ErrMixed, 3},
		{"UCS-2 DCS in septet mode", "dcs 8 septet\nmsg 41\n", ErrDCSMode, 1},
		{"GSM DCS in octet mode", "dcs 0 octet\nmsg 41\n", ErrDCSMode, 1},
		{"8-bit DCS in septet mode", "dcs 0xF4 septet\nmsg 41\n", ErrDCSMode, 1},
		{"odd UCS-2", "dcs 8 octet\nmsg 004100\n", ErrOddUCS2, 2},
		{"odd UCS-2 after UDH", "dcs 8 octet\nmsg-udh 050003010101 00\n", ErrOddUCS2, 2},
		{"second msg", "msg 41\nmsg 42\n", ErrSyntax, 2},
		{"unknown directive", "mesg 41\n", ErrSyntax, 1},
		{"directive glued to data", "msg41\n", ErrSyntax, 1},
		{"dcs without arguments", "dcs\n", ErrSyntax, 1},
		{"dcs without mode", "dcs 0\n", ErrSyntax, 1},
		{"dcs out of range", "dcs 256 octet\n", ErrSyntax, 1},
		{"dcs negative", "dcs -1 octet\n", ErrSyntax, 1},
		{"dcs bad mode", "dcs 0 bits\n", ErrSyntax, 1},
		{"dcs after msg", "msg 41\ndcs 0 septet\n", ErrSyntax, 2},
		{"second dcs", "dcs 0 septet\ndcs 8 octet\nmsg 0041\n", ErrSyntax, 2},
		{"msg without data", "msg\n", ErrSyntax, 1},
		{"msg with blanks only", "msg   \n", ErrSyntax, 1},
		{"quoted non-empty", "msg \"41\"\n", ErrBadHex, 1},
		{"line too long", "# " + strings.Repeat("x", maxLineLen) + "\nmsg 41\n", ErrSyntax, 1},
		{"256 parts", strings.Repeat("msg-udh 00\n", 256), ErrTooLong, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := ParseEncodeText(strings.NewReader(tt.input))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %d parts, %v; want %v", len(parts), err, tt.want)
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != tt.line {
				t.Fatalf("error %v is not at line %d", err, tt.line)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("error text %q does not start with the line", err)
			}
		})
	}
}

func TestParseEncodeTextColumns(t *testing.T) {
	_, err := ParseEncodeText(strings.NewReader("  msg 41 4Z\n"))
	if err == nil || !strings.Contains(err.Error(), "column 11") {
		t.Errorf("error %v should point at column 11", err)
	}
}

func TestParseEncodeTextNoMessage(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment\n", "dcs 8 octet\n"} {
		if _, err := ParseEncodeText(strings.NewReader(in)); !errors.Is(err, ErrNoMessage) {
			t.Errorf("%q: %v, want ErrNoMessage", in, err)
		}
	}
}

func TestParseEncodeText255Parts(t *testing.T) {
	parts, err := ParseEncodeText(strings.NewReader(strings.Repeat("msg-udh 00\n", 255)))
	if err != nil || len(parts) != 255 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseEncodeTextReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseEncodeText(io.MultiReader(strings.NewReader("msg 41\n"), failingReader{boom}))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want it to wrap the read error", err)
	}
}
