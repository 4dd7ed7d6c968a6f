package pdu

import (
	"testing"
	"time"
)

// benchSubmitSM is a typical MT: a 160-character GSM text with a
// registered delivery request and one TLV, the shape the 100,000
// submit_sm/s target is about.
func benchSubmitSM() PDU {
	return PDU{Header: Header{Sequence: 12345}, Body: &SM{
		Cmd:                SubmitSM,
		Source:             Address{1, 1, "15550001111"},
		Dest:               Address{1, 1, "15552223333"},
		ValidityPeriod:     "000001000000000R",
		RegisteredDelivery: 1,
		ShortMessage:       []byte("The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox!!"),
		TLVs:               TLVs{TLVUint16(TagUserMessageReference, 42)},
	}}
}

// benchReceipt is a delivery receipt deliver_sm as the server sends it.
func benchReceipt() PDU {
	now := time.Date(2026, 12, 1, 18, 30, 0, 0, time.UTC)
	text := AppendReceipt(nil, Receipt{ID: "0123456789abcdef", Sub: 1, Dlvrd: 1,
		SubmitDate: now, DoneDate: now, Stat: StatDelivered, Text: "The quick brown fox"})
	return PDU{Header: Header{Sequence: 777}, Body: &SM{
		Cmd:          DeliverSM,
		Source:       Address{1, 1, "15552223333"},
		Dest:         Address{1, 1, "15550001111"},
		ESMClass:     0x04,
		ShortMessage: text,
		TLVs: TLVs{
			TLVCString(TagReceiptedMessageID, "0123456789abcdef"),
			TLVUint8(TagMessageState, StateDelivered),
		},
	}}
}

func BenchmarkDecodeSubmitSM(b *testing.B) {
	buf, err := Append(nil, benchSubmitSM())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSubmitSM(b *testing.B)  { benchAppend(b, benchSubmitSM()) }
func BenchmarkAppendDeliverSM(b *testing.B) { benchAppend(b, benchReceipt()) }

// benchAppend encodes p into a reused buffer, as the session does.
func benchAppend(b *testing.B, p PDU) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		out, err := Append(buf[:0], p)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

// BenchmarkReceiptDeliverSM is the server's whole cost of one receipt:
// formatting the text and encoding the PDU.
func BenchmarkReceiptDeliverSM(b *testing.B) {
	p := benchReceipt()
	sm := p.Body.(*SM)
	r := Receipt{ID: "0123456789abcdef", Sub: 1, Dlvrd: 1, SubmitDate: time.Now(), DoneDate: time.Now(),
		Stat: StatDelivered, Text: "The quick brown fox jumps"}
	text := make([]byte, 0, 256)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		sm.ShortMessage = AppendReceipt(text[:0], r)
		if _, err := Append(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReceipt(b *testing.B) {
	s := "id:0123456789abcdef sub:001 dlvrd:001 submit date:2612011830 done date:2612011831 stat:DELIVRD err:000 text:The quick brown fox"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReceipt(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAllocs pins the allocation budget the benchmarks report, so a change
// that adds per-field allocations fails a plain test run: decoding a
// submit_sm makes the body, one string copy, one octet copy and the TLV
// slice; encoding into a buffer with room makes nothing.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under coverage and the race detector")
	}
	buf, err := Append(nil, benchSubmitSM())
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(buf) }); n > 4 {
		t.Errorf("Decode(submit_sm) makes %v allocations, want at most 4", n)
	}
	el := []byte{0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1}
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(el) }); n != 0 {
		t.Errorf("Decode(enquire_link) makes %v allocations, want 0", n)
	}
	out := make([]byte, 0, 1024)
	for _, p := range []PDU{benchSubmitSM(), benchReceipt()} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Append(out[:0], p) }); n != 0 {
			t.Errorf("Append(%s) makes %v allocations, want 0", p.Body.CommandID(), n)
		}
	}
}
