// Package udpchat is the CHAT UDP front-end of the chat world (seed 004,
// docs/udpchat.md): a pure packet codec, the server, which keeps one
// session per source address and speaks to the chat service like CPT
// does, and a client used by `switchboard udpchat` and the tests.
package udpchat

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Opcodes, the decimal numbers the spec writes (register is byte 11).
const (
	OpOK        byte = 0
	OpError     byte = 1
	OpRegister  byte = 11
	OpLogout    byte = 12
	OpBroadcast byte = 20
	OpPublic    byte = 21 // server to client: a broadcast, with its sender
	OpPrivate   byte = 22
	OpDirect    byte = 23 // server to client: a private message, with its sender
	OpInfo      byte = 40
	OpInfoReply byte = 41
	OpList      byte = 42
	OpListReply byte = 43
)

// HeaderSize is OPCODE and LENGTH.
const HeaderSize = 3

// MaxPacket is the largest packet LENGTH can describe.
const MaxPacket = HeaderSize + 0xFFFF

// Decode errors. They say what is wrong with a datagram, never what it
// holds.
var (
	ErrShort  = errors.New("udpchat: datagram shorter than the 3-byte header")
	ErrLength = errors.New("udpchat: LENGTH disagrees with the datagram size")
	// ErrNoSeparator: a packet that carries a name and a text (21, 22,
	// 23) has no 0x00 between them.
	ErrNoSeparator = errors.New("udpchat: no 0x00 between name and text")
)

// Packet is one decoded datagram. Data aliases the datagram.
type Packet struct {
	Op   byte
	Data []byte
}

// Decode parses one datagram. A datagram carries exactly one packet:
// LENGTH must equal the bytes after the header, so that a truncated or
// padded datagram is refused rather than guessed at.
func Decode(b []byte) (Packet, error) {
	if len(b) < HeaderSize {
		return Packet{}, ErrShort
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n != len(b)-HeaderSize {
		return Packet{}, ErrLength
	}
	return Packet{Op: b[0], Data: b[HeaderSize:]}, nil
}

// SplitNameText splits the DATA of 21, 22 and 23 at its first 0x00: the
// name before it, the text after. Names cannot hold 0x00, texts may not
// either (CheckText refuses control characters), so the first is the
// only one in a valid packet.
func SplitNameText(data []byte) (name, text []byte, err error) {
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return nil, nil, ErrNoSeparator
	}
	return data[:i], data[i+1:], nil
}

// AppendPacket appends a packet with the given DATA parts concatenated.
// The caller keeps the total under 65536 bytes.
func AppendPacket(dst []byte, op byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = append(dst, op, byte(n>>8), byte(n))
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// AppendOK appends the OK packet, the three bytes 00 00 00.
func AppendOK(dst []byte) []byte { return append(dst, OpOK, 0, 0) }

// AppendError appends an Error packet with its description.
func AppendError(dst []byte, text string) []byte {
	return AppendPacket(dst, OpError, []byte(text))
}

// AppendNameText appends a packet whose DATA is name, 0x00, text: 21 and
// 23 from the server, 22 from a client.
func AppendNameText(dst []byte, op byte, name, text []byte) []byte {
	n := len(name) + 1 + len(text)
	dst = append(dst, op, byte(n>>8), byte(n))
	dst = append(dst, name...)
	dst = append(dst, 0)
	return append(dst, text...)
}

// SplitList splits a 43 packet's DATA into names. Empty DATA is an empty
// list.
func SplitList(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	parts := bytes.Split(data, []byte{0})
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		out = append(out, string(p))
	}
	return out
}

// AppendLists appends the user list as 43 packets, each at most max bytes
// long, names separated by 0x00 and never cut across packets: a list too
// long for one datagram would be cut by the network or refused by the
// sender. An empty list is one packet with no DATA. Each packet is
// appended to its own slice of out.
func AppendLists(out [][]byte, names []string, max int) [][]byte {
	cur := []byte{OpListReply, 0, 0}
	for _, name := range names {
		// A name after the first of its packet takes a separator too;
		// when the two do not fit, it starts the next packet instead. The
		// first name of a packet goes in whatever its length, so that an
		// overlong one is not lost.
		if len(cur) > HeaderSize {
			if len(cur)+1+len(name) > max {
				out = append(out, finishList(cur))
				cur = []byte{OpListReply, 0, 0}
			} else {
				cur = append(cur, 0)
			}
		}
		cur = append(cur, name...)
	}
	return append(out, finishList(cur))
}

func finishList(p []byte) []byte {
	n := len(p) - HeaderSize
	p[1], p[2] = byte(n>>8), byte(n)
	return p
}
