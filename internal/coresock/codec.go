package coresock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Protocol constants. Every message is one SOCK_SEQPACKET packet, so the
// packet boundary is the message boundary and there is no length prefix.
const (
	// Version is the protocol version written into every header. A receiver
	// drops packets of another version without answering, because it cannot
	// know where such a packet keeps its id.
	Version = 1
	// HeaderSize is the size of the fixed header that starts every message.
	HeaderSize = 8
	// ResponseHeaderSize is the header plus the status and reason that
	// start every response body.
	ResponseHeaderSize = HeaderSize + 4
	// MaxMessage is the default largest message a transport accepts. The
	// largest message defined today (MT_TRANSFER, 272 bytes) leaves room for
	// growth without renegotiating anything.
	MaxMessage = 1024
	// ResponseBit marks a response; the low seven bits name the request type
	// it answers.
	ResponseBit = 0x80
)

// Type is the message type byte of a header.
type Type uint8

// Request types. Those below 0x20 flow from a client to the core; those from
// 0x20 flow from the core to a registered role handler.
const (
	TypeSubmit          Type = 0x01
	TypeCancel          Type = 0x02
	TypeChangeSRR       Type = 0x03
	TypeRHRegister      Type = 0x04
	TypeRHServiceState  Type = 0x05
	TypeMTDischarge     Type = 0x06
	TypeNumberingReload Type = 0x07
	TypePing            Type = 0x08
	// TypeHello is the capability exchange of docs/core-socket.md: the end
	// that connected offers what it understands, the other end answers
	// with its own. The transport handles it; a Handler never sees it.
	TypeHello Type = 0x09
	// TypeBatch is a container of several complete messages in one
	// packet, sent only to a peer that advertised it in HELLO. It is not
	// a message of its own: Unmarshal refuses it, the transport takes it
	// apart.
	TypeBatch Type = 0x10

	TypeFindIMSI      Type = 0x20
	TypeMTTransfer    Type = 0x21
	TypeMTCancel      Type = 0x22
	TypeDeliverToPeer Type = 0x23
)

var typeNames = map[Type]string{
	TypeSubmit:          "SUBMIT",
	TypeCancel:          "CANCEL",
	TypeChangeSRR:       "CHANGE_SRR",
	TypeRHRegister:      "RH_REGISTER",
	TypeRHServiceState:  "RH_SERVICE_STATE",
	TypeMTDischarge:     "MT_DISCHARGE",
	TypeNumberingReload: "NUMBERING_RELOAD",
	TypePing:            "PING",
	TypeHello:           "HELLO",
	TypeBatch:           "BATCH",
	TypeFindIMSI:        "FIND_IMSI",
	TypeMTTransfer:      "MT_TRANSFER",
	TypeMTCancel:        "MT_CANCEL",
	TypeDeliverToPeer:   "DELIVER_TO_PEER",
}

// IsResponse reports whether the type is a response.
func (t Type) IsResponse() bool { return t&ResponseBit != 0 }

// Request returns the request type that t is or answers.
func (t Type) Request() Type { return t &^ ResponseBit }

// Response returns the type of the response to request type t.
func (t Type) Response() Type { return t | ResponseBit }

// Known reports whether this build defines the request type t is or answers.
func (t Type) Known() bool {
	_, ok := typeNames[t.Request()]
	return ok
}

// FromCore reports whether requests of this type flow from the core to a role
// handler (as opposed to from a client to the core).
func (t Type) FromCore() bool { return t.Request() >= 0x20 }

func (t Type) String() string {
	name, ok := typeNames[t.Request()]
	if !ok {
		name = fmt.Sprintf("TYPE_%#02x", uint8(t.Request()))
	}
	if t.IsResponse() {
		return name + " response"
	}
	return name
}

// Header is the decoded fixed header of a message. For a response it also
// holds the status and reason detail that start every response body: they
// belong to the exchange rather than to the response fields of one type, and
// keeping them here lets a single Body value describe the fields alone.
type Header struct {
	Type Type
	// ID is chosen by the sender of a request and echoed by the response.
	ID uint32
	// Status and Reason are meaningful for responses only: the result code
	// and a detail (such as an SMPP command_status) that is 0 if none.
	Status Status
	Reason uint16
}

