package gsm7

import (
	"encoding/binary"
	"fmt"
)

// Packing follows TS 23.038 §6.1.2.1 and TS 23.040 §9.2.3.24: septets are
// laid end to end, least significant bit first, so septet i occupies bits
// 7i..7i+6 of the bit stream and bit k of the stream is bit k%8 of octet
// k/8. Text that follows a User Data Header starts after 0..6 zero fill
// bits, chosen so that the text begins on a septet boundary counted from
// the start of the User Data.
//
// Packed text carries no length of its own. When n septets fill the last
// octet with 7 spare bits (n%8 == 7), those zero bits look exactly like a
// trailing '@' (septet 0x00). SMS is unaffected because TP-UDL states the
// septet count, but a receiver that infers the count from the octet count
// (USSD, cell broadcast) cannot tell "1234567" from "1234567@". TS 23.038
// §6.1.2.3.1 resolves this by padding with CR instead; Pack deliberately
// does nothing special, because only the caller knows whether the
// transport carries a septet count, and an SMSC must not alter SMS text.

// maxFill is the largest number of fill bits that can precede text: fill
// bits only complete a partial septet, so there are never seven or more.
const maxFill = 6

func checkFill(fillBits int) {
	if fillBits < 0 || fillBits > maxFill {
		// Fill is always derived by arithmetic (see FillBits), never read
		// from the wire, so an out-of-range value is a programming error.
		panic(fmt.Sprintf("gsm7: fill bits %d out of range 0..%d", fillBits, maxFill))
	}
}

// Pack packs unpacked septets into octets, least significant bit first.
// The result has ceil(7n/8) octets; the unused high bits of the last octet
// are zero. Only the low 7 bits of each input byte are used, so a stray high
// bit cannot corrupt the neighbouring septet.
func Pack(septets []byte) []byte {
	return PackWithFill(septets, 0)
}

// PackWithFill is Pack preceded by fillBits zero bits (0..6), for text that
// follows a User Data Header; FillBits computes the value from the header
// length. The result has ceil((fillBits+7n)/8) octets, so that appending it
// to the header yields exactly the octet count TP-UDL implies. It panics if
// fillBits is outside 0..6.
func PackWithFill(septets []byte, fillBits int) []byte {
	checkFill(fillBits)
	out := make([]byte, (fillBits+7*len(septets)+7)/8)
	// The accumulator holds fewer than 8 pending bits between steps: at
	// first the fill, later the tail of the previous septet.
	acc := uint64(0)
	nbits := uint(fillBits)
	i, j := 0, 0
	// Eight septets make exactly seven octets, so whole groups are packed
	// with a few word operations instead of eight shifts and stores. A
	// group's 56 bits plus at most 7 pending bits still fit in 64.
	for ; i+8 <= len(septets); i += 8 {
		acc |= squeeze(binary.LittleEndian.Uint64(septets[i:])) << nbits
		if j+8 <= len(out) {
			// The eighth byte written here is rewritten by the next step.
			binary.LittleEndian.PutUint64(out[j:], acc)
		} else {
			for k := range 7 {
				out[j+k] = byte(acc >> (8 * k))
			}
		}
		j += 7
		acc >>= 56
	}
	// The remaining septets go one at a time; adding one to fewer than 8
	// pending bits makes at most 14, so at most one octet is due each time.
	for _, s := range septets[i:] {
		acc |= uint64(s&entCode) << nbits
		nbits += 7
		if nbits >= 8 {
			out[j] = byte(acc)
			j++
			acc >>= 8
			nbits -= 8
		}
	}
	if nbits > 0 {
		out[j] = byte(acc)
	}
	return out
}

// squeeze packs the eight septets held one per byte in x (little-endian)
// into the low 56 bits, dropping each byte's high bit. Each step halves the
// number of fields and doubles their width: 8x7 -> 4x14 -> 2x28 -> 1x56.
func squeeze(x uint64) uint64 {
	x &= 0x7F7F7F7F7F7F7F7F
	x = x&0x007F007F007F007F | x&0x7F007F007F007F00>>1
	x = x&0x00003FFF00003FFF | x&0x3FFF00003FFF0000>>2
	return x&0x000000000FFFFFFF | x&0x0FFFFFFF00000000>>4
}

// spread is the inverse of squeeze: it spreads the low 56 bits of x into
// eight septets, one per byte with the high bit clear.
func spread(x uint64) uint64 {
	x &= 0x00FFFFFFFFFFFFFF
	x = x&0x000000000FFFFFFF | x&0x00FFFFFFF0000000<<4
	x = x&0x00003FFF00003FFF | x&0x0FFFC0000FFFC000<<2
	return x&0x007F007F007F007F | x&0x3F803F803F803F80<<1
}

// Unpack returns the first n septets of packed, one per byte. If packed
// holds fewer than n whole septets, the result is clamped to the septets it
// does hold, so a short or hostile message can never cause a panic; a
// negative n yields an empty result. Note that spare bits at the end of the
// last octet are indistinguishable from '@' (see the package notes on
// packing), so n should come from TP-UDL, not from len(packed).
func Unpack(packed []byte, n int) []byte {
	return UnpackWithFill(packed, 0, n)
}

// UnpackWithFill is Unpack for text that starts after fillBits (0..6) fill
// bits, as it does after a User Data Header. n is clamped in the same way as
// for Unpack. It panics if fillBits is outside 0..6.
func UnpackWithFill(packed []byte, fillBits int, n int) []byte {
	checkFill(fillBits)
	avail := (8*len(packed) - fillBits) / 7
	n = max(0, min(n, avail))
	out := make([]byte, n)
	i := 0
	// Whole groups of eight septets come from seven octets starting at
	// octet 7g, shifted right by the fill. The fast path reads a full
	// 8-byte word, so it stops while eight bytes remain; since fill+56 is
	// at most 62, the word holds the entire group.
	for ; i+8 <= n && i/8*7+8 <= len(packed); i += 8 {
		x := binary.LittleEndian.Uint64(packed[i/8*7:]) >> fillBits
		binary.LittleEndian.PutUint64(out[i:], spread(x))
	}
	// The rest are read one at a time from their bit position. Because n
	// was clamped, every septet lies wholly inside packed: when a septet
	// crosses into the next octet (shift > 1), that octet exists.
	for ; i < n; i++ {
		k := fillBits + 7*i
		v := uint16(packed[k/8]) >> (k % 8)
		if k%8 > 1 {
			v |= uint16(packed[k/8+1]) << (8 - k%8)
		}
		out[i] = byte(v) & entCode
	}
	return out
}

// FillBits returns the number of fill bits needed after a User Data Header
// of udhLen octets, counting the UDHL octet itself (so a concatenation
// header 05 00 03 rr tt ss has udhLen 6 and needs 1 fill bit). The text then
// starts on a septet boundary, as TS 23.040 §9.2.3.24 requires. It returns 0
// for udhLen <= 0, meaning no header.
func FillBits(udhLen int) int {
	if udhLen <= 0 {
		return 0
	}
	return (7 - udhLen*8%7) % 7
}

// HeaderSeptets returns how many septets a User Data Header of udhLen octets
// (including the UDHL octet) occupies together with its fill bits. It is
// what an SMSC adds to the text's septet count to form TP-UDL, and what it
// subtracts from the 160-septet limit when splitting a long message.
func HeaderSeptets(udhLen int) int {
	if udhLen <= 0 {
		return 0
	}
	return (udhLen*8 + FillBits(udhLen)) / 7
}
