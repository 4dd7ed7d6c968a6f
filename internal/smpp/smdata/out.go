package smdata

import (
	"fmt"

	"switchboard/internal/gsm7"
	"switchboard/internal/smstext"
)

// FromPart turns one stored part (TP-DCS, ESM with UDHI in bit 0x40,
// TP-UDL and the packed TP-UD) into the SMPP fields of a submit_sm or
// deliver_sm: data_coding, the UDHI bit to OR into esm_class, and
// short_message.
//
// GSM 7-bit text is unpacked to one septet per octet after the UDH, which
// is how Kannel and most ESMEs read data_coding 0; a Kannel-style part of
// a long message (6-octet UDH and 153 septets) comes out as 159 octets.
// UCS-2, 8-bit data and compressed text go out octet for octet. The TP-DCS
// becomes the data_coding: 0x00-0x0F are normalised to SMPP's value for
// their alphabet (0x00, 0x04 or 0x08), because SMPP gives those octets
// other meanings and TS 23.038 gives their low bits none; from 0x10 on it
// is kept, so that a message class or indication survives and the text is
// still unpacked when the alphabet is GSM. With opts.GSMAsLatin1, GSM text
// with TP-DCS 0x00 whose characters all exist in Latin-1 goes as
// data_coding 0x03 instead.
//
// A part never yields more than 160 octets, well inside the 254 that
// short_message allows, because a record holds at most 160 septets or 140
// octets. Data that contradicts its UDL or header, or that claims more than
// a record can hold, fails with ErrBadUserData. The result never aliases
// ud.
func FromPart(dcs, esm, udl uint8, ud []byte, opts OutOptions) (dataCoding, udhi uint8, shortMessage []byte, err error) {
	c := smstext.CodingOf(dcs)
	n := int(udl)
	if c == smstext.CodingGSM7 {
		if n > maxSeptets {
			return 0, 0, nil, fmt.Errorf("%w: UDL %d septets, a record holds %d", ErrBadUserData, udl, maxSeptets)
		}
		// TP-UDL counts septets, which occupy ceil(7n/8) octets.
		n = (7*n + 7) / 8
	} else if n > maxOctets {
		return 0, 0, nil, fmt.Errorf("%w: UDL %d octets, a record holds %d", ErrBadUserData, udl, maxOctets)
	}
	if len(ud) < n {
		return 0, 0, nil, fmt.Errorf("%w: UDL %d needs %d octets, only %d present", ErrBadUserData, udl, n, len(ud))
	}
	// Octets beyond what UDL covers are padding, as a receiver treats them.
	ud = ud[:n]
	hl := 0
	if esm&esmUDHI != 0 {
		if n == 0 {
			return 0, 0, nil, fmt.Errorf("%w: UDHI set but the user data is empty", ErrBadUserData)
		}
		hl = 1 + int(ud[0])
		if hl > n {
			return 0, 0, nil, fmt.Errorf("%w: UDHL %d runs past the %d octets of user data", ErrBadUserData, ud[0], n)
		}
		udhi = esmUDHI
	}
	dataCoding = outDataCoding(dcs, c)
	if c != smstext.CodingGSM7 {
		return dataCoding, udhi, append([]byte(nil), ud...), nil
	}
	hs := gsm7.HeaderSeptets(hl)
	if hs > int(udl) {
		return 0, 0, nil, fmt.Errorf("%w: UDH with fill takes %d septets but UDL is %d", ErrBadUserData, hs, udl)
	}
	septets := gsm7.UnpackWithFill(ud[hl:], gsm7.FillBits(hl), int(udl)-hs)
	if opts.GSMAsLatin1 && dcs == dcsGSM7 {
		if l1, ok := septetsToLatin1(ud[:hl], septets); ok {
			return DCLatin1, udhi, l1, nil
		}
	}
	if hl == 0 {
		// Unpacking made a fresh slice, so without a header it is the
		// result as it is.
		return dataCoding, udhi, septets, nil
	}
	sm := make([]byte, hl+len(septets))
	copy(sm, ud[:hl])
	copy(sm[hl:], septets)
	return dataCoding, udhi, sm, nil
}

// septetsToLatin1 returns udh followed by the text of septets in Latin-1,
// and false when a character (Greek capitals, the euro sign) has no Latin-1
// form. Odd escapes decode as gsm7.Decode documents, so the Latin-1 text is
// exactly what a GSM receiver would display.
func septetsToLatin1(udh, septets []byte) ([]byte, bool) {
	text, err := gsm7.Decode(septets)
	if err != nil {
		// Unpacked septets never have the high bit set.
		return nil, false
	}
	// Each character is one Latin-1 octet and at least one UTF-8 octet,
	// so len(text) is enough room.
	out := make([]byte, len(udh), len(udh)+len(text))
	copy(out, udh)
	for _, r := range text {
		if r >= 0x100 {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}
