package smdata

import (
	"fmt"
	"unicode/utf16"

	"switchboard/internal/gsm7"
	"switchboard/internal/smstext"
)

// Text returns the text of an SMPP message, without its UDH, for display
// and for chat (never for logs: message text is personal data).
//
// It applies the same checks and conversions as ToParts, so it fails where
// ToParts would (ErrBothBodies, ErrUnsupportedCoding, ErrBadUserData), and
// whenever ToParts succeeds, Text equals smstext.Reassemble of its parts.
// It does not split, so neither ErrTooLong nor the sar_* TLVs concern it.
// 8-bit data and compressed text fail with an error wrapping
// smstext.ErrBinary, for the caller to show as hex. UCS-2 is read as
// UTF-16BE, an unpaired surrogate becoming U+FFFD as in smstext.Decode.
func Text(m Message) (string, error) {
	msg, err := parse(m)
	if err != nil {
		return "", err
	}
	switch msg.form {
	case formSeptets:
		s, err := gsm7.Decode(msg.text)
		if err != nil {
			// parse has checked every octet, so this means gsm7 changed
			// its contract.
			return "", fmt.Errorf("smdata: decoding GSM 7-bit text: %w", err)
		}
		return s, nil
	case formUCS2:
		units := make([]uint16, len(msg.text)/2)
		for i := range units {
			units[i] = uint16(msg.text[2*i])<<8 | uint16(msg.text[2*i+1])
		}
		return string(utf16.Decode(units)), nil
	}
	return "", fmt.Errorf("%w: data_coding 0x%02X is %v", smstext.ErrBinary, m.DataCoding, smstext.CodingOf(msg.dcs))
}
