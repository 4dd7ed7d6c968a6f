// Package cpt is the Chat Protocol for Texting (seed 003): the line codec,
// a line reader with a hard length limit, and a client. The wire format is
// described in docs/cpt.md.
//
// The codec is pure: ParseRequest and ParseReply turn one line into a value
// whose byte slices alias the line, and the Append functions write one whole
// line after dst. Neither allocates on the success path, so a server can
// parse and answer pipelined lines without garbage.
package cpt

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Verb is the command word that starts every line.
type Verb uint8

const (
	// Client to server.
	VerbConnect Verb = iota + 1
	VerbSend
	VerbSync
	// Server to client.
	VerbAccept
	VerbDecline
	VerbAck
	VerbMsg
	VerbEndSync
)

// verbWords are the wire spellings, indexed by Verb.
var verbWords = [...]string{
	VerbConnect: "CONNECT",
	VerbSend:    "SEND",
	VerbSync:    "SYNC",
	VerbAccept:  "ACCEPT",
	VerbDecline: "DECLINE",
	VerbAck:     "ACK",
	VerbMsg:     "MSG",
	VerbEndSync: "ENDSYNC",
}

// String returns the wire spelling, or "Verb(N)" for a value that has none.
func (v Verb) String() string {
	if int(v) < len(verbWords) && verbWords[v] != "" {
		return verbWords[v]
	}
	return "Verb(" + strconv.Itoa(int(v)) + ")"
}

// IsClient reports whether a client sends this verb.
func (v Verb) IsClient() bool { return v >= VerbConnect && v <= VerbSync }

// lookupVerb maps a command word to its Verb (0 if unknown). Matching is
// exact: the spec spells every command in capitals and the reference
// implementations compare case-sensitively.
func lookupVerb(word []byte) Verb {
	switch string(word) { // the compiler does not allocate for this conversion
	case "CONNECT":
		return VerbConnect
	case "SEND":
		return VerbSend
	case "SYNC":
		return VerbSync
	case "ACCEPT":
		return VerbAccept
	case "DECLINE":
		return VerbDecline
	case "ACK":
		return VerbAck
	case "MSG":
		return VerbMsg
	case "ENDSYNC":
		return VerbEndSync
	}
	return 0
}

// The sentinel errors. Every error from ParseRequest, ParseReply, ValidName,
// ValidText and Reader.ReadLine wraps exactly one of them (a name error
// wraps ErrBadName, which itself wraps ErrBadFormat), so errors.Is and
// Reason classify them.
var (
	// ErrUnknownCommand: the first token is not a CPT command (also an empty
	// line).
	ErrUnknownCommand = errors.New("cpt: unknown command")
	// ErrNotClientCommand: a client sent a server-to-client command.
	ErrNotClientCommand = errors.New("cpt: not a client command")
	// ErrBadFormat: wrong argument count, an empty token, a bad timestamp,
	// an empty or control-character text, or a bad name.
	ErrBadFormat = errors.New("cpt: invalid command format")
	// ErrBadUTF8: the line is not valid UTF-8.
	ErrBadUTF8 = errors.New("cpt: invalid UTF-8")
	// ErrLineTooLong: from Reader, a line exceeded the limit.
	ErrLineTooLong = errors.New("cpt: line too long")
)

// codecError is a fixed error message that wraps a sentinel. The values
// are package variables, so failing a parse allocates nothing: a server
// under a flood of junk lines makes no garbage for them.
type codecError struct {
	msg string
	err error
}

func (e *codecError) Error() string { return e.msg }
func (e *codecError) Unwrap() error { return e.err }

var (
	errEmptyLine   = &codecError{"cpt: empty line", ErrUnknownCommand}
	errClientVerb  = &codecError{"cpt: a client command sent by the server", ErrUnknownCommand}
	errConnectArgs = &codecError{"cpt: CONNECT takes a username and an optional password", ErrBadFormat}
	errSecret      = &codecError{"cpt: CONNECT password has a control character", ErrBadFormat}
	errSendArgs    = &codecError{"cpt: SEND takes a target and a text", ErrBadFormat}
	errSyncArgs    = &codecError{"cpt: SYNC takes nothing, a group, or a group and a timestamp", ErrBadFormat}
	errTimestamp   = &codecError{"cpt: timestamp is not a non-negative decimal int64", ErrBadFormat}
	errNoArgs      = &codecError{"cpt: command takes no arguments", ErrBadFormat}
	errDeclineArgs = &codecError{"cpt: DECLINE takes a reason", ErrBadFormat}
	errMsgArgs     = &codecError{"cpt: MSG takes a group, a sender, a timestamp and a text", ErrBadFormat}
)

