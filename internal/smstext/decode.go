package smstext

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"switchboard/internal/gsm7"
)

// Decode turns one short message's user data into text, for display and for
// CPT and chat. dcs is the TP-DCS octet, classified by CodingOf; esm carries
// TP-UDHI in bit 6 (0x40); udl is TP-UDL, counting septets for GSM 7-bit and
// octets otherwise; ud is the user data as it travels, packed and UDH
// included.
//
// When UDHI is set the header is split off and returned (a copy, starting
// with its UDHL octet), and for GSM 7-bit the fill bits after it are
// skipped. GSM 7-bit text is decoded by gsm7.Decode, whose choices for odd
// escapes apply. UCS-2 is read as UTF-16BE: surrogate pairs become one
// character, while an unpaired surrogate or an odd trailing octet becomes
// U+FFFD, since showing something beats refusing a whole message for one bad
// unit.
//
// 8-bit data and compressed text fail with ErrBinary, still returning the
// header, so the caller can show the data as hex. User data shorter than
// udl says (or a header that does not fit in it) fails with ErrBadUserData;
// octets beyond what udl covers are ignored, as a receiver would. Decode
// does not enforce the 140-octet limit, so it also shows data that arrived
// by other paths such as SMPP message_payload, up to what a one-octet udl
// can count.
func Decode(dcs, esm, udl byte, ud []byte) (text string, udh []byte, err error) {
	c, udh, body, err := userData(dcs, esm, udl, ud)
	if err != nil {
		return "", udh, err
	}
	if c == CodingGSM7 {
		text, err = gsm7.Decode(body)
		if err != nil {
			// userData unpacks, so every byte is a septet; this is
			// unreachable unless gsm7 changes its contract.
			return "", udh, fmt.Errorf("smstext: decoding GSM 7-bit text: %w", err)
		}
		return text, udh, nil
	}
	return decodeUnits(appendUnits(nil, body)), udh, nil
}

// userData splits user data into header and body after checking UDL against
// it. For GSM 7-bit the body is the unpacked text septets; for the other
// codings it is the text octets. 8-bit data and compressed text fail with
// ErrBinary after the header has been split off, so Decode can return it.
func userData(dcs, esm, udl byte, ud []byte) (c Coding, udh, body []byte, err error) {
	c = CodingOf(dcs)
	n := int(udl)
	if c == CodingGSM7 {
		// TP-UDL counts septets, and those occupy ceil(7n/8) octets.
		n = (7*n + 7) / 8
	}
	if len(ud) < n {
		return c, nil, nil, fmt.Errorf("%w: UDL %d needs %d octets, only %d present", ErrBadUserData, udl, n, len(ud))
	}
	ud = ud[:n]
	hl := 0
	if esm&ESMUDHI != 0 {
		if len(ud) == 0 {
			return c, nil, nil, fmt.Errorf("%w: UDHI set but the user data is empty", ErrBadUserData)
		}
		hl = 1 + int(ud[0])
		if hl > len(ud) {
			return c, nil, nil, fmt.Errorf("%w: UDHL %d runs past the %d octets of user data", ErrBadUserData, ud[0], len(ud))
		}
		udh = bytes.Clone(ud[:hl])
	}
	switch c {
	case CodingGSM7:
		hs := gsm7.HeaderSeptets(hl)
		if hs > int(udl) {
			return c, nil, nil, fmt.Errorf("%w: UDH with fill takes %d septets but UDL is %d", ErrBadUserData, hs, udl)
		}
		return c, udh, gsm7.UnpackWithFill(ud[hl:], gsm7.FillBits(hl), int(udl)-hs), nil
	case CodingUCS2:
		return c, udh, ud[hl:], nil
	}
	return c, udh, nil, fmt.Errorf("%w: DCS 0x%02X is %v", ErrBinary, dcs, c)
}

// appendUnits appends big-endian UTF-16 units read from b. An odd trailing
// octet cannot be half a character anyone meant, so it becomes U+FFFD.
func appendUnits(dst []uint16, b []byte) []uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, uint16(b[i])<<8|uint16(b[i+1]))
	}
	if len(b)%2 != 0 {
		dst = append(dst, utf8.RuneError)
	}
	return dst
}

// decodeUnits converts UTF-16 to UTF-8, pairing surrogates and replacing
// unpaired ones with U+FFFD.
func decodeUnits(units []uint16) string {
	var b strings.Builder
	b.Grow(len(units))
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		if utf16.IsSurrogate(u) && i+1 < len(units) {
			if r := utf16.DecodeRune(u, rune(units[i+1])); r != utf8.RuneError {
				b.WriteRune(r)
				i++
				continue
			}
		}
		if utf16.IsSurrogate(u) {
			u = utf8.RuneError
		}
		b.WriteRune(u)
	}
	return b.String()
}

// Reassemble joins the text of the parts of one concatenated message, given
// in order of Seq; a single part is simply decoded, and no parts give "".
//
// Parts with a concatenation header must share Ref and Total and have
// strictly increasing Seq within 1..Total, or the result is ErrNotOneMessage.
// Missing parts are not an error: a chat view may want to show what has
// arrived, so callers that need completeness compare len(parts) with Total.
//
// The text of consecutive parts with the same coding is decoded as one run,
// so an escape pair or surrogate pair that another sender split across two
// parts still comes out as one character. A binary part fails the whole
// message with ErrBinary.
func Reassemble(parts []Part) (string, error) {
	if len(parts) > 1 {
		if err := checkSequence(parts); err != nil {
			return "", err
		}
	}
	var (
		out     strings.Builder
		septets []byte
		units   []uint16
		run     Coding
	)
	flush := func() error {
		switch run {
		case CodingGSM7:
			s, err := gsm7.Decode(septets)
			if err != nil {
				return fmt.Errorf("smstext: decoding GSM 7-bit text: %w", err)
			}
			out.WriteString(s)
		case CodingUCS2:
			out.WriteString(decodeUnits(units))
		}
		septets, units = septets[:0], units[:0]
		return nil
	}
	for i, p := range parts {
		c, _, body, err := userData(p.DCS, p.ESM, p.UDL, p.UD)
		if err != nil {
			return "", fmt.Errorf("smstext: part %d (seq %d): %w", i+1, p.Seq, err)
		}
		if i > 0 && c != run {
			if err := flush(); err != nil {
				return "", err
			}
		}
		run = c
		if c == CodingGSM7 {
			septets = append(septets, body...)
		} else {
			units = appendUnits(units, body)
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	return out.String(), nil
}

// checkSequence verifies that several parts can be one message in order.
func checkSequence(parts []Part) error {
	first := parts[0]
	for i, p := range parts {
		switch {
		case p.Total == 0:
			return fmt.Errorf("%w: part %d has no concatenation header", ErrNotOneMessage, i+1)
		case p.Ref != first.Ref || p.Total != first.Total:
			return fmt.Errorf("%w: part %d is ref %d of %d parts, part 1 is ref %d of %d",
				ErrNotOneMessage, i+1, p.Ref, p.Total, first.Ref, first.Total)
		case p.Seq == 0 || p.Seq > p.Total:
			return fmt.Errorf("%w: part %d has sequence number %d of %d", ErrNotOneMessage, i+1, p.Seq, p.Total)
		case i > 0 && p.Seq <= parts[i-1].Seq:
			return fmt.Errorf("%w: part %d has sequence number %d after %d", ErrNotOneMessage, i+1, p.Seq, parts[i-1].Seq)
		}
	}
	return nil
}
