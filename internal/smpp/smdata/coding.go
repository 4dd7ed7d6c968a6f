package smdata

import (
	"fmt"

	"switchboard/internal/gsm7"
	"switchboard/internal/smstext"
)

// form is how the text after the UDH is laid out once the data_coding has
// been understood; it decides how the text is counted, split and packed.
type form uint8

const (
	// formSeptets is GSM 7-bit text, one septet per octet (unpacked).
	formSeptets form = iota
	// formUCS2 is UTF-16BE, counted and split in 16-bit units.
	formUCS2
	// formOctets is 8-bit data or compressed text, kept octet for octet.
	formOctets
)

// charset says whether the text still needs converting from an SMPP
// character set before it can be stored.
type charset uint8

const (
	csNone charset = iota
	csIA5
	csLatin1
)

// classify maps an SMPP data_coding to the TP-DCS it is stored under and
// the form of its text. The SMPP table (0x00-0x0E) takes precedence over
// the TS 23.038 meaning of the same octet, because an ESME that sends 0x03
// means Latin-1, not "GSM 7-bit with reserved bits 01". From 0x0F on the
// value is a TP-DCS and keeps its message class, message waiting indication
// and so on, since those are the values ESMEs actually send there.
func classify(dc uint8) (dcs uint8, f form, cs charset, err error) {
	switch dc {
	case DCDefault:
		return dcsGSM7, formSeptets, csNone, nil
	case DCIA5:
		// The TP-DCS is decided after conversion: GSM 7-bit or UCS-2.
		return dcsGSM7, formSeptets, csIA5, nil
	case DCLatin1:
		return dcsGSM7, formSeptets, csLatin1, nil
	case DCBinary, DCBinary2:
		return dcsBinary, formOctets, csNone, nil
	case DCUCS2:
		return dcsUCS2, formUCS2, csNone, nil
	}
	if dc <= dcSMPPLast {
		// 0x05-0x07, 0x09, 0x0A, 0x0D, 0x0E name character sets we do
		// not convert, and 0x0B, 0x0C are reserved by SMPP itself.
		return 0, 0, 0, fmt.Errorf("%w: 0x%02X (%s)", ErrUnsupportedCoding, dc, smppCodingName(dc))
	}
	switch smstext.CodingOf(dc) {
	case smstext.CodingGSM7:
		return dc, formSeptets, csNone, nil
	case smstext.CodingUCS2:
		return dc, formUCS2, csNone, nil
	}
	// 8-bit data and compressed text both count octets and are carried
	// unchanged; the store and the handset make sense of them, not us.
	return dc, formOctets, csNone, nil
}

// smppCodingName names the SMPP-specific codings we refuse, for the error.
func smppCodingName(dc uint8) string {
	switch dc {
	case 0x05:
		return "JIS X 0208-1990"
	case 0x06:
		return "Cyrillic ISO-8859-5"
	case 0x07:
		return "Latin/Hebrew ISO-8859-8"
	case 0x09:
		return "pictogram encoding"
	case 0x0A:
		return "ISO-2022-JP music codes"
	case 0x0D:
		return "extended kanji JIS X 0212-1990"
	case 0x0E:
		return "KS C 5601"
	}
	return "reserved by SMPP"
}

// outDataCoding is the inverse of classify for a stored TP-DCS. In the
// range 0x00-0x0F a TP-DCS carries no message class (TS 23.038 leaves bits
// 1-0 reserved while bit 4 is 0), so it is normalised to SMPP's own value
// for its alphabet; sending it unchanged would make 0x01 read as IA5 and
// 0x05 as JIS. From 0x10 on the TP-DCS goes out as it is, so that message
// classes and indications survive, exactly as classify takes them in.
func outDataCoding(dcs uint8, c smstext.Coding) uint8 {
	if dcs > 0x0F {
		return dcs
	}
	switch c {
	case smstext.CodingGSM7:
		return DCDefault
	case smstext.CodingUCS2:
		return DCUCS2
	}
	return DCBinary2
}

// latin1GSM maps each Latin-1 octet to its GSM septet: bit 15 set means
// the character exists in GSM 03.38, bit 14 that it needs an escape, and
// the low 7 bits are the code. A table keeps the IA5 and Latin-1 paths free
// of per-character UTF-8 work and allocations.
var latin1GSM [256]uint16

const (
	l1Valid = 1 << 15
	l1Ext   = 1 << 14
)

func init() {
	for b := range 256 {
		// gsm7.Encode is the one authority on the alphabet; deriving the
		// table from it means the two can never disagree.
		s, err := gsm7.Encode(string(rune(b)))
		switch {
		case err != nil:
		case len(s) == 1:
			latin1GSM[b] = l1Valid | uint16(s[0])
		case len(s) == 2:
			latin1GSM[b] = l1Valid | l1Ext | uint16(s[1])
		}
	}
}

// convertCharset turns IA5 or Latin-1 text into GSM septets when every
// character is in the GSM alphabet (TP-DCS 0x00), else into UTF-16BE
// (TP-DCS 0x08). The choice is made for the whole message, as
// smstext.Encode does, so every part of a long message has one DCS. IA5 is
// a 7-bit code, so an octet of 0x80 or more is refused rather than guessed
// at.
func convertCharset(text []byte, cs charset) (dcs uint8, f form, out []byte, err error) {
	n, gsm := 0, true
	for i, b := range text {
		if cs == csIA5 && b >= 0x80 {
			return 0, 0, nil, fmt.Errorf("%w: IA5 text has octet 0x%02X at offset %d", ErrBadUserData, b, i)
		}
		e := latin1GSM[b]
		if e == 0 {
			gsm = false
			continue
		}
		n += 1 + int(e&l1Ext>>14)
	}
	if !gsm {
		// Latin-1 is the first 256 code points of Unicode, so each octet
		// becomes one UTF-16 unit with a zero high octet.
		out = make([]byte, 2*len(text))
		for i, b := range text {
			out[2*i+1] = b
		}
		return dcsUCS2, formUCS2, out, nil
	}
	out = make([]byte, 0, n)
	for _, b := range text {
		e := latin1GSM[b]
		if e&l1Ext != 0 {
			out = append(out, gsm7.Escape)
		}
		out = append(out, byte(e&0x7F))
	}
	return dcsGSM7, formSeptets, out, nil
}