// Decline reasons. The first six are the spec's table; the rest are ours,
// each documented in docs/cpt.md with when the server sends it. Every
// reason is one word, because the spec's DECLINE takes a single token.
const (
	ReasonUsernameTaken      = "username_taken"
	ReasonAccountLocked      = "account_locked"
	ReasonIPInvalid          = "ip_invalid"
	ReasonAlreadyLoggedIn    = "already_logged_in"
	ReasonUnsupportedCommand = "unsupported_command"
	ReasonInvalidCommand     = "invalid_command"

	ReasonInvalidUTF8     = "invalid_utf8"
	ReasonLineTooLong     = "line_too_long"
	ReasonNotConnected    = "not_connected"
	ReasonBadCredentials  = "bad_credentials"
	ReasonUsernameInvalid = "username_invalid"
	ReasonRateLimited     = "rate_limited"
	ReasonUnknownTarget   = "unknown_target"
	ReasonNotPermitted    = "not_permitted"
	ReasonServerBusy      = "server_busy"
	ReasonTooLong         = "message_too_long"
)

// Reason maps an error from ParseRequest or Reader.ReadLine to the DECLINE
// reason the server answers it with. Anything it does not recognise is
// invalid_command, the spec's catch-all.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrNotClientCommand):
		return ReasonUnsupportedCommand
	case errors.Is(err, ErrBadUTF8):
		return ReasonInvalidUTF8
	case errors.Is(err, ErrLineTooLong):
		return ReasonLineTooLong
	default:
		return ReasonInvalidCommand
	}
}

// Request is one parsed client line. Byte slices alias the input line.
type Request struct {
	Verb     Verb
	Name     []byte // CONNECT username; SEND target; SYNC group (nil for bare SYNC)
	Secret   []byte // CONNECT optional second token: a password (nil if absent)
	After    int64  // SYNC after (seconds); 0 for bare SYNC and "SYNC <group>"
	HasGroup bool   // SYNC had a group
	Text     []byte // SEND message text (the rest of the line)
}

// Reply is one parsed server line. Byte slices alias the input line.
type Reply struct {
	Verb          Verb
	Reason        []byte // DECLINE
	Group, Sender []byte // MSG
	Time          int64  // MSG timestamp (seconds)
	Text          []byte // MSG text (the rest of the line, may be empty)
}

