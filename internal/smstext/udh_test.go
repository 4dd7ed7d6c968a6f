package smstext

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseUDH(t *testing.T) {
	ies, err := ParseUDH(mustHex(t, "0B 000342 0201 0802 AABB 2400"))
	if err != nil {
		t.Fatal(err)
	}
	want := []IE{{0x00, mustHex(t, "420201")}, {0x08, mustHex(t, "AABB")}, {0x24, []byte{}}}
	if len(ies) != len(want) {
		t.Fatalf("%d IEs, want %d", len(ies), len(want))
	}
	for i := range ies {
		if ies[i].ID != want[i].ID || !bytes.Equal(ies[i].Data, want[i].Data) {
			t.Errorf("IE %d = %02X %X, want %02X %X", i, ies[i].ID, ies[i].Data, want[i].ID, want[i].Data)
		}
	}
	if ies, err := ParseUDH([]byte{0}); err != nil || len(ies) != 0 {
		t.Errorf("empty header: %v, %v", ies, err)
	}
	for _, bad := range []string{"", "05000342", "0300034202", "0100", "03000542", "0200", "02 0001"} {
		if _, err := ParseUDH(mustHex(t, bad)); !errors.Is(err, ErrBadUDH) {
			t.Errorf("ParseUDH(%s) = %v, want ErrBadUDH", bad, err)
		}
	}
}

func TestConcat(t *testing.T) {
	tests := []struct {
		udh        string
		ref        uint16
		total, seq byte
		ok         bool
	}{
		{"050003420301", 0x42, 3, 1, true},
		{"0608041234FFFF", 0x1234, 255, 255, true},
		{"09 2400 0003420302 2200", 0x42, 3, 2, true},   // other IEs around it
		{"0B 000301 0201 0804 00050303", 5, 3, 3, true}, // the last one wins
		{"050003420300", 0, 0, 0, false},                // seq 0
		{"050003420304", 0, 0, 0, false},                // seq beyond total
		{"050003420001", 0, 0, 0, false},                // total 0
		{"06000442030101", 0, 0, 0, false},              // 8-bit IEI with 16-bit length
		{"0408020102", 0, 0, 0, false},                  // 16-bit IEI too short
		{"0500034203", 0, 0, 0, false},                  // malformed header
		{"00", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		ref, total, seq, ok := Concat(mustHex(t, tt.udh))
		if ref != tt.ref || total != tt.total || seq != tt.seq || ok != tt.ok {
			t.Errorf("Concat(%s) = %d %d/%d %v, want %d %d/%d %v", tt.udh, ref, seq, total, ok, tt.ref, tt.seq, tt.total, tt.ok)
		}
	}
}
