package cpt

import (
	"bytes"
	"fmt"

	"switchboard/internal/chat"
)

// MaxName is the longest username, group or target in bytes (the chat
// world's rule, shared by every front-end).
const MaxName = chat.MaxName

// ReservedSender is the spec's reserved sender of server messages.
const ReservedSender = chat.ReservedSender

// ErrBadName: a username, target or group breaks the name rules. It wraps
// ErrBadFormat, so a bad name in a command is also a bad command format
// (DECLINE invalid_command) without ParseRequest wrapping twice.
var ErrBadName = fmt.Errorf("%w: bad name", ErrBadFormat)

var (
	errNameEmpty   = &codecError{"cpt: name is empty", ErrBadName}
	errNameLong    = &codecError{"cpt: name is longer than 32 bytes", ErrBadName}
	errNameUTF8    = &codecError{"cpt: name is not valid UTF-8", ErrBadName}
	errNameSpace   = &codecError{"cpt: name has a space", ErrBadName}
	errNameControl = &codecError{"cpt: name has a control character", ErrBadName}
	errSecretEmpty = &codecError{"cpt: CONNECT password is empty", ErrBadFormat}
	errSecretSpace = &codecError{"cpt: CONNECT password has a space", ErrBadFormat}
	errSecretCtl   = &codecError{"cpt: CONNECT password has a control character", ErrBadFormat}
	errTextEmpty   = &codecError{"cpt: message text is empty", ErrBadFormat}
	errTextUTF8    = &codecError{"cpt: message text is not valid UTF-8", ErrBadFormat}
	errTextControl = &codecError{"cpt: message text has a control character", ErrBadFormat}
)

// ValidName checks a username, SEND target or SYNC group: 1 to 32 bytes of
// valid UTF-8 without spaces (a space would split it into two tokens) or
// control characters (C0, including NUL, and DEL), which have no business in
// a name that is printed to terminals and logs. Phone numbers such as
// +16195550100 are names too: the router, not the codec, tells them apart.
// The error names the rule broken, never the name.
func ValidName(b []byte) error {
	switch chat.CheckName(b) {
	case chat.NameEmpty:
		return errNameEmpty
	case chat.NameLong:
		return errNameLong
	case chat.NameNotUTF8:
		return errNameUTF8
	case chat.NameSpace:
		return errNameSpace
	case chat.NameControl:
		return errNameControl
	}
	return nil
}

// validSecret checks CONNECT's password token: one non-empty token (a
// password cannot contain a space, since tokens split on spaces) without
// control characters. Its length is bounded only by the line limit.
func validSecret(b []byte) error {
	switch {
	case len(b) == 0:
		return errSecretEmpty
	case bytes.IndexByte(b, ' ') >= 0:
		return errSecretSpace
	case chat.HasControl(b):
		return errSecretCtl
	}
	return nil
}

// ValidText checks a message text: non-empty valid UTF-8 without C0 control
// characters other than TAB. NUL would be cut by C-string consumers
// downstream, CR and LF would break the line framing of every other
// connection the text is relayed to, and ESC would let a sender drive the
// recipients' terminals; TAB is ordinary in pasted text. DEL and the C1
// range are allowed here (they are valid text), and clients that print
// texts neutralise them.
func ValidText(b []byte) error {
	switch chat.CheckText(b) {
	case chat.TextEmpty:
		return errTextEmpty
	case chat.TextNotUTF8:
		return errTextUTF8
	case chat.TextControl:
		return errTextControl
	}
	return nil
}
