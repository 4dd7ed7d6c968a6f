package smstext

import (
	"fmt"
)

// Information element identifiers for concatenation (TS 23.040 §9.2.3.24.1
// and §9.2.3.24.8).
const (
	IEIConcat8  byte = 0x00
	IEIConcat16 byte = 0x08
)

// IE is one information element of a User Data Header.
type IE struct {
	// ID is the information element identifier (IEI).
	ID byte
	// Data is the element's data, without IEI and length octets. It
	// aliases the slice given to ParseUDH.
	Data []byte
}

// ParseUDH splits a User Data Header into its information elements. udh
// must be exactly the header: the UDHL octet followed by UDHL octets, as
// Decode returns it. Elements are returned in order, repeats included, and
// unknown identifiers are kept rather than rejected, since TS 23.040 tells
// receivers to skip what they do not understand. The error wraps ErrBadUDH
// when UDHL disagrees with len(udh) or an element runs past the header.
func ParseUDH(udh []byte) ([]IE, error) {
	if len(udh) == 0 {
		return nil, fmt.Errorf("%w: empty header (no UDHL octet)", ErrBadUDH)
	}
	if int(udh[0]) != len(udh)-1 {
		return nil, fmt.Errorf("%w: UDHL %d but %d octets follow it", ErrBadUDH, udh[0], len(udh)-1)
	}
	var ies []IE
	for i := 1; i < len(udh); {
		if i+2 > len(udh) {
			return nil, fmt.Errorf("%w: element at offset %d lacks its length octet", ErrBadUDH, i)
		}
		id, n := udh[i], int(udh[i+1])
		if i+2+n > len(udh) {
			return nil, fmt.Errorf("%w: element %02X at offset %d has length %d, past the header end", ErrBadUDH, id, i, n)
		}
		ies = append(ies, IE{ID: id, Data: udh[i+2 : i+2+n : i+2+n]})
		i += 2 + n
	}
	return ies, nil
}

// Concat reports the concatenation reference, part count and 1-based part
// number from a User Data Header, taking the 8-bit (IEI 0x00) or 16-bit
// (IEI 0x08) reference element. ok is false when the header is malformed,
// holds no such element of the right length, or the element says a count of
// 0 or a part number outside 1..total; TS 23.040 tells a receiver to ignore
// such an element, so the part is then treated as a single message. When
// several concatenation elements are present the last one wins, as TS
// 23.040 prescribes for repeated non-repeatable elements.
func Concat(udh []byte) (ref uint16, total, seq byte, ok bool) {
	ies, err := ParseUDH(udh)
	if err != nil {
		return 0, 0, 0, false
	}
	found := false
	for _, ie := range ies {
		switch {
		case ie.ID == IEIConcat8 && len(ie.Data) == 3:
			ref, total, seq = uint16(ie.Data[0]), ie.Data[1], ie.Data[2]
			found = true
		case ie.ID == IEIConcat16 && len(ie.Data) == 4:
			ref, total, seq = uint16(ie.Data[0])<<8|uint16(ie.Data[1]), ie.Data[2], ie.Data[3]
			found = true
		}
	}
	if !found || total == 0 || seq == 0 || seq > total {
		return 0, 0, 0, false
	}
	return ref, total, seq, true
}

// appendConcatUDH appends the concatenation header Encode puts in front of
// every part of a long message.
func appendConcatUDH(dst []byte, ref16 bool, ref uint16, total, seq byte) []byte {
	if ref16 {
		return append(dst, 6, IEIConcat16, 4, byte(ref>>8), byte(ref), total, seq)
	}
	return append(dst, 5, IEIConcat8, 3, byte(ref), total, seq)
}
