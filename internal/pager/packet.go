// Package pager is the restaurant pager (seed 000, issue 5): an encrypted
// UDP protocol between host stations and the server, a waitlist of phone
// numbers kept only in RAM, "table ready" SMS sent through the core as
// ephemeral SMs, and phone calls through a Caller. docs/pager-protocol.md
// specifies the wire format byte by byte; docs/pager.md the behaviour.
package pager

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options bits (seed 000 "Options"). Bits 6 and 7 are ours: Ack marks an
// answer (or a station's acknowledgement of a push), Ext marks protocol
// version 1, whose packets end with an extension trailer.
const (
	OptAdd          = 1 << 0
	OptRemove       = 1 << 1
	OptSMS          = 1 << 2
	OptCall         = 1 << 3
	OptAddClient    = 1 << 4
	OptRemoveClient = 1 << 5
	OptAck          = 1 << 6
	OptExt          = 1 << 7
)

// Field sizes of the plaintext packets.
const (
	SecretProofSize = 64 // the client packet's "Server Secret"
	MaxGreeting     = 64
	clientBodySize  = 2 + 1 + 4 + SecretProofSize
	numberBodySize  = 2 + 1 + 4
	smsHeadSize     = numberBodySize + 2
	maxTrailer      = 255
)

// Extension trailer item types (docs/pager-protocol.md §4).
const (
	extNumberHigh = 1 // u32: bits 32..63 of the phone number
	extStatus     = 2 // u8 status, then a reason in ASCII
	extList       = 3 // n × u64 numbers
	extListFrom   = 4 // u16: first list position wanted / given
	extListTotal  = 5 // u16: numbers on the list
)

// Status is the outcome an answer carries.
type Status uint8

// Statuses. Anything but StatusOK is a NACK.
const (
	StatusOK          Status = 0
	StatusBadNumber   Status = 1 // malformed phone number
	StatusBadGreeting Status = 2 // overlong or not UTF-8
	StatusBadRequest  Status = 3 // conflicting or missing option bits
	StatusSMSRefused  Status = 4 // the core would not take the SMS
	StatusCallsOff    Status = 5 // no SIP proxy configured
	StatusCallFailed  Status = 6 // the call was placed and failed
	StatusListFull    Status = 7 // the waitlist is at pager.max_numbers
	StatusBusy        Status = 8 // too many requests in progress
	StatusClientsFull Status = 9 // pager.max_clients stations registered
)

// ErrMalformed is returned for a plaintext that is not a valid packet.
var ErrMalformed = errors.New("pager: malformed packet")

// Packet is one plaintext packet: the seed's fields plus what the
// extension trailer carries. Which fields count depends on Options.
type Packet struct {
	Seq     uint16
	Options uint8
	// ClientID and Proof are the client add/remove packet's fields.
	ClientID uint32
	Proof    [SecretProofSize]byte
	// Number is the phone number as a whole number: its decimal digits
	// are the E.164 number (country code first). The seed's 4-byte field
	// holds the low 32 bits; the trailer holds the rest when non-zero.
	Number uint64
	// Party is the seed's "Number in Greeting"; Greeting its greeting.
	Party    uint16
	Greeting []byte
	// Answer fields (Ack set).
	HasStatus bool
	Status    Status
	Reason    string
	// List fields: ListFrom in a request and an answer, List and
	// ListTotal in an answer.
	HasList   bool
	ListFrom  uint16
	ListTotal uint16
	List      []uint64
}

// Kind is which of the seed's three layouts a packet uses.
type Kind uint8

const (
	KindNumber Kind = iota // add/remove a number, call, list
	KindClient             // add/remove a client
	KindSMS                // send an SMS
)

// KindOf tells the layout from the options byte: bit 2 is the SMS layout,
// bits 4–5 with bits 0–3 clear the client layout, anything else the
// number layout.
func KindOf(opt uint8) Kind {
	switch {
	case opt&OptSMS != 0:
		return KindSMS
	case opt&(OptAddClient|OptRemoveClient) != 0 && opt&0x0F == 0:
		return KindClient
	}
	return KindNumber
}

