package smdata

import (
	"strings"
	"testing"
)

// gsm160 is a full single-record message as an ESME sends it with
// data_coding 0: 160 unpacked septets, a few of them non-ASCII GSM
// characters and none an escape.
var gsm160 = func() []byte {
	s := []byte(strings.Repeat("Your code is 4711. \x09a va? Gr\x7e\x1ee aus K\x7cln, \x15 \x10 \x015 \x00 10:30. ", 3))
	return s[:160]
}()

func BenchmarkToPartsGSM160(b *testing.B) {
	m := Message{DataCoding: 0x00, ShortMessage: gsm160}
	b.SetBytes(int64(len(gsm160)))
	b.ReportAllocs()
	for b.Loop() {
		parts, err := ToParts(m, Options{})
		if err != nil || len(parts) != 1 || parts[0].UDL != 160 {
			b.Fatal(len(parts), err)
		}
	}
}

func BenchmarkFromPartGSM160(b *testing.B) {
	parts, err := ToParts(Message{DataCoding: 0x00, ShortMessage: gsm160}, Options{})
	if err != nil || len(parts) != 1 {
		b.Fatal(err)
	}
	p := parts[0]
	b.SetBytes(int64(len(gsm160)))
	b.ReportAllocs()
	for b.Loop() {
		_, _, sm, err := FromPart(p.DCS, p.ESM, p.UDL, p.UD, OutOptions{})
		if err != nil || len(sm) != 160 {
			b.Fatal(len(sm), err)
		}
	}
}

// BenchmarkToPartsKannelPart is the other common inbound shape: one
// 159-octet part of a long message, UDH included.
func BenchmarkToPartsKannelPart(b *testing.B) {
	m := Message{DataCoding: 0x00, ESMClass: 0x40, ShortMessage: append([]byte("\x05\x00\x03\x2a\x02\x01"), gsm160[:153]...)}
	b.SetBytes(int64(len(m.ShortMessage)))
	b.ReportAllocs()
	for b.Loop() {
		parts, err := ToParts(m, Options{})
		if err != nil || len(parts) != 1 || parts[0].UDL != 160 {
			b.Fatal(len(parts), err)
		}
	}
}

// BenchmarkToPartsLatin1Payload converts and splits a 400-character
// Latin-1 message_payload (3 GSM parts).
func BenchmarkToPartsLatin1Payload(b *testing.B) {
	m := Message{DataCoding: 0x03, Payload: []byte(strings.Repeat("Caf\xe9 cr\xe8me, 5 \xa3 [ok]. ", 20)[:400])}
	b.SetBytes(int64(len(m.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		parts, err := ToParts(m, Options{Ref: 7})
		if err != nil || len(parts) != 3 {
			b.Fatal(len(parts), err)
		}
	}
}
