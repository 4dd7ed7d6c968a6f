package sipcall

// G.711 companding (ITU-T G.711), as in the widely used public domain
// reference code of Sun Microsystems: µ-law works on 14-bit and A-law on
// 13-bit magnitudes of a 16-bit linear sample. The encoders produce the
// bytes that go on the wire (with the usual bit inversions already applied),
// the decoders exist for WAV files that are already companded and for tests.

// Silence in each encoding: the code of the linear value 0.
const (
	ulawSilence = 0xFF
	alawSilence = 0xD5
)

// ulawSegEnd and alawSegEnd are the upper bounds of the eight segments.
var (
	ulawSegEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

// segment returns the index of the first segment whose end is >= v, or 8.
func segment(v int, ends *[8]int) int {
	for i, end := range ends {
		if v <= end {
			return i
		}
	}
	return 8
}

// linearToULaw encodes one 16-bit linear sample as µ-law.
func linearToULaw(sample int16) byte {
	const (
		bias = 0x84 >> 2
		clip = 8159
	)
	v := int(sample) >> 2
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > clip {
		v = clip
	}
	v += bias
	seg := segment(v, &ulawSegEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return (byte(seg<<4) | byte((v>>(seg+1))&0x0F)) ^ mask
}

// linearToALaw encodes one 16-bit linear sample as A-law.
func linearToALaw(sample int16) byte {
	v := int(sample) >> 3
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &alawSegEnd)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte((v >> 1) & 0x0F)
	} else {
		a |= byte((v >> seg) & 0x0F)
	}
	return a ^ mask
}

// uLawToLinear decodes one µ-law byte to a 16-bit linear sample.
func uLawToLinear(u byte) int16 {
	const bias = 0x84
	u = ^u
	t := (int(u&0x0F) << 3) + bias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(bias - t)
	}
	return int16(t - bias)
}

// aLawToLinear decodes one A-law byte to a 16-bit linear sample.
func aLawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
