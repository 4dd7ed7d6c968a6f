package pms

import (
	"fmt"

	"switchboard/internal/gsm7"
)

// An address field is 12 bytes in the GSM 03.40 address format: the number
// of useful semi-octets, the type-of-address octet (1 TON NPI), then up to 10
// octets of value: BCD semi-octets (low nibble first, 0xF filler) for numeric
// types, GSM 7-bit packed characters for alphanumeric ones. An empty address
// is 12 zero bytes.

// bcdDigits maps a semi-octet to its character; 0xF is the filler.
const bcdDigits = "0123456789*#abc"

// bcdValues maps a character to its semi-octet plus one (0: not a digit),
// so that encoding an address costs one load per digit.
var bcdValues = func() (t [256]byte) {
	for i := 0; i < len(bcdDigits); i++ {
		t[bcdDigits[i]] = byte(i) + 1
	}
	return t
}()

func bcdValue(c byte) (byte, bool) {
	v := bcdValues[c]
	return v - 1, v != 0
}

func encodeAddress(dst []byte, a Address) error {
	if a.TON > 7 || a.NPI > 15 {
		return fmt.Errorf("%w: TON %d NPI %d", ErrFieldRange, a.TON, a.NPI)
	}
	if a.Digits == "" {
		if a.TON != 0 || a.NPI != 0 {
			return fmt.Errorf("%w: empty address with TON %d NPI %d", ErrFieldRange, a.TON, a.NPI)
		}
		return nil
	}
	dst[1] = 0x80 | a.TON<<4 | a.NPI
	if a.TON == TONAlphanumeric {
		septets, err := gsm7.Encode(a.Digits)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFieldRange, err)
		}
		if len(septets) > MaxAlphaSeptet {
			return fmt.Errorf("%w: alphanumeric address of %d septets, at most %d", ErrFieldRange, len(septets), MaxAlphaSeptet)
		}
		packed := gsm7.Pack(septets)
		dst[0] = byte((len(septets)*7 + 3) / 4)
		copy(dst[2:], packed)
		return nil
	}
	if len(a.Digits) > MaxAddrDigits {
		return fmt.Errorf("%w: address of %d digits, at most %d", ErrFieldRange, len(a.Digits), MaxAddrDigits)
	}
	dst[0] = byte(len(a.Digits))
	return putBCD(dst[2:], a.Digits)
}

func decodeAddress(b []byte) (Address, error) {
	if b[1] == 0 {
		if b[0] != 0 {
			return Address{}, fmt.Errorf("%w: address length without type", ErrFieldRange)
		}
		return Address{}, nil
	}
	a := Address{TON: (b[1] >> 4) & 7, NPI: b[1] & 15}
	n := int(b[0])
	if n == 0 || n > 2*(addrFieldN-2) {
		return Address{}, fmt.Errorf("%w: address of %d semi-octets", ErrFieldRange, n)
	}
	if a.TON == TONAlphanumeric {
		septets := gsm7.Unpack(b[2:2+(n+1)/2], n*4/7)
		s, err := gsm7.Decode(septets)
		if err != nil {
			return Address{}, fmt.Errorf("%w: %w", ErrFieldRange, err)
		}
		if s == "" {
			return Address{}, fmt.Errorf("%w: empty alphanumeric address", ErrFieldRange)
		}
		a.Digits = s
		return a, nil
	}
	s, err := getBCD(b[2:], n)
	if err != nil {
		return Address{}, err
	}
	a.Digits = s
	return a, nil
}

func putBCD(dst []byte, digits string) error {
	for i := range (len(digits) + 1) / 2 {
		dst[i] = 0xFF
	}
	for i := 0; i < len(digits); i++ {
		v, ok := bcdValue(digits[i])
		if !ok {
			return fmt.Errorf("%w: %q is not an address digit", ErrFieldRange, digits[i])
		}
		if i%2 == 0 {
			dst[i/2] = 0xF0 | v
		} else {
			dst[i/2] = dst[i/2]&0x0F | v<<4
		}
	}
	return nil
}

func getBCD(src []byte, n int) (string, error) {
	var out [2 * (addrFieldN - 2)]byte
	for i := range n {
		v := src[i/2]
		if i%2 == 0 {
			v &= 0x0F
		} else {
			v >>= 4
		}
		if v == 0xF {
			return "", fmt.Errorf("%w: filler inside an address", ErrFieldRange)
		}
		out[i] = bcdDigits[v]
	}
	return string(out[:n]), nil
}

// An IMSI (at most 15 decimal digits) is stored in 8 bytes of BCD with 0xF
// filler; the number of digits is where the filler starts.
func putIMSI(dst []byte, imsi string) error {
	if len(imsi) > 15 {
		return fmt.Errorf("%w: IMSI of %d digits", ErrFieldRange, len(imsi))
	}
	for i := 0; i < len(imsi); i++ {
		if imsi[i] < '0' || imsi[i] > '9' {
			return fmt.Errorf("%w: IMSI digit %q", ErrFieldRange, imsi[i])
		}
	}
	for i := range dst[:8] {
		dst[i] = 0xFF
	}
	return putBCD(dst, imsi)
}

func getIMSI(src []byte) (string, error) {
	n := 0
	for n < 15 {
		v := src[n/2]
		if n%2 == 1 {
			v >>= 4
		}
		if v&0x0F == 0x0F {
			break
		}
		n++
	}
	if n == 15 && src[7]>>4 != 0x0F {
		return "", fmt.Errorf("%w: IMSI longer than 15 digits", ErrFieldRange)
	}
	s, err := getBCD(src, n)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", fmt.Errorf("%w: IMSI digit %q", ErrFieldRange, s[i])
		}
	}
	return s, nil
}
