// Package voice is the KV voice-channel service (seed 002): a TCP control
// protocol that registers users and creates, joins and leaves channels,
// and one UDP relay per channel that forwards every member's 512-byte
// packets to the other members. docs/voice.md describes the wire formats
// byte by byte, the permission rules, the threat model and what a restart
// does.
//
// This file is the pure control codec: bytes in, values out, no I/O.
package voice

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Command is a control request type (DESIGN.md: enum commd_type).
type Command uint32

// Command values, as the reference client sends them.
const (
	CmdCreate      Command = 0
	CmdDelete      Command = 1
	CmdJoin        Command = 2
	CmdLeave       Command = 3
	CmdRegister    Command = 4
	CmdUnregister  Command = 5
	CmdGetPort     Command = 6
	CmdGetChannels Command = 7
)

// FrameSize is the size of one request as the reference client sends it:
// the 4-byte command type and the 32 bytes of its largest request struct,
// with junk after the fields the command uses.
const FrameSize = 4 + 32

var commandNames = [...]string{"create", "delete", "join", "leave", "register", "unregister", "get_port", "get_channels"}

// String is the command's lower-case name, used as a metric label.
func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return "unknown"
}

// Fields is the number of u64 fields cmd carries, and false for a command
// type that does not exist. The layout itself is Request.fields'.
func (c Command) Fields() (int, bool) {
	if c > CmdGetChannels {
		return 0, false
	}
	var r Request
	r.Cmd = c
	return len(r.fields()), true
}

// ErrorCode is the 4-byte code of an error report (enum commd_error).
type ErrorCode uint32

// Error codes.
const (
	CodeSuccess        ErrorCode = 0
	CodeServer         ErrorCode = 1
	CodeParam          ErrorCode = 2
	CodeInvalid        ErrorCode = 3
	CodeAccess         ErrorCode = 4
	CodeNotImplemented ErrorCode = 5
)

var codeNames = [...]string{"success", "server", "param", "invalid", "access", "not_implemented"}

func (e ErrorCode) String() string {
	if int(e) < len(codeNames) {
		return codeNames[e]
	}
	return fmt.Sprintf("code_%d", uint32(e))
}

// Codec errors.
var (
	// ErrShort means the bytes end before the request or reply does; more
	// must be read.
	ErrShort = errors.New("voice: truncated")
	// ErrUnknownCommand means the command type is not one of the eight.
	ErrUnknownCommand = errors.New("voice: unknown command type")
)

// Request is one decoded control request. Which fields a command uses:
//
//	CREATE       UID
//	DELETE       UID, Chid
//	JOIN         UID, Target (juid), Chid
//	LEAVE        UID, Target (luid), Chid
//	REGISTER     UID (auid), Perm
//	UNREGISTER   UID (auid), Target (the uid to delete)
//	GET_PORT     Chid
//	GET_CHANNELS none
type Request struct {
	Cmd    Command
	UID    uint64
	Target uint64
	Chid   uint64
	Perm   uint64
}

// fields returns pointers to the request's fields in wire order.
func (r *Request) fields() []*uint64 {
	switch r.Cmd {
	case CmdCreate:
		return []*uint64{&r.UID}
	case CmdDelete:
		return []*uint64{&r.UID, &r.Chid}
	case CmdJoin, CmdLeave:
		return []*uint64{&r.UID, &r.Target, &r.Chid}
	case CmdRegister:
		return []*uint64{&r.UID, &r.Perm}
	case CmdUnregister:
		return []*uint64{&r.UID, &r.Target}
	case CmdGetPort:
		return []*uint64{&r.Chid}
	}
	return nil
}