// Kind is the packet's layout.
func (p *Packet) Kind() Kind { return KindOf(p.Options) }

// NumberString is the number's decimal digits.
func NumberString(n uint64) string { return strconv.FormatUint(n, 10) }

// Marshal appends the plaintext packet to dst. A packet that needs the
// trailer (a number above 32 bits, a status, a list) gets Options bit 7.
func (p *Packet) Marshal(dst []byte) ([]byte, error) {
	opt := p.Options
	var tr []byte
	hi := uint32(p.Number >> 32)
	k := p.Kind()
	if k != KindClient && hi != 0 {
		tr = append(tr, extNumberHigh, 4)
		tr = binary.BigEndian.AppendUint32(tr, hi)
	}
	if p.HasStatus {
		if len(p.Reason) > 120 {
			return nil, fmt.Errorf("%w: reason too long", ErrMalformed)
		}
		tr = append(tr, extStatus, byte(1+len(p.Reason)), byte(p.Status))
		tr = append(tr, p.Reason...)
	}
	if p.HasList {
		tr = append(tr, extListFrom, 2)
		tr = binary.BigEndian.AppendUint16(tr, p.ListFrom)
		if opt&OptAck != 0 {
			tr = append(tr, extListTotal, 2)
			tr = binary.BigEndian.AppendUint16(tr, p.ListTotal)
			if len(p.List) > MaxListPerPacket {
				return nil, fmt.Errorf("%w: list too long", ErrMalformed)
			}
			tr = append(tr, extList, byte(8*len(p.List)))
			for _, n := range p.List {
				tr = binary.BigEndian.AppendUint64(tr, n)
			}
		}
	}
	if len(tr) > maxTrailer {
		return nil, fmt.Errorf("%w: trailer too long", ErrMalformed)
	}
	if len(tr) > 0 {
		opt |= OptExt
	}
	dst = binary.BigEndian.AppendUint16(dst, p.Seq)
	dst = append(dst, opt)
	switch k {
	case KindClient:
		dst = binary.BigEndian.AppendUint32(dst, p.ClientID)
		dst = append(dst, p.Proof[:]...)
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.Number))
		if k == KindSMS {
			// The greeting is not checked here: the server answers an
			// overlong one with a NACK (Seal bounds the whole packet).
			dst = binary.BigEndian.AppendUint16(dst, p.Party)
			dst = append(dst, p.Greeting...)
		}
	}
	if opt&OptExt != 0 {
		dst = append(dst, tr...)
		dst = append(dst, byte(len(tr)))
	}
	return dst, nil
}

// MaxListPerPacket is how many numbers one list answer carries: what the
// 255-byte trailer holds beside the list position and total.
const MaxListPerPacket = (maxTrailer - 2 - 4 - 4) / 8

// Parse decodes a plaintext packet. It is pure and never panics; the
// greeting is copied out of b. A greeting that is too long or not UTF-8
// is returned as it is, for the server to NACK (ValidGreeting).
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 3 {
		return p, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	p.Seq = binary.BigEndian.Uint16(b)
	p.Options = b[2]
	body := b
	if p.Options&OptExt != 0 {
		l := int(b[len(b)-1])
		if l+1 > len(b)-3 {
			return p, fmt.Errorf("%w: trailer length %d", ErrMalformed, l)
		}
		tr := b[len(b)-1-l : len(b)-1]
		body = b[:len(b)-1-l]
		if err := p.parseTrailer(tr); err != nil {
			return p, err
		}
	}
	switch p.Kind() {
	case KindClient:
		if len(body) != clientBodySize {
			return p, fmt.Errorf("%w: client packet of %d bytes", ErrMalformed, len(body))
		}
		p.ClientID = binary.BigEndian.Uint32(body[3:])
		copy(p.Proof[:], body[7:])
	case KindNumber:
		if len(body) != numberBodySize {
			return p, fmt.Errorf("%w: number packet of %d bytes", ErrMalformed, len(body))
		}
		p.Number |= uint64(binary.BigEndian.Uint32(body[3:]))
	case KindSMS:
		if len(body) < smsHeadSize {
			return p, fmt.Errorf("%w: SMS packet of %d bytes", ErrMalformed, len(body))
		}
		p.Number |= uint64(binary.BigEndian.Uint32(body[3:]))
		p.Party = binary.BigEndian.Uint16(body[7:])
		g := body[smsHeadSize:]
		// A greeting padded to the seed's 64 bytes ends at its first NUL.
		for i, c := range g {
			if c == 0 {
				g = g[:i]
				break
			}
		}
		p.Greeting = append([]byte(nil), g...)
	}
	return p, nil
}