// Body is the type-specific part of a message: one of the request structs or
// one of the response structs that carry fields. The set is closed (the
// methods that encode and decode are unexported) because the wire format is
// this package's to define.
type Body interface {
	// Type is the message type this body belongs to: a request type for a
	// request struct, a response type for a response struct.
	Type() Type
	appendBody(dst []byte) ([]byte, error)
	decodeBody(b []byte) error
}

// Errors returned by Unmarshal and the transport. ErrShort and ErrVersion
// mean the header itself is unreadable, so there is no id to answer; after
// ErrUnknownType or ErrMalformed the returned Header is valid and a request
// can be answered with UNKNOWN_TYPE or MALFORMED.
var (
	ErrShort       = errors.New("coresock: packet shorter than a header")
	ErrVersion     = errors.New("coresock: unsupported protocol version")
	ErrUnknownType = errors.New("coresock: unknown message type")
	ErrMalformed   = errors.New("coresock: malformed message")
	ErrOversize    = errors.New("coresock: message larger than the maximum")
	ErrClosed      = errors.New("coresock: connection closed")
)

// HeaderReadable reports whether an Unmarshal error still left a usable
// Header, that is whether the sender can be told what went wrong.
func HeaderReadable(err error) bool {
	return err == nil || errors.Is(err, ErrUnknownType) || errors.Is(err, ErrMalformed)
}

// StatusFor maps an Unmarshal error to the status that answers it.
func StatusFor(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, ErrUnknownType):
		return StatusUnknownType
	default:
		return StatusMalformed
	}
}

// newBody returns an empty body for type t. For a response type whose
// response has no fields it returns (nil, true); for an unknown type
// (nil, false).
func newBody(t Type) (Body, bool) {
	if t.IsResponse() {
		switch t.Request() {
		case TypeSubmit:
			return &SubmitResp{}, true
		case TypeFindIMSI:
			return &FindIMSIResp{}, true
		case TypeDeliverToPeer:
			return &DeliverToPeerResp{}, true
		case TypeHello:
			return &helloResp{}, true
		case TypeBatch:
			return nil, false
		}
		return nil, t.Known()
	}
	switch t {
	case TypeSubmit:
		return submitPool.Get().(*Submit), true
	case TypeCancel:
		return &Cancel{}, true
	case TypeChangeSRR:
		return &ChangeSRR{}, true
	case TypeRHRegister:
		return &RHRegister{}, true
	case TypeRHServiceState:
		return &RHServiceState{}, true
	case TypeMTDischarge:
		return &MTDischarge{}, true
	case TypeNumberingReload:
		return &NumberingReload{}, true
	case TypePing:
		return &Ping{}, true
	case TypeHello:
		return &hello{}, true
	case TypeFindIMSI:
		return &FindIMSI{}, true
	case TypeMTTransfer:
		return &MTTransfer{}, true
	case TypeMTCancel:
		return &MTCancel{}, true
	case TypeDeliverToPeer:
		return &DeliverToPeer{}, true
	}
	return nil, false
}

// submitPool holds SUBMIT bodies for reuse (Release): SUBMIT is the one
// request that comes at high rates, and its 260-byte body is the largest
// allocation the core makes per message. decodeBody sets every field, so
// a reused body needs no clearing.
var submitPool = sync.Pool{New: func() any { return new(Submit) }}

// Release gives back a request body that Unmarshal returned (a Handler's
// body) for reuse, once nothing refers to it or into it any more. Only
// SUBMIT bodies are kept, the others are left to the garbage collector;
// calling it is optional.
func Release(b Body) {
	if s, ok := b.(*Submit); ok {
		submitPool.Put(s)
	}
}

// bodyShape reports whether t is a known type and whether its messages
// have a Body; it is newBody without the allocation, for Marshal.
func bodyShape(t Type) (known, hasBody bool) {
	if !t.Known() || t.Request() == TypeBatch {
		return false, false
	}
	if !t.IsResponse() {
		return true, true
	}
	switch t.Request() {
	case TypeSubmit, TypeFindIMSI, TypeDeliverToPeer, TypeHello:
		return true, true
	}
	return true, false
}

// AppendHeader appends the 8-byte wire header for h and, when h is a
// response, the status and reason. It is the part of Marshal that needs no
// body, used to answer requests that could not be decoded.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, Version, byte(h.Type), 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, h.ID)
	if h.Type.IsResponse() {
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.Status))
		dst = binary.BigEndian.AppendUint16(dst, h.Reason)
	}
	return dst
}