// splitToken returns the bytes before the first space and, if there was a
// space, the bytes after it. Splitting is on one space exactly, so "a  b"
// yields "a" and " b": the empty token that a double space produces is
// caught by the caller, never skipped, as in the reference implementation.
func splitToken(b []byte) (tok, rest []byte, more bool) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// parseTime reads a non-negative decimal int64. Leading zeros are
// accepted; a sign, an empty string or an overflow are not.
func parseTime(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ParseRequest parses one client line, without its terminator. On an
// ErrBadFormat error the returned Request has its Verb set, so that a server
// can tell, say, a malformed CONNECT from a malformed SEND.
func ParseRequest(line []byte) (Request, error) {
	if !utf8.Valid(line) {
		return Request{}, ErrBadUTF8
	}
	word, args, hasArgs := splitToken(line)
	v := lookupVerb(word)
	switch {
	case len(line) == 0:
		return Request{}, errEmptyLine
	case v == 0:
		return Request{}, ErrUnknownCommand
	case !v.IsClient():
		return Request{Verb: v}, ErrNotClientCommand
	}
	req := Request{Verb: v}
	switch v {
	case VerbConnect:
		if !hasArgs {
			return req, errConnectArgs
		}
		name, secret, hasSecret := splitToken(args)
		if err := ValidName(name); err != nil {
			return req, err
		}
		if hasSecret {
			if err := validSecret(secret); err != nil {
				return req, err
			}
			req.Secret = secret
		}
		req.Name = name
	case VerbSend:
		if !hasArgs {
			return req, errSendArgs
		}
		target, text, hasText := splitToken(args)
		if err := ValidName(target); err != nil {
			return req, err
		}
		if !hasText {
			return req, errSendArgs
		}
		if err := ValidText(text); err != nil {
			return req, err
		}
		req.Name, req.Text = target, text
	case VerbSync:
		if !hasArgs {
			return req, nil // bare SYNC: my messages
		}
		group, after, hasAfter := splitToken(args)
		if err := ValidName(group); err != nil {
			return req, err
		}
		if hasAfter {
			t, ok := parseTime(after)
			if !ok {
				return req, errTimestamp
			}
			req.After = t
		}
		req.Name, req.HasGroup = group, true
	}
	return req, nil
}

// ParseReply parses one server line, without its terminator. It is
// stricter about the command words than about their contents: a client
// must stay in step with the server's replies, but it should still show a
// message whose text or names a foreign server spells oddly, so MSG names
// are only required to be non-empty, a MSG text may be empty, and a
// DECLINE reason is the rest of the line (ours is always one word).
func ParseReply(line []byte) (Reply, error) {
	if !utf8.Valid(line) {
		return Reply{}, ErrBadUTF8
	}
	word, args, hasArgs := splitToken(line)
	v := lookupVerb(word)
	switch {
	case len(line) == 0:
		return Reply{}, errEmptyLine
	case v == 0:
		return Reply{}, ErrUnknownCommand
	case v.IsClient():
		return Reply{Verb: v}, errClientVerb
	}
	rep := Reply{Verb: v}
	switch v {
	case VerbAccept, VerbAck, VerbEndSync:
		if hasArgs {
			return rep, errNoArgs
		}
	case VerbDecline:
		if len(args) == 0 {
			return rep, errDeclineArgs
		}
		rep.Reason = args
	case VerbMsg:
		group, rest, ok1 := splitToken(args)
		sender, rest, ok2 := splitToken(rest)
		ts, text, _ := splitToken(rest)
		if !hasArgs || !ok1 || !ok2 || len(group) == 0 || len(sender) == 0 {
			return rep, errMsgArgs
		}
		t, ok := parseTime(ts)
		if !ok {
			return rep, errTimestamp
		}
		rep.Group, rep.Sender, rep.Time, rep.Text = group, sender, t, text
	}
	return rep, nil
}

// The encoders append one whole line, "\n" included. They do not validate:
// a caller that takes names or text from outside checks them with ValidName
// and ValidText first, as Client does, so that a newline in a text can never
// inject a second command.

// AppendConnect appends "CONNECT <name>" or, with a secret, "CONNECT <name>
// <secret>".
func AppendConnect(dst []byte, name, secret string) []byte {
	dst = append(dst, "CONNECT "...)
	dst = append(dst, name...)
	if secret != "" {
		dst = append(dst, ' ')
		dst = append(dst, secret...)
	}
	return append(dst, '\n')
}

// AppendSend appends "SEND <target> <text>".
func AppendSend(dst []byte, target string, text []byte) []byte {
	dst = append(dst, "SEND "...)
	dst = append(dst, target...)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	return append(dst, '\n')
}

// AppendSync appends "SYNC <group> <after>", or the bare "SYNC" when group
// is empty. The after token is always written, even 0, because the spec's
// form has it and only our parser accepts it missing.
func AppendSync(dst []byte, group string, after int64) []byte {
	if group == "" {
		return append(dst, "SYNC\n"...)
	}
	dst = append(dst, "SYNC "...)
	dst = append(dst, group...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, after, 10)
	return append(dst, '\n')
}

// AppendAccept appends "ACCEPT".
func AppendAccept(dst []byte) []byte { return append(dst, "ACCEPT\n"...) }

// AppendAck appends "ACK".
func AppendAck(dst []byte) []byte { return append(dst, "ACK\n"...) }

// AppendEndSync appends "ENDSYNC".
func AppendEndSync(dst []byte) []byte { return append(dst, "ENDSYNC\n"...) }

// AppendDecline appends "DECLINE <reason>".
func AppendDecline(dst []byte, reason string) []byte {
	dst = append(dst, "DECLINE "...)
	dst = append(dst, reason...)
	return append(dst, '\n')
}

// AppendMsg appends "MSG <group> <sender> <ts> <text>".
func AppendMsg(dst []byte, group, sender string, ts int64, text []byte) []byte {
	dst = append(dst, "MSG "...)
	dst = append(dst, group...)
	dst = append(dst, ' ')
	dst = append(dst, sender...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	return append(dst, '\n')
}
