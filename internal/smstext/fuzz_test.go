package smstext

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseEncodeText feeds arbitrary input to the sms-encode-text reader.
// It must never panic; whatever it accepts must be a valid part (at most
// 140 octets, UDL agreeing with the UD, concatenation fields agreeing with
// the UDH) that Decode can handle; and every rejection must be a LineError
// or ErrNoMessage, since a strings.Reader never fails. Seeds live in
// testdata/fuzz/FuzzParseEncodeText.
func FuzzParseEncodeText(f *testing.F) {
	f.Add("dcs 0 septet\nmsg 4869200020 1B3C781B3E\n")
	f.Fuzz(func(t *testing.T, input string) {
		parts, err := ParseEncodeText(strings.NewReader(input))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) && !errors.Is(err, ErrNoMessage) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if len(parts) != 0 {
				t.Fatalf("error %v with %d parts", err, len(parts))
			}
			return
		}
		if len(parts) == 0 || len(parts) > maxTotal {
			t.Fatalf("%d parts without error", len(parts))
		}
		for _, p := range parts {
			checkPart(t, p)
			if p.DCS != parts[0].DCS || p.ESM&^ESMUDHI != 0 || (len(parts) > 1 && p.ESM != ESMUDHI) {
				t.Fatalf("part DCS %02X ESM %02X among %d parts with DCS %02X", p.DCS, p.ESM, len(parts), parts[0].DCS)
			}
			text, udh, err := Decode(p.DCS, p.ESM, p.UDL, p.UD)
			if err != nil && !errors.Is(err, ErrBinary) {
				t.Fatalf("Decode of an accepted part %+v: %v", p, err)
			}
			if err == nil && !utf8.ValidString(text) {
				t.Fatalf("Decode gave invalid UTF-8 %q", text)
			}
			ref, total, seq, ok := Concat(udh)
			if !ok {
				ref, total, seq = 0, 0, 0
			}
			if p.Ref != ref || p.Total != total || p.Seq != seq {
				t.Fatalf("part says %d %d/%d, UDH %X says %d %d/%d", p.Ref, p.Seq, p.Total, udh, ref, seq, total)
			}
		}
	})
}

// FuzzDecode checks that Decode survives any combination of DCS, ESM, UDL
// and user data, returns valid UTF-8 when it succeeds, returns a UDH that
// is exactly one header long, and agrees with Reassemble on a single part.
// Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(byte(0), byte(0), byte(10), []byte("\xc8\x34\x08\x00\xda\xf0\xf0\x1b\x1f"))
	f.Fuzz(func(t *testing.T, dcs, esm, udl byte, ud []byte) {
		text, udh, err := Decode(dcs, esm, udl, ud)
		if udh != nil && (esm&ESMUDHI == 0 || len(udh) != 1+int(udh[0])) {
			t.Fatalf("UDH %X with ESM %02X", udh, esm)
		}
		if err != nil {
			if !errors.Is(err, ErrBinary) && !errors.Is(err, ErrBadUserData) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if text != "" {
				t.Fatalf("error %v with text %q", err, text)
			}
			return
		}
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 %q", text)
		}
		whole, err := Reassemble([]Part{{DCS: dcs, ESM: esm, UDL: udl, UD: ud}})
		if err != nil || whole != text {
			t.Fatalf("Reassemble of the single part = %q, %v; Decode gave %q", whole, err, text)
		}
	})
}

// FuzzEncodeRoundTrip checks that any valid UTF-8 text survives Encode
// followed by Decode and Reassemble, under the options the flags select
// (bit 0 ForceUCS2, bit 1 Ref16, the rest MaxParts), that ErrTooLong comes
// exactly when the text needs more parts than allowed, and that invalid
// UTF-8 is refused. Seeds live in testdata/fuzz/FuzzEncodeRoundTrip.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add("Hi @ [x]", uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, text string, ref uint16, flags byte) {
		opts := Options{ForceUCS2: flags&1 != 0, Ref16: flags&2 != 0, MaxParts: int(flags >> 2)}
		parts, err := Encode(text, ref, opts)
		if !utf8.ValidString(text) {
			if !errors.Is(err, ErrInvalidText) {
				t.Fatalf("Encode(%q) = %d parts, %v; want ErrInvalidText", text, len(parts), err)
			}
			return
		}
		limit := opts.MaxParts
		if limit == 0 {
			limit = maxTotal
		}
		if errors.Is(err, ErrTooLong) {
			unlimited := opts
			unlimited.MaxParts = maxTotal
			all, err2 := Encode(text, ref, unlimited)
			if err2 == nil && len(all) <= limit {
				t.Fatalf("ErrTooLong with limit %d, but the text fits in %d parts", limit, len(all))
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q, %+v): %v", text, opts, err)
		}
		if len(parts) > limit {
			t.Fatalf("%d parts, limit %d", len(parts), limit)
		}
		checkEncoded(t, text, ref, opts, parts)
	})
}
