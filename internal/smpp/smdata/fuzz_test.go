package smdata

import (
	"bytes"
	"errors"
	"testing"

	"switchboard/internal/smstext"
)

// FuzzToParts feeds arbitrary SMPP user data to ToParts. It must never
// panic; it fails only with the package's sentinels; every part it returns
// must be a valid record (checkWellFormed: at most 140 octets, UDL agreeing
// with the UD, concatenation fields agreeing with the UDH, decodable on its
// own); Text must agree with the reassembled parts; and every part must
// survive FromPart and ToParts unchanged, so relaying through SMPP peers
// never alters a stored message. The committed corpus is in
// testdata/fuzz/FuzzToParts.
func FuzzToParts(f *testing.F) {
	f.Fuzz(func(t *testing.T, dc, esm byte, sm, payload []byte, hasPayload, hasSAR bool,
		sarRef uint16, sarTotal, sarSeq byte, ref uint16, ref16 bool, maxParts byte) {
		m := Message{DataCoding: dc, ESMClass: esm, ShortMessage: sm}
		if hasPayload {
			m.Payload = payload
			if m.Payload == nil {
				m.Payload = []byte{}
			}
		}
		if hasSAR {
			m.SAR = &SAR{Ref: sarRef, Total: sarTotal, Seq: sarSeq}
		}
		opts := Options{Ref: ref, Ref16: ref16, MaxParts: int(maxParts)}
		smCopy, payloadCopy := bytes.Clone(sm), bytes.Clone(payload)

		parts, err := ToParts(m, opts)
		text, terr := Text(m)
		if !bytes.Equal(sm, smCopy) || !bytes.Equal(payload, payloadCopy) {
			t.Fatal("the input was modified")
		}
		if err != nil {
			if parts != nil {
				t.Fatalf("parts with error %v", err)
			}
			known := false
			for _, s := range []error{ErrBothBodies, ErrUnsupportedCoding, ErrBadUserData, ErrTooLong, ErrBadSAR} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("unexpected error %v", err)
			}
			// Only splitting and the SAR TLVs are ToParts' own concern;
			// every other check is shared, so Text fails the same way.
			if !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrBadSAR) && (terr == nil || terr.Error() != err.Error()) {
				t.Fatalf("ToParts: %v but Text: %v", err, terr)
			}
			return
		}
		checkWellFormed(t, parts, opts)

		rtext, rerr := smstext.Reassemble(parts)
		switch {
		case errors.Is(terr, smstext.ErrBinary):
			if !errors.Is(rerr, smstext.ErrBinary) {
				t.Fatalf("Text says binary, Reassemble = %q, %v", rtext, rerr)
			}
		case terr != nil || rerr != nil || text != rtext:
			t.Fatalf("Text = %q, %v; Reassemble = %q, %v", text, terr, rtext, rerr)
		}

		for i, p := range parts {
			outDC, udhi, out, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{})
			if err != nil || len(out) > 254 {
				t.Fatalf("part %d: FromPart: %d octets, %v", i+1, len(out), err)
			}
			back, err := ToParts(Message{DataCoding: outDC, ESMClass: udhi, ShortMessage: out}, Options{})
			if err != nil || len(back) != 1 {
				t.Fatalf("part %d: back in: %d parts, %v", i+1, len(back), err)
			}
			q := back[0]
			// Only the TP-DCS may change, and only to the plain value of
			// its alphabet, because 0x00-0x0F go out as SMPP's values.
			wantDCS := p.DCS
			if p.DCS <= 0x0F {
				wantDCS = map[smstext.Coding]byte{smstext.CodingGSM7: 0x00, smstext.CodingUCS2: 0x08, smstext.CodingBinary: 0x04}[smstext.CodingOf(p.DCS)]
			}
			if q.DCS != wantDCS || q.ESM != p.ESM || q.UDL != p.UDL || !bytes.Equal(q.UD, p.UD) ||
				q.Ref != p.Ref || q.Total != p.Total || q.Seq != p.Seq {
				t.Fatalf("part %d changed on the way out and in:\n %+v\n %+v", i+1, p, q)
			}
			// With GSMAsLatin1 the octets may differ, but not the text.
			l1DC, l1UDHI, l1, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{GSMAsLatin1: true})
			if err != nil || len(l1) > 254 {
				t.Fatalf("part %d: FromPart with GSMAsLatin1: %d octets, %v", i+1, len(l1), err)
			}
			want, _, werr := smstext.Decode(p.DCS, p.ESM, p.UDL, p.UD)
			got, gerr := Text(Message{DataCoding: l1DC, ESMClass: l1UDHI, ShortMessage: l1})
			if (werr == nil) != (gerr == nil) || got != want {
				t.Fatalf("part %d: Latin-1 option changed the text %q (%v) to %q (%v)", i+1, want, werr, got, gerr)
			}
		}
	})
}
