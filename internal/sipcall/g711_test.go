package sipcall

import "testing"

// Test vectors of the G.711 reference code (docs/sipcall.md, "Announcement").
func TestG711Vectors(t *testing.T) {
	for _, tc := range []struct {
		in         int16
		ulaw, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{-1, 0x7E, 0x55},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
	} {
		if got := linearToULaw(tc.in); got != tc.ulaw {
			t.Errorf("µ-law(%d) = %#02x, want %#02x", tc.in, got, tc.ulaw)
		}
		if got := linearToALaw(tc.in); got != tc.alaw {
			t.Errorf("A-law(%d) = %#02x, want %#02x", tc.in, got, tc.alaw)
		}
	}
	if uLawToLinear(0xFF) != 0 || aLawToLinear(0xD5) != 8 {
		t.Errorf("silence decodes to %d (µ-law), %d (A-law)", uLawToLinear(0xFF), aLawToLinear(0xD5))
	}
	if uLawToLinear(0x80) != 32124 || uLawToLinear(0x00) != -32124 {
		t.Errorf("µ-law extremes decode to %d, %d", uLawToLinear(0x80), uLawToLinear(0x00))
	}
	if aLawToLinear(0xAA) != 32256 || aLawToLinear(0x2A) != -32256 {
		t.Errorf("A-law extremes decode to %d, %d", aLawToLinear(0xAA), aLawToLinear(0x2A))
	}
}

// Every code decodes to a value that encodes back to the same code (µ-law's
// negative zero 0x7F aside, which decodes to 0 and so encodes as 0xFF), and
// encoding is monotonic in the linear value.
func TestG711RoundTrip(t *testing.T) {
	for c := 0; c < 256; c++ {
		u := byte(c)
		if got := linearToULaw(uLawToLinear(u)); got != u && u != 0x7F {
			t.Errorf("µ-law %#02x -> %d -> %#02x", u, uLawToLinear(u), got)
		}
		if got := linearToALaw(aLawToLinear(u)); got != u {
			t.Errorf("A-law %#02x -> %d -> %#02x", u, aLawToLinear(u), got)
		}
	}
	prevU, prevA := uLawToLinear(linearToULaw(-32768)), aLawToLinear(linearToALaw(-32768))
	for s := -32768; s <= 32767; s++ {
		u, a := uLawToLinear(linearToULaw(int16(s))), aLawToLinear(linearToALaw(int16(s)))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d: µ-law %d after %d, A-law %d after %d", s, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
	}
}
