// Package smstext turns message text into SMS user data and back: the
// TP-DCS, TP-UDHI, TP-UDL and TP-UD of 3GPP TS 23.040, split into
// concatenated parts when the text does not fit in one short message.
//
// It sits between the character level (package gsm7, which knows the GSM
// 03.38 alphabet and septet packing) and everything that stores, submits or
// shows messages: the submit tool (Encode, ParseEncodeText), the store and
// SMPP layers (Part), and the dump, CPT and chat views (Decode, Reassemble).
// All functions are pure: they do no I/O beyond reading the io.Reader handed
// to ParseEncodeText, and they keep no state.
//
// The choices the specifications leave open are documented on the functions
// concerned and collected, with test vectors, in docs/smstext.md.
package smstext

import (
	"errors"
)

// Data coding scheme values that Encode produces. They are the plainest
// codings of TS 23.038 §4 (no message class, no compression), which is what
// the seed's default PID/DCS filter admits.
const (
	DCSGSM7 byte = 0x00
	DCSUCS2 byte = 0x08
)

// ESMUDHI is the TP-UDHI flag as it appears in the SMPP esm_class and in our
// store records: set when the user data starts with a User Data Header.
const ESMUDHI byte = 0x40

// Limits of TS 23.040 §9.2.3.24 and the concatenation overheads derived from
// them. A UDH of 6 octets (8-bit reference) costs 7 septets with its fill
// bit or 6 octets; one of 7 octets (16-bit reference) costs 8 septets or 7
// octets, leaving room for 66 whole UCS-2 units.
const (
	MaxUDOctets  = 140
	MaxUDSeptets = 160

	// maxTotal is the most parts a one-octet part count can express.
	maxTotal = 255
)

// Part is one short message's user data, ready for a store record or a
// submit_sm.
type Part struct {
	// DCS is the TP-Data-Coding-Scheme: 0x00 for the GSM 7-bit default
	// alphabet, 0x08 for UCS-2, or whatever sms-encode-text input gave.
	DCS byte
	// ESM is 0x40 (TP-UDHI) when UD starts with a User Data Header, else 0.
	ESM byte
	// UDL is TP-UDL: septets (UDH septets and fill included) when DCS says
	// GSM 7-bit, octets otherwise.
	UDL byte
	// UD is the packed user data, UDH included, at most 140 octets.
	UD []byte
	// Ref is the concatenation reference, 0 when the message is single.
	// With an 8-bit reference only the low byte is meaningful.
	Ref uint16
	// Total and Seq are the concatenation part count and the 1-based part
	// number, both 0 when the message is single.
	Total, Seq byte
}

// Options tune Encode. The zero value is the common case: pick GSM 7-bit
// when possible, 8-bit concatenation references, up to 255 parts.
type Options struct {
	// ForceUCS2 sends UCS-2 even when the text fits the GSM alphabet, for
	// callers that know the recipient renders GSM text badly.
	ForceUCS2 bool
	// Ref16 uses the 16-bit reference IE (IEI 0x08) instead of the 8-bit
	// one (IEI 0x00). It costs one septet or two octets per part, but makes
	// reference collisions between long messages to one recipient rarer.
	Ref16 bool
	// MaxParts limits the number of parts; 0 (or anything above 255, which
	// the one-octet part count cannot express) means 255.
	MaxParts int
}

// Errors. Each is returned wrapped with details, so test for them with
// errors.Is.
var (
	// ErrTooLong means the text needs more parts than allowed.
	ErrTooLong = errors.New("smstext: message too long")
	// ErrInvalidText means Encode was given a string that is not valid
	// UTF-8; guessing at the intended characters would send the wrong text.
	ErrInvalidText = errors.New("smstext: text is not valid UTF-8")
	// ErrBinary means the data coding scheme says 8-bit data (or
	// compressed text), which has no text form; show it as hex instead.
	ErrBinary = errors.New("smstext: user data is binary, not text")
	// ErrBadUserData means UDL, UDHI and UD contradict each other, for
	// example a UDH longer than the user data or a UDL beyond the octets
	// present.
	ErrBadUserData = errors.New("smstext: malformed user data")
	// ErrBadUDH means a User Data Header whose information elements run
	// past its end, or whose UDHL disagrees with its length.
	ErrBadUDH = errors.New("smstext: malformed user data header")
	// ErrNotOneMessage means Reassemble was given parts that do not belong
	// to one concatenated message in order.
	ErrNotOneMessage = errors.New("smstext: parts are not one message in sequence")
)

// Coding is the alphabet a data coding scheme selects, reduced to what
// matters for carrying and showing text.
type Coding uint8

const (
	// CodingGSM7 is the GSM 7-bit default alphabet; TP-UDL counts septets.
	CodingGSM7 Coding = iota
	// CodingBinary is 8-bit data; TP-UDL counts octets.
	CodingBinary
	// CodingUCS2 is UCS-2 (read as UTF-16BE); TP-UDL counts octets.
	CodingUCS2
	// CodingCompressed is compressed text (TS 23.042) of any alphabet;
	// TP-UDL counts octets and we cannot decompress it.
	CodingCompressed
)

// String names the coding for log and error messages.
func (c Coding) String() string {
	switch c {
	case CodingGSM7:
		return "GSM 7-bit"
	case CodingBinary:
		return "8-bit data"
	case CodingUCS2:
		return "UCS-2"
	case CodingCompressed:
		return "compressed"
	}
	return "unknown coding"
}

// CodingOf classifies an SMS data coding scheme (TP-DCS, TS 23.038 §4).
// It takes the GSM TP-DCS octet as stored in our records, not an SMPP
// data_coding value: SMPP gives 0x01 (IA5) and 0x03 (Latin-1) other
// meanings, and the SMPP layer must map those before the text gets here.
//
//   - 0x00-0x7F (general data coding, and the same with automatic
//     deletion): bit 5 set means compressed; otherwise bits 3-2 give the
//     alphabet: 00 GSM 7-bit, 01 8-bit data, 10 UCS-2, 11 reserved. The
//     class bits do not matter here, so 0x01-0x03 and 0x10-0x13 are GSM
//     7-bit like 0x00, 0x04-0x07 and 0x14-0x17 are 8-bit data, and
//     0x08-0x0B and 0x18-0x1B are UCS-2.
//   - 0xC0-0xDF (message waiting, discard or store): GSM 7-bit.
//   - 0xE0-0xEF (message waiting, store, UCS-2): UCS-2.
//   - 0xF0-0xFF (data coding/message class): bit 2 clear is GSM 7-bit
//     (0xF0-0xF3), set is 8-bit data (0xF4-0xF7). Bit 3 is reserved and
//     ignored, as most handsets do, so 0xF8-0xFB are GSM 7-bit and
//     0xFC-0xFF 8-bit data.
//   - Reserved codings (alphabet 11, and the groups 0x80-0xBF) are GSM
//     7-bit, because TS 23.038 tells a receiving entity to assume the
//     default alphabet for any reserved coding.
func CodingOf(dcs byte) Coding {
	switch {
	case dcs < 0x80:
		if dcs&0x20 != 0 {
			return CodingCompressed
		}
		switch dcs & 0x0C {
		case 0x04:
			return CodingBinary
		case 0x08:
			return CodingUCS2
		}
		return CodingGSM7
	case dcs >= 0xF0:
		if dcs&0x04 != 0 {
			return CodingBinary
		}
		return CodingGSM7
	case dcs >= 0xE0:
		return CodingUCS2
	}
	return CodingGSM7
}
