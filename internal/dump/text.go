package dump

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"switchboard/internal/gsm7"
	"switchboard/internal/pms"
)

// Alphabets a TP-DCS can select (3GPP TS 23.038 §4).
const (
	alphaGSM7 = "gsm7"
	alphaUCS2 = "ucs2"
	alphaData = "8bit" // 8-bit data, compressed text or a reserved coding: shown as hex
)

// esmUDHI is the TP-UDHI bit as carried in the SMPP esm_class octet.
const esmUDHI = 0x40

// alphabet returns the character set a TP-DCS value selects.
func alphabet(dcs uint8) string {
	switch {
	case dcs&0xC0 == 0x00 || dcs&0xC0 == 0x40:
		// General data coding (0x0X-0x3X) and its automatic-deletion
		// twin (0x4X-0x7X). Compressed text cannot be shown as text.
		if dcs&0x20 != 0 {
			return alphaData
		}
		switch dcs & 0x0C {
		case 0x00:
			return alphaGSM7
		case 0x08:
			return alphaUCS2
		default:
			return alphaData
		}
	case dcs&0xF0 == 0xC0 || dcs&0xF0 == 0xD0:
		// Message waiting indication, discard or store: default alphabet.
		return alphaGSM7
	case dcs&0xF0 == 0xE0:
		// Message waiting indication, store, UCS-2.
		return alphaUCS2
	case dcs&0xF0 == 0xF0:
		// Data coding / message class: bit 2 chooses 8-bit data.
		if dcs&0x04 != 0 {
			return alphaData
		}
		return alphaGSM7
	default:
		// 0x80-0xBF are reserved coding groups.
		return alphaData
	}
}

// smText is the displayable form of an SM's user data.
type smText struct {
	Alphabet string // alphaGSM7, alphaUCS2 or alphaData
	Text     string // decoded text, or hex for data (and for undecodable UD)
	Hex      bool   // Text is hex
	UDH      []byte // the user data header, UDHL octet included; nil if none
}

// decodeSM decodes a record's user data for display, honouring the UDH
// (TP-UDHI, carried in ESM as in SMPP) and the septet fill that follows it.
// Malformed user data never fails: it falls back to hex.
func decodeSM(r *pms.Record) smText {
	out := smText{Alphabet: alphabet(r.DCS)}
	ud := r.UD
	hdr := 0 // octets of UDH, UDHL included
	if r.ESM&esmUDHI != 0 {
		if len(ud) == 0 || 1+int(ud[0]) > len(ud) {
			return hexText(out, ud)
		}
		hdr = 1 + int(ud[0])
		out.UDH = ud[:hdr]
	}
	switch out.Alphabet {
	case alphaGSM7:
		// TP-UDL counts septets of the whole user data, header and fill
		// included; the text starts on the first septet boundary after the
		// header.
		n := int(r.UDL) - gsm7.HeaderSeptets(hdr)
		if n < 0 {
			return hexText(out, ud)
		}
		septets := gsm7.UnpackWithFill(ud[hdr:], gsm7.FillBits(hdr), n)
		s, err := gsm7.Decode(septets)
		if err != nil {
			return hexText(out, ud)
		}
		out.Text = s
	case alphaUCS2:
		out.Text = decodeUCS2(ud[hdr:])
	default:
		return hexText(out, ud[hdr:])
	}
	return out
}

func hexText(t smText, b []byte) smText {
	t.Text, t.Hex = hex.EncodeToString(b), true
	return t
}

// decodeUCS2 decodes big-endian UTF-16 (UCS-2 as sent in practice, surrogate
// pairs included). Unpaired surrogates and an odd trailing octet become
// U+FFFD, so display never fails.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	s := string(utf16.Decode(u))
	if len(b)%2 != 0 {
		s += string(utf8.RuneError)
	}
	return s
}

// concatFromUDH finds a concatenation information element (8-bit or 16-bit
// reference, TS 23.040 §9.2.3.24.1 and .8) in a UDH and returns its sequence
// number and total.
func concatFromUDH(udh []byte) (seq, total uint8, ok bool) {
	if len(udh) < 1 {
		return 0, 0, false
	}
	b := udh[1:]
	for len(b) >= 2 {
		iei, l := b[0], int(b[1])
		if 2+l > len(b) {
			return 0, 0, false
		}
		v := b[2 : 2+l]
		switch {
		case iei == 0x00 && l == 3:
			return v[2], v[1], true
		case iei == 0x08 && l == 4:
			return v[3], v[2], true
		}
		b = b[2+l:]
	}
	return 0, 0, false
}

// chatText returns a chat segment's text for display: UTF-8 as the chat
// protocols carry it, with invalid bytes replaced.
func chatText(b []byte) string {
	return strings.ToValidUTF8(string(b), string(utf8.RuneError))
}