// Marshal appends the wire form of a message to dst and returns the extended
// slice. If h.Type is zero it is taken from body. A request needs its body
// (an empty struct such as &Ping{} for types without fields); a response has
// a nil body when its status is not OK or when its type has no response
// fields. On error dst is returned unchanged.
func Marshal(dst []byte, h Header, body Body) ([]byte, error) {
	if h.Type == 0 && body != nil {
		h.Type = body.Type()
	}
	if body != nil && body.Type() != h.Type {
		return dst, fmt.Errorf("coresock: marshal: %s body in a %s message", body.Type(), h.Type)
	}
	if !h.Type.IsResponse() && h.Status != StatusOK {
		return dst, fmt.Errorf("coresock: marshal: status %s on a request", h.Status)
	}
	start := len(dst)
	dst = AppendHeader(dst, h)
	if h.Type.IsResponse() && h.Status != StatusOK {
		// An error response carries only status and reason, whatever its
		// type, so that any receiver can read it.
		if body != nil {
			return dst[:start], fmt.Errorf("coresock: marshal: %s response with status %s has fields", h.Type.Request(), h.Status)
		}
		return dst, nil
	}
	known, hasFields := bodyShape(h.Type)
	if !known {
		return dst[:start], fmt.Errorf("%w: %s", ErrUnknownType, h.Type)
	}
	if body == nil {
		if hasFields || !h.Type.IsResponse() {
			return dst[:start], fmt.Errorf("coresock: marshal: %s needs a body", h.Type)
		}
		return dst, nil
	}
	out, err := body.appendBody(dst)
	if err != nil {
		return dst[:start], fmt.Errorf("coresock: marshal %s: %w", h.Type, err)
	}
	return out, nil
}

// Unmarshal decodes one message. The returned Body is freshly allocated (or
// reused after Release) and shares no memory with b, so the caller may
// reuse b at once. A response
// whose status is not OK, or whose type has no response fields, has a nil
// Body. See the Err variables for what the errors mean for answering.
func Unmarshal(b []byte) (Header, Body, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	if b[0] != Version {
		return h, nil, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	h.Type = Type(b[1])
	h.ID = binary.BigEndian.Uint32(b[4:])
	if r := binary.BigEndian.Uint16(b[2:]); r != 0 {
		return h, nil, fmt.Errorf("%w: reserved header field is %#04x", ErrMalformed, r)
	}
	rest := b[HeaderSize:]
	if h.Type.IsResponse() {
		if len(rest) < 4 {
			return h, nil, fmt.Errorf("%w: %s without a status", ErrMalformed, h.Type)
		}
		h.Status = Status(binary.BigEndian.Uint16(rest))
		h.Reason = binary.BigEndian.Uint16(rest[2:])
		rest = rest[4:]
		if h.Status != StatusOK {
			if len(rest) != 0 {
				return h, nil, fmt.Errorf("%w: %d bytes after the status of a failed %s", ErrMalformed, len(rest), h.Type)
			}
			return h, nil, nil
		}
	}
	if h.Type.Request() == TypeBatch {
		// A container where one message was expected: a BATCH inside a
		// BATCH, or an OK answer to one (only MALFORMED answers exist).
		return h, nil, fmt.Errorf("%w: a BATCH is not a message of its own", ErrMalformed)
	}
	body, known := newBody(h.Type)
	if !known {
		return h, nil, fmt.Errorf("%w: %#02x", ErrUnknownType, uint8(h.Type))
	}
	if body == nil {
		if len(rest) != 0 {
			return h, nil, fmt.Errorf("%w: %d trailing bytes in %s", ErrMalformed, len(rest), h.Type)
		}
		return h, nil, nil
	}
	if err := body.decodeBody(rest); err != nil {
		Release(body)
		return h, nil, fmt.Errorf("%w: %s: %w", ErrMalformed, h.Type, err)
	}
	return h, body, nil
}

// PeekHeader reads the fixed header without decoding the body. It is what the
// transport uses on a truncated (oversize) packet, whose body is lost.
func PeekHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	if b[0] != Version {
		return Header{}, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	return Header{Type: Type(b[1]), ID: binary.BigEndian.Uint32(b[4:])}, nil
}
