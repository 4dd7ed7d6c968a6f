package gsm7

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that it fails exactly when a
// byte has the high bit set, and that whatever it produces from valid
// septets is encodable and decodes back to itself. The last property is
// what the edge-case choices in Decode (fallback, SS2, trailing escape) are
// designed to preserve. Seeds live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("hellohello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		valid := true
		for _, b := range data {
			if b > 0x7F {
				valid = false
				break
			}
		}
		if !valid {
			if !errors.Is(err, ErrInvalidSeptet) {
				t.Fatalf("Decode(% X) = %q, %v; want ErrInvalidSeptet", data, s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(% X) of valid septets: %v", data, err)
		}
		enc, err := Encode(s)
		if err != nil {
			t.Fatalf("Encode(Decode(% X) = %q): %v", data, s, err)
		}
		if n, ok := SeptetLen(s); !ok || n != len(enc) {
			t.Fatalf("SeptetLen(%q) = %d, %v; Encode gave %d septets", s, n, ok, len(enc))
		}
		again, err := Decode(enc)
		if err != nil || again != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, again, err)
		}
	})
}

// FuzzPackUnpack checks Pack/Unpack round trips for any septets and any
// fill, against the naive reference packer, and that over-long unpack
// requests only ever add the zero septets the spare bits can hold. Seeds
// live in testdata/fuzz/FuzzPackUnpack.
func FuzzPackUnpack(f *testing.F) {
	f.Add([]byte("hellohello"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, fill uint8) {
		septets := make([]byte, len(data))
		for i, b := range data {
			septets[i] = b & 0x7F
		}
		fb := int(fill % 7)

		packed := PackWithFill(septets, fb)
		if want := refPack(septets, fb); !bytes.Equal(packed, want) {
			t.Fatalf("PackWithFill(% X, %d) = % X, want % X", septets, fb, packed, want)
		}
		if back := UnpackWithFill(packed, fb, len(septets)); !bytes.Equal(back, septets) {
			t.Fatalf("UnpackWithFill(PackWithFill(% X, %d)) = % X", septets, fb, back)
		}
		if fb == 0 {
			if p := Pack(septets); !bytes.Equal(p, packed) {
				t.Fatalf("Pack(% X) = % X, PackWithFill(.., 0) = % X", septets, p, packed)
			}
			if back := Unpack(packed, len(septets)); !bytes.Equal(back, septets) {
				t.Fatalf("Unpack(Pack(% X)) = % X", septets, back)
			}
		}
		// Pack masks rather than trusts the high bit.
		if p := PackWithFill(data, fb); !bytes.Equal(p, packed) {
			t.Fatalf("PackWithFill(unmasked % X, %d) = % X, want % X", data, fb, p, packed)
		}

		all := UnpackWithFill(packed, fb, len(septets)+16)
		if len(all) < len(septets) || len(all) > len(septets)+1 {
			t.Fatalf("UnpackWithFill(.., huge n) gave %d septets for %d packed", len(all), len(septets))
		}
		if !bytes.Equal(all[:len(septets)], septets) {
			t.Fatalf("UnpackWithFill(.., huge n) prefix = % X, want % X", all[:len(septets)], septets)
		}
		if len(all) > len(septets) && all[len(septets)] != 0 {
			t.Fatalf("spare bits unpacked as %02X, want the ambiguous '@' (00)", all[len(septets)])
		}
	})
}
