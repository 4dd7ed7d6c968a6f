package coresock

import (
	"bytes"
	"testing"

	"switchboard/internal/pms"
)

func TestAddressRoundTrip(t *testing.T) {
	for _, a := range []pms.Address{
		{},
		{TON: 1, NPI: 1, Digits: "16195550100"},
		{TON: 0, NPI: 0, Digits: "12345"},
		{TON: 0, NPI: 0, Digits: "1"},
		{TON: 2, NPI: 9, Digits: "0123456789*#abc"},
		{TON: 1, NPI: 1, Digits: "12345678901234567890"},
		{TON: pms.TONAlphanumeric, Digits: "Kannel"},
		{TON: pms.TONAlphanumeric, Digits: "A"},
		{TON: pms.TONAlphanumeric, Digits: "ABCDEFGHIJK"},
		{TON: pms.TONAlphanumeric, Digits: "x{}"}, // extension-table characters
		{TON: pms.TONAlphanumeric, NPI: 0, Digits: "@@@@@@@"},
	} {
		enc, err := EncodeAddress(a)
		if err != nil {
			t.Fatalf("EncodeAddress(%+v): %v", a, err)
		}
		// The wire field must be byte-identical to what the store keeps
		// for the same address, as source and as destination.
		var rec [pms.RecordSize]byte
		r := pms.Record{Kind: pms.KindSM, Src: a, Dst: a}
		if err := pms.Encode(rec[:], &r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc[:], rec[42:54]) || !bytes.Equal(enc[:], rec[54:66]) {
			t.Fatalf("%+v: wire % x, record % x / % x", a, enc, rec[42:54], rec[54:66])
		}
		got, err := DecodeAddress(enc[:])
		if err != nil || got != a {
			t.Fatalf("DecodeAddress(% x) = %+v, %v; want %+v", enc, got, err, a)
		}
	}
}

func TestAddressRejects(t *testing.T) {
	for _, a := range []pms.Address{
		{TON: 8, Digits: "1"},
		{NPI: 16, Digits: "1"},
		{TON: 1, Digits: ""},
		{Digits: "123456789012345678901"},
		{Digits: "12+"},
		{TON: pms.TONAlphanumeric, Digits: "ABCDEFGHIJKL"},
		{TON: pms.TONAlphanumeric, Digits: "日本"},
	} {
		if enc, err := EncodeAddress(a); err == nil {
			t.Errorf("EncodeAddress(%+v) = % x", a, enc)
		}
	}
	canon, _ := EncodeAddress(pms.Address{TON: pms.TONAlphanumeric, Digits: "Kannel"})
	for name, mutate := range map[string]func(b []byte){
		"alpha count one more":       func(b []byte) { b[0]++ }, // 12 semi-octets still decode to 6 septets
		"alpha junk after septets":   func(b []byte) { b[11] = 1 },
		"alpha spare bits set":       func(b []byte) { b[7] |= 0x80 },
		"alpha count too big":        func(b []byte) { b[0] = 21 },
		"alpha count zero":           func(b []byte) { b[0] = 0 },
		"type without extension bit": func(b []byte) { b[1] &^= 0x80 },
	} {
		b := canon
		mutate(b[:])
		if a, err := DecodeAddress(b[:]); err == nil {
			t.Errorf("%s: DecodeAddress(% x) = %+v", name, b, a)
		}
	}
	if _, err := DecodeAddress(make([]byte, 11)); err == nil {
		t.Error("short field accepted")
	}
}
