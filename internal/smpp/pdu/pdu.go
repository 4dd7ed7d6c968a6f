// Package pdu is the SMPP v3.4 PDU codec: it turns bytes read from an SMPP
// connection into typed values and back. It is pure (no I/O, no state) so
// that the session layer, the tools and the fuzzer all share one
// implementation of the wire format; docs/smpp-pdu.md describes the layouts
// and the error mapping byte by byte.
//
// The three entry points are Frame (how long is the first PDU in a stream
// buffer), Decode (one PDU's bytes to a PDU) and Append (a PDU to bytes).
// Decode returns bodies as pointers (*SM, *Bind, ...); Append takes either a
// pointer or a value.
package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of the fixed PDU header: command_length,
// command_id, command_status and sequence_number, four octets each.
const HeaderLen = 16

// DefaultMaxPDU is the largest command_length accepted when the caller does
// not configure one. 64 KiB holds a message_payload of any practical size
// while keeping a hostile peer from making us buffer megabytes.
const DefaultMaxPDU = 64 * 1024

// CommandID is the command_id header field.
type CommandID uint32

// The command ids of SMPP 3.4 §5.1.2.1. A response id is its request id with
// the high bit set.
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	QuerySM             CommandID = 0x00000003
	QuerySMResp         CommandID = 0x80000003
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	ReplaceSM           CommandID = 0x00000007
	ReplaceSMResp       CommandID = 0x80000007
	CancelSM            CommandID = 0x00000008
	CancelSMResp        CommandID = 0x80000008
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	Outbind             CommandID = 0x0000000B
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
	SubmitMulti         CommandID = 0x00000021
	SubmitMultiResp     CommandID = 0x80000021
	AlertNotification   CommandID = 0x00000102
	DataSM              CommandID = 0x00000103
	DataSMResp          CommandID = 0x80000103
)

// responseBit marks a response command_id.
const responseBit = 0x80000000

func (c CommandID) name() string {
	switch c {
	case GenericNack:
		return "generic_nack"
	case BindReceiver:
		return "bind_receiver"
	case BindReceiverResp:
		return "bind_receiver_resp"
	case BindTransmitter:
		return "bind_transmitter"
	case BindTransmitterResp:
		return "bind_transmitter_resp"
	case QuerySM:
		return "query_sm"
	case QuerySMResp:
		return "query_sm_resp"
	case SubmitSM:
		return "submit_sm"
	case SubmitSMResp:
		return "submit_sm_resp"
	case DeliverSM:
		return "deliver_sm"
	case DeliverSMResp:
		return "deliver_sm_resp"
	case Unbind:
		return "unbind"
	case UnbindResp:
		return "unbind_resp"
	case ReplaceSM:
		return "replace_sm"
	case ReplaceSMResp:
		return "replace_sm_resp"
	case CancelSM:
		return "cancel_sm"
	case CancelSMResp:
		return "cancel_sm_resp"
	case BindTransceiver:
		return "bind_transceiver"
	case BindTransceiverResp:
		return "bind_transceiver_resp"
	case Outbind:
		return "outbind"
	case EnquireLink:
		return "enquire_link"
	case EnquireLinkResp:
		return "enquire_link_resp"
	case SubmitMulti:
		return "submit_multi"
	case SubmitMultiResp:
		return "submit_multi_resp"
	case AlertNotification:
		return "alert_notification"
	case DataSM:
		return "data_sm"
	case DataSMResp:
		return "data_sm_resp"
	}
	return ""
}

// String returns the spec's name for c ("submit_sm"), or its value as
// eight hex digits ("0x000000ff") when c is not an SMPP 3.4 command, so logs
// and metric labels always show something exact.
func (c CommandID) String() string {
	if n := c.name(); n != "" {
		return n
	}
	return hex32(uint32(c))
}

// Known reports whether c is one of the SMPP 3.4 command ids above.
func (c CommandID) Known() bool { return c.name() != "" }

