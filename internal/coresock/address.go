package coresock

import (
	"bytes"
	"errors"
	"fmt"

	"switchboard/internal/gsm7"
	"switchboard/internal/pms"
)

// AddressSize is the size of an address field on the wire: the same 12-byte
// GSM 03.40 address format that a PMS record holds at offsets 42 and 54
// (docs/pms.md), so a selector's OA and DA compare byte for byte with stored
// records.
const AddressSize = 12

// Offset of the source address inside an encoded pms record (docs/pms.md).
const pmsSrcAddrOff = 42

// errAddress is wrapped by every address decoding failure.
var errAddress = errors.New("bad address field")

// EncodeAddress returns the 12-byte wire form of a. The pms package does not
// export its address encoder, and it must stay the single definition of the
// format, so this encodes a minimal SM record with a as its source address
// and cuts the field out at its documented offset. Selectors are rare enough
// that the cost of encoding a whole record does not matter.
func EncodeAddress(a pms.Address) ([AddressSize]byte, error) {
	var out [AddressSize]byte
	if a == (pms.Address{}) {
		return out, nil
	}
	var rec [pms.RecordSize]byte
	r := pms.Record{Kind: pms.KindSM, Src: a}
	if err := pms.Encode(rec[:], &r); err != nil {
		return out, fmt.Errorf("coresock: %w: %w", errAddress, err)
	}
	copy(out[:], rec[pmsSrcAddrOff:pmsSrcAddrOff+AddressSize])
	return out, nil
}

// DecodeAddress parses a 12-byte address field. It accepts only the canonical
// encoding (the one EncodeAddress produces for the decoded value): filler
// nibbles must be F, unused bytes zero, and the semi-octet count of an
// alphanumeric address exactly what its septets need. Being strict means a
// decoded message re-encodes to the same bytes, and that two encodings of one
// address can never slip past a byte-wise duplicate or cancel match.
func DecodeAddress(b []byte) (pms.Address, error) {
	if len(b) < AddressSize {
		return pms.Address{}, fmt.Errorf("%w: %d bytes", errAddress, len(b))
	}
	b = b[:AddressSize]
	var a pms.Address
	if b[1] != 0 {
		a.TON, a.NPI = (b[1]>>4)&7, b[1]&15
		n := int(b[0])
		if n == 0 || n > 2*(AddressSize-2) {
			return pms.Address{}, fmt.Errorf("%w: %d semi-octets", errAddress, n)
		}
		if a.TON == pms.TONAlphanumeric {
			s, err := gsm7.Decode(gsm7.Unpack(b[2:2+(n+1)/2], n*4/7))
			if err != nil {
				return pms.Address{}, fmt.Errorf("%w: %w", errAddress, err)
			}
			a.Digits = s
		} else {
			const digits = "0123456789*#abc"
			var out [2 * (AddressSize - 2)]byte
			for i := range n {
				v := b[2+i/2]
				if i%2 == 0 {
					v &= 0x0F
				} else {
					v >>= 4
				}
				if v == 0x0F {
					return pms.Address{}, fmt.Errorf("%w: filler inside the digits", errAddress)
				}
				out[i] = digits[v]
			}
			a.Digits = string(out[:n])
		}
	}
	canon, err := EncodeAddress(a)
	if err != nil {
		return pms.Address{}, err
	}
	if !bytes.Equal(canon[:], b) {
		return pms.Address{}, fmt.Errorf("%w: not in canonical form", errAddress)
	}
	return a, nil
}
