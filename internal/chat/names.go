package chat

import (
	"bytes"
	"unicode/utf8"
)

// MaxName is the longest username, group or target in bytes: the message
// store's name field, so that every name a front-end accepts can be
// stored.
const MaxName = 32

// ReservedSender is the name the chat servers speak as; no user may take
// it, in any letter case.
const ReservedSender = "system"

// NameFault is the rule a name breaks, for front-ends to report in their
// own words. Every front-end checks names with CheckName, which is what
// makes the namespace one: a name one protocol accepts the others accept.
type NameFault uint8

const (
	NameOK NameFault = iota
	NameEmpty
	NameLong
	NameNotUTF8
	NameSpace
	NameControl
)

// CheckName checks a username, target or group: 1 to MaxName bytes of
// valid UTF-8 without spaces (CPT splits its lines on them) or control
// characters (C0, including NUL, and DEL), which have no business in a
// name that is printed to terminals and logs. Phone numbers such as
// +16195550100 are names too: Classify, not CheckName, tells them apart.
func CheckName(b []byte) NameFault {
	switch {
	case len(b) == 0:
		return NameEmpty
	case len(b) > MaxName:
		return NameLong
	case !utf8.Valid(b):
		return NameNotUTF8
	case bytes.IndexByte(b, ' ') >= 0:
		return NameSpace
	case HasControl(b):
		return NameControl
	}
	return NameOK
}

// HasControl reports a C0 control byte or DEL. UTF-8 lead and
// continuation bytes are all >= 0x80, so a byte scan is exact.
func HasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// ValidUsername reports whether name may log in on any front-end: a valid
// name (CheckName), not the reserved sender, and not phone-shaped (those
// are SMS targets). Public groups are refused by Login itself.
func ValidUsername(name []byte) bool {
	return CheckName(name) == NameOK && !IsReserved(name) && !IsPhone(string(name))
}

// IsReserved reports whether name is the reserved sender, in any case.
func IsReserved(name []byte) bool {
	return bytes.EqualFold(name, []byte(ReservedSender))
}

// TextFault is the rule a message text breaks.
type TextFault uint8

const (
	TextOK TextFault = iota
	TextEmpty
	TextNotUTF8
	TextControl
)

// CheckText checks a message text: non-empty valid UTF-8 without C0
// control characters other than TAB. NUL would be cut by C-string
// consumers downstream, CR and LF would break the line framing of every
// CPT connection the text is relayed to, and ESC would let a sender drive
// the recipients' terminals; TAB is ordinary in pasted text. DEL and the
// C1 range are valid text, and clients that print texts neutralise them.
func CheckText(b []byte) TextFault {
	switch {
	case len(b) == 0:
		return TextEmpty
	case !utf8.Valid(b):
		return TextNotUTF8
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' {
			return TextControl
		}
	}
	return TextOK
}