func (p *Packet) parseTrailer(tr []byte) error {
	for len(tr) > 0 {
		if len(tr) < 2 || int(tr[1]) > len(tr)-2 {
			return fmt.Errorf("%w: trailer item runs past the end", ErrMalformed)
		}
		t, v := tr[0], tr[2:2+int(tr[1])]
		tr = tr[2+int(tr[1]):]
		switch t {
		case extNumberHigh:
			if len(v) != 4 {
				return fmt.Errorf("%w: number-high of %d bytes", ErrMalformed, len(v))
			}
			p.Number = uint64(binary.BigEndian.Uint32(v)) << 32
		case extStatus:
			if len(v) < 1 {
				return fmt.Errorf("%w: empty status", ErrMalformed)
			}
			p.HasStatus, p.Status, p.Reason = true, Status(v[0]), string(v[1:])
		case extListFrom:
			if len(v) != 2 {
				return fmt.Errorf("%w: list position of %d bytes", ErrMalformed, len(v))
			}
			p.HasList, p.ListFrom = true, binary.BigEndian.Uint16(v)
		case extListTotal:
			if len(v) != 2 {
				return fmt.Errorf("%w: list total of %d bytes", ErrMalformed, len(v))
			}
			p.ListTotal = binary.BigEndian.Uint16(v)
		case extList:
			if len(v)%8 != 0 {
				return fmt.Errorf("%w: list of %d bytes", ErrMalformed, len(v))
			}
			p.List = make([]uint64, len(v)/8)
			for i := range p.List {
				p.List[i] = binary.BigEndian.Uint64(v[8*i:])
			}
		default:
			// Unknown items are skipped: later versions may add some.
		}
	}
	return nil
}

// ValidNumber reports whether n is a plausible E.164 number: 8 to 15
// digits (a NANP number is 11: 1, area code, exchange, line).
func ValidNumber(n uint64) bool { return n >= 10_000_000 && n <= 999_999_999_999_999 }

// ErrNotNumber is ParseNumber's error. Its text does not quote the input,
// which is a phone number or close to one.
var ErrNotNumber = errors.New("pager: not a phone number (+ and 8 to 15 digits)")

// ParseNumber reads a phone number: "+" and the E.164 digits, or the
// digits alone; ten digits without "+" are a NANP national number and
// gain the country code 1. Nothing else is accepted, separators neither.
func ParseNumber(s string) (uint64, error) {
	d := strings.TrimPrefix(s, "+")
	if len(d) == 10 && d == s {
		d = "1" + d
	}
	if d == "" || d[0] == '0' {
		return 0, ErrNotNumber
	}
	v, err := strconv.ParseUint(d, 10, 64)
	if err != nil || !ValidNumber(v) {
		return 0, ErrNotNumber
	}
	return v, nil
}

// ValidGreeting reports whether g fits the seed's 64 bytes and is UTF-8.
func ValidGreeting(g []byte) bool { return len(g) <= MaxGreeting && utf8.Valid(g) }
