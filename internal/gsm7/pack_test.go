package gsm7

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// refPack is a deliberately naive bit-by-bit packer, written straight from
// the TS 23.040 description, used as an oracle for the fast implementation.
func refPack(septets []byte, fill int) []byte {
	nbits := fill + 7*len(septets)
	out := make([]byte, (nbits+7)/8)
	for i, s := range septets {
		for b := range 7 {
			if s>>b&1 == 1 {
				k := fill + 7*i + b
				out[k/8] |= 1 << (k % 8)
			}
		}
	}
	return out
}

func mustEncode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := Encode(s)
	if err != nil {
		t.Fatalf("Encode(%q): %v", s, err)
	}
	return b
}

func mustHex(t testing.TB, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPackVectors(t *testing.T) {
	tests := []struct {
		text string
		fill int
		want string
	}{
		// The classic example from the 3GPP specifications.
		{"hellohello", 0, "E8329BFD4697D9EC37"},
		{"Hi @ [x]", 0, "C8340800DAF0F01B1F"},
		{"", 0, ""},
		{"A", 0, "41"},
		// Seven septets leave seven zero bits in the last octet...
		{"1234567", 0, "31D98C56B3DD00"},
		// ...so eight septets ending in '@' pack identically (the CR
		// padding ambiguity; Pack does nothing about it on purpose).
		{"1234567@", 0, "31D98C56B3DD00"},
		// After a 6-octet concatenation UDH there is one fill bit.
		{"hellohello", 1, "D06536FB8D2EB3D96F"},
		{"", 1, "00"},
	}
	for _, tt := range tests {
		got := PackWithFill(mustEncode(t, tt.text), tt.fill)
		if h := strings.ToUpper(hex.EncodeToString(got)); h != tt.want {
			t.Errorf("PackWithFill(%q, %d) = %s, want %s", tt.text, tt.fill, h, tt.want)
		}
		if tt.fill == 0 {
			if p := Pack(mustEncode(t, tt.text)); !bytes.Equal(p, got) {
				t.Errorf("Pack(%q) = % X, PackWithFill(.., 0) = % X", tt.text, p, got)
			}
		}
	}
}

func TestUnpackHelloHello(t *testing.T) {
	packed := mustHex(t, "E8329BFD4697D9EC37")
	s, err := Decode(Unpack(packed, 10))
	if err != nil || s != "hellohello" {
		t.Fatalf("Decode(Unpack(..)) = %q, %v", s, err)
	}
	// 9 octets hold 72 bits, room for exactly 10 septets and 2 spare bits,
	// so asking for more must clamp instead of panicking.
	if got := Unpack(packed, 1000); len(got) != 10 {
		t.Errorf("Unpack(.., 1000) returned %d septets, want 10", len(got))
	}
}

// TestPaddingAmbiguity documents the '@' ambiguity: unpacking 7 octets
// without a septet count yields 8 septets, the last being '@'.
func TestPaddingAmbiguity(t *testing.T) {
	packed := Pack(mustEncode(t, "1234567"))
	s, err := Decode(Unpack(packed, 8*len(packed)/7))
	if err != nil || s != "1234567@" {
		t.Errorf("Decode(Unpack(packed, all)) = %q, %v; want %q", s, err, "1234567@")
	}
	s, err = Decode(Unpack(packed, 7))
	if err != nil || s != "1234567" {
		t.Errorf("Decode(Unpack(packed, 7)) = %q, %v; want %q", s, err, "1234567")
	}
}

func TestPackMasksHighBit(t *testing.T) {
	got := Pack([]byte{0xC1, 0xFF})
	want := Pack([]byte{0x41, 0x7F})
	if !bytes.Equal(got, want) {
		t.Errorf("Pack with high bits = % X, want % X", got, want)
	}
}

func TestPackMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		septets := make([]byte, rng.IntN(200))
		for i := range septets {
			septets[i] = byte(rng.IntN(128))
		}
		for fill := range 7 {
			got := PackWithFill(septets, fill)
			if want := refPack(septets, fill); !bytes.Equal(got, want) {
				t.Fatalf("PackWithFill(% X, %d) = % X, want % X", septets, fill, got, want)
			}
			if back := UnpackWithFill(got, fill, len(septets)); !bytes.Equal(back, septets) {
				t.Fatalf("UnpackWithFill(PackWithFill(% X, %d)) = % X", septets, fill, back)
			}
		}
	}
}

func TestUnpackArbitraryNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ns := []int{-1 << 62, -1, 0, 1, 7, 8, 9, 160, 1 << 20, 1<<63 - 1}
	for range 2000 {
		packed := make([]byte, rng.IntN(40))
		for i := range packed {
			packed[i] = byte(rng.Uint32())
		}
		for fill := range 7 {
			avail := max(0, (8*len(packed)-fill)/7)
			for _, n := range append(ns, rng.IntN(60)) {
				got := UnpackWithFill(packed, fill, n)
				if want := max(0, min(n, avail)); len(got) != want {
					t.Fatalf("UnpackWithFill(%d octets, %d, %d) returned %d septets, want %d",
						len(packed), fill, n, len(got), want)
				}
				for _, s := range got {
					if s > 0x7F {
						t.Fatalf("UnpackWithFill returned non-septet %02X", s)
					}
				}
			}
		}
		if got := Unpack(packed, 1<<30); len(got) != 8*len(packed)/7 {
			t.Fatalf("Unpack(%d octets, huge) returned %d septets", len(packed), len(got))
		}
	}
}

func TestFillBitsPanicsOutOfRange(t *testing.T) {
	for _, fill := range []int{-1, 7, 8} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PackWithFill(.., %d) did not panic", fill)
				}
			}()
			PackWithFill([]byte{1}, fill)
		}()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("UnpackWithFill(.., %d, ..) did not panic", fill)
				}
			}()
			UnpackWithFill([]byte{1}, fill, 1)
		}()
	}
}

func TestFillBitsAndHeaderSeptets(t *testing.T) {
	tests := []struct{ udhLen, fill, septets int }{
		{0, 0, 0},
		{-3, 0, 0},
		{6, 1, 7}, // 05 00 03 rr tt ss: 8-bit concatenation reference
		{7, 0, 8}, // 06 08 04 rr rr tt ss: 16-bit concatenation reference
		{1, 6, 2}, // an empty header (UDHL 00)
		{12, 2, 14},
	}
	for _, tt := range tests {
		if got := FillBits(tt.udhLen); got != tt.fill {
			t.Errorf("FillBits(%d) = %d, want %d", tt.udhLen, got, tt.fill)
		}
		if got := HeaderSeptets(tt.udhLen); got != tt.septets {
			t.Errorf("HeaderSeptets(%d) = %d, want %d", tt.udhLen, got, tt.septets)
		}
	}
	// Header octets followed by PackWithFill must be exactly the octet
	// count implied by TP-UDL = HeaderSeptets + text septets.
	for udhLen := 1; udhLen < 40; udhLen++ {
		for n := range 20 {
			udl := HeaderSeptets(udhLen) + n
			total := udhLen + len(PackWithFill(make([]byte, n), FillBits(udhLen)))
			if want := (7*udl + 7) / 8; total != want {
				t.Fatalf("udhLen %d, %d septets: %d octets, TP-UDL %d implies %d", udhLen, n, total, udl, want)
			}
		}
	}
}