// IsResponse reports whether c has the response bit set.
func (c CommandID) IsResponse() bool { return c&responseBit != 0 }

// Response returns the command id of the response to c. It does not check
// that the response exists: outbind and alert_notification have none.
func (c CommandID) Response() CommandID { return c | responseBit }

// hex32 formats v as 0x and eight lower-case hex digits without fmt, since
// it names unknown commands and statuses in metric labels on the hot path.
func hex32(v uint32) string {
	const digits = "0123456789abcdef"
	var b [10]byte
	b[0], b[1] = '0', 'x'
	for i := 9; i >= 2; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

// Header is the fixed PDU header. Length is command_length: Decode fills it
// in; Append ignores it and writes the real length.
type Header struct {
	Length   uint32
	Command  CommandID
	Status   Status
	Sequence uint32
}

// Address is a (TON, NPI, address) triple, as in source_addr_ton,
// source_addr_npi and source_addr.
type Address struct {
	TON, NPI uint8
	Addr     string
}

// PDU is one decoded PDU. Body is one of the body types in bodies.go; its
// dynamic type always agrees with Header.Command after Decode.
type PDU struct {
	Header Header
	Body   Body
}

// Sentinel errors, wrapped by every error this package returns, so callers
// can tell framing problems from content problems with errors.Is.
var (
	// ErrBadLength means command_length is below HeaderLen, above the
	// configured maximum, or disagrees with the bytes given or the body's
	// contents.
	ErrBadLength = errors.New("bad command_length")
	// ErrUnknownCommand means command_id is not an SMPP 3.4 command.
	ErrUnknownCommand = errors.New("unknown command_id")
	// ErrMalformed means a field cannot be decoded or encoded: a string
	// too long for its field, a missing NUL, a broken TLV, a count or
	// length that overruns the body.
	ErrMalformed = errors.New("malformed PDU")
)

// Error is the error Decode and Append return. Header holds what could be
// read of the header (Decode) or the header being written (Append), so the
// session can answer with the right sequence_number; Status is the
// command_status the spec says the receiver should answer with.
type Error struct {
	Header Header
	Status Status
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("smpp pdu %s seq %d: %s: %v", e.Header.Command, e.Header.Sequence, e.Status, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Frame looks at the start of buf, bytes read from a TCP stream. It returns
// the command_length n of the first PDU when buf holds all of it, and 0
// when more bytes are needed. It fails, with an *Error wrapping
// ErrBadLength and Status ESME_RINVCMDLEN, as soon as the first four octets
// show a command_length below HeaderLen or above max: a stream with a bad
// length cannot be resynchronised, so the session answers generic_nack and
// closes, and there is no point waiting for more bytes first. max <= 0
// means DefaultMaxPDU.
func Frame(buf []byte, max int) (int, error) {
	if len(buf) < 4 {
		return 0, nil
	}
	if max <= 0 {
		max = DefaultMaxPDU
	}
	n := binary.BigEndian.Uint32(buf)
	if n < HeaderLen || uint64(n) > uint64(max) {
		return 0, &Error{
			Header: partialHeader(buf),
			Status: StatusInvCmdLen,
			Err:    fmt.Errorf("%w: command_length %d outside %d..%d", ErrBadLength, n, HeaderLen, max),
		}
	}
	if uint64(len(buf)) < uint64(n) {
		return 0, nil
	}
	return int(n), nil
}

// partialHeader reads as much of a header as b holds, for error reports.
func partialHeader(b []byte) Header {
	var h Header
	if len(b) >= 4 {
		h.Length = binary.BigEndian.Uint32(b)
	}
	if len(b) >= 8 {
		h.Command = CommandID(binary.BigEndian.Uint32(b[4:]))
	}
	if len(b) >= 12 {
		h.Status = Status(binary.BigEndian.Uint32(b[8:]))
	}
	if len(b) >= 16 {
		h.Sequence = binary.BigEndian.Uint32(b[12:])
	}
	return h
}