// DecodeRequest decodes the request at the start of b. It returns the
// request and the number of bytes its command type and fields take (4 +
// 8 × fields), which may be less than FrameSize: the server answers as
// soon as the fields are in and skips the rest of the frame afterwards.
// Too few bytes give ErrShort (read more); a command type that does not
// exist gives ErrUnknownCommand once its 4 bytes are in.
func DecodeRequest(b []byte) (Request, int, error) {
	if len(b) < 4 {
		return Request{}, 0, ErrShort
	}
	r := Request{Cmd: Command(binary.BigEndian.Uint32(b))}
	n, ok := r.Cmd.Fields()
	if !ok {
		return Request{Cmd: r.Cmd}, 4, ErrUnknownCommand
	}
	need := 4 + 8*n
	if len(b) < need {
		return Request{Cmd: r.Cmd}, need, ErrShort
	}
	for i, f := range r.fields() {
		*f = binary.BigEndian.Uint64(b[4+8*i:])
	}
	return r, need, nil
}

// AppendRequest appends r as a full FrameSize frame, the unused bytes
// zero, which is what the reference client sends (with junk instead of
// zeros) and what several requests on one connection need.
func AppendRequest(dst []byte, r Request) ([]byte, error) {
	if _, ok := r.Cmd.Fields(); !ok {
		return dst, ErrUnknownCommand
	}
	var f [FrameSize]byte
	binary.BigEndian.PutUint32(f[:], uint32(r.Cmd))
	for i, p := range r.fields() {
		binary.BigEndian.PutUint64(f[4+8*i:], *p)
	}
	return append(dst, f[:]...), nil
}

// AppendResult appends a success reply: the u64 result, which must be
// non-zero (zero means failure on the wire).
func AppendResult(dst []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, v)
}

// AppendError appends an error report: 8 zero bytes, then the 4-byte code.
func AppendError(dst []byte, code ErrorCode) []byte {
	dst = binary.BigEndian.AppendUint64(dst, 0)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

// AppendChannels appends a GET_CHANNELS reply: u64 count, count × u64
// channel ids, u64 0.
func AppendChannels(dst []byte, ids []uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(ids)))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint64(dst, id)
	}
	return binary.BigEndian.AppendUint64(dst, 0)
}

// Reply is a decoded reply.
type Reply struct {
	// Result is the u64 result; zero means the request failed and Code
	// says why.
	Result uint64
	Code   ErrorCode
	// Channels is the GET_CHANNELS list.
	Channels []uint64
}

// MaxChannelsReply bounds the count a client accepts in a GET_CHANNELS
// reply, so that a hostile server cannot make it allocate without limit.
const MaxChannelsReply = 1 << 20

// ErrBadReply means a reply breaks the layout (a GET_CHANNELS list without
// its zero terminator or with an absurd count).
var ErrBadReply = errors.New("voice: malformed reply")

// DecodeReply decodes the reply to a cmd request at the start of b and
// returns it with its length. Too few bytes give ErrShort.
func DecodeReply(cmd Command, b []byte) (Reply, int, error) {
	if len(b) < 8 {
		return Reply{}, 0, ErrShort
	}
	v := binary.BigEndian.Uint64(b)
	if cmd == CmdGetChannels {
		if v > MaxChannelsReply {
			return Reply{}, 0, fmt.Errorf("%w: %d channels", ErrBadReply, v)
		}
		need := 8 + 8*int(v) + 8
		if len(b) < need {
			return Reply{}, 0, ErrShort
		}
		ids := make([]uint64, v)
		for i := range ids {
			ids[i] = binary.BigEndian.Uint64(b[8+8*i:])
		}
		if binary.BigEndian.Uint64(b[need-8:]) != 0 {
			return Reply{}, 0, fmt.Errorf("%w: channel list not terminated by 0", ErrBadReply)
		}
		return Reply{Result: v, Channels: ids}, need, nil
	}
	if v != 0 {
		return Reply{Result: v}, 8, nil
	}
	if len(b) < 12 {
		return Reply{}, 0, ErrShort
	}
	return Reply{Code: ErrorCode(binary.BigEndian.Uint32(b[8:]))}, 12, nil
}
