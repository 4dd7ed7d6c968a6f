package coresock

import (
	"encoding/binary"
	"fmt"
)

// HELLO and BATCH (docs/core-socket.md): a peer that advertised BATCH in
// HELLO may receive several complete messages in one packet. The kernel's
// cost of a SOCK_SEQPACKET packet (an skb, a copy, queueing, waking the
// reader) is paid per packet, so packing what a writer has queued into one
// packet saves that cost for all but the first message.

// Capability bits of HELLO. A receiver ignores the bits it does not know:
// a capability is an offer, and an end that does not know it simply does
// not use it.
const capBatch uint32 = 1 << 0

// defaultMaxBatch is the largest BATCH packet a Peer sends and reads unless
// its Config says otherwise. 16 KiB holds 60 SUBMITs or 700 SUBMIT
// responses, more than one connection has queued at once in practice, and
// keeps each connection's receive buffers (batchSlots of them) small.
const defaultMaxBatch = 16 << 10

// batchPrefix is the length prefix in front of each member of a BATCH.
const batchPrefix = 2

// maxBatchLimit is the largest BATCH a Peer will use whatever it is told:
// member lengths are 16-bit, but the container is one packet, and a
// packet much larger than this would only strain the socket buffers.
const maxBatchLimit = 1 << 20

// hello is the HELLO request: the capabilities of the end that connected
// and the largest BATCH packet it reads.
type hello struct {
	caps     uint32
	maxBatch uint32
}

// helloResp is the HELLO response: the same two fields, for the end that
// answers.
type helloResp hello

func (*hello) Type() Type     { return TypeHello }
func (*helloResp) Type() Type { return TypeHello.Response() }

func (m *hello) appendBody(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint32(dst, m.caps)
	return binary.BigEndian.AppendUint32(dst, m.maxBatch), nil
}

func (m *hello) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.caps = c.u32()
	m.maxBatch = c.u32()
	return c.done()
}

func (m *helloResp) appendBody(dst []byte) ([]byte, error) { return (*hello)(m).appendBody(dst) }
func (m *helloResp) decodeBody(b []byte) error             { return (*hello)(m).decodeBody(b) }

// batchLimit is the BATCH size that a HELLO with these fields allows,
// bounded by what this end uses itself (own), or 0 for none.
func batchLimit(caps, theirs uint32, own int) int {
	if caps&capBatch == 0 || own <= 0 {
		return 0
	}
	return int(min(theirs, uint32(own)))
}

// appendBatchHeader starts a BATCH packet. The id is 0: nothing answers
// a well-formed BATCH, and a receiver only echoes the id when it answers a
// broken one MALFORMED, which the transport counts and drops.
func appendBatchHeader(dst []byte) []byte {
	return append(dst, Version, byte(TypeBatch), 0, 0, 0, 0, 0, 0)
}

// appendMember adds one complete message to a BATCH packet.
func appendMember(dst, msg []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}

// isBatch reports whether packet b is a BATCH container (a request-type
// header of type BATCH; a BATCH response is an ordinary error response).
func isBatch(b []byte) bool {
	return len(b) >= HeaderSize && b[0] == Version && Type(b[1]) == TypeBatch
}

// nextMember splits the first member off b, the members part of a BATCH
// (everything after its header). ok is false when the framing breaks: fewer
// than two bytes left for a length, or a length that runs past the end; m
// is then whatever follows the length, a truncated member whose header may
// still be readable.
func nextMember(b []byte) (m, rest []byte, ok bool) {
	if len(b) < batchPrefix {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[batchPrefix:]
	if n > len(b) {
		return b, nil, false
	}
	return b[:n], b[n:], true
}

// checkBatch reports why the BATCH packet b cannot be taken apart, or nil.
// A BATCH is taken apart only when all of it is well framed, so that a
// packet whose framing breaks half-way (a sender's bug) is not half acted
// on. Members are not checked here: each is then handled exactly as if it
// had come in a packet of its own.
func checkBatch(b []byte) error {
	if r := binary.BigEndian.Uint16(b[2:]); r != 0 {
		return fmt.Errorf("%w: reserved header field of a BATCH is %#04x", ErrMalformed, r)
	}
	rest := b[HeaderSize:]
	if len(rest) == 0 {
		return fmt.Errorf("%w: empty BATCH", ErrMalformed)
	}
	for len(rest) > 0 {
		var ok bool
		if _, rest, ok = nextMember(rest); !ok {
			return fmt.Errorf("%w: BATCH member runs past the end of the packet", ErrMalformed)
		}
	}
	return nil
}
