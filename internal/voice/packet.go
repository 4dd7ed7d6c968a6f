package voice

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
)

// PacketSize is KV_PACKET_SIZE: every datagram of a channel is exactly this
// long.
const PacketSize = 512

// SystemMagic starts every system packet. No uid has its upper 32 bits all
// ones (§4), so a user packet never starts with it.
const SystemMagic = 0xFFFFFFFF

// Op is a system packet's operation (enum system_operation); system ops
// are negative as an i32.
type Op uint32

// System operations.
const (
	OpKeepalive Op = 0x80000000
	OpJoin      Op = 0x80000001
	OpLeave     Op = 0x80000002
	OpAck       Op = 0x80000003
)

// Offsets of a system packet (docs/voice.md). Bytes 24 onwards are zero
// in a user's system packet; the server's own packets carry the channel,
// a timestamp and an Ed25519 signature there.
const (
	offMagic     = 0
	offOp        = 4
	offUID       = 8
	offAck       = 16
	offChecksum  = 20
	offChid      = 24
	offTime      = 32
	offSignature = 40
	signedLen    = offSignature // the signature covers bytes 0..39
	sigEnd       = offSignature + ed25519.SignatureSize
)

// Packet errors; the relay counts each as a drop reason.
var (
	ErrPacketSize = errors.New("voice: packet is not 512 bytes")
	ErrChecksum   = errors.New("voice: system packet checksum mismatch")
	ErrOp         = errors.New("voice: system packet op is not negative")
	ErrSignature  = errors.New("voice: bad server signature")
)

// Checksum is the reference system_packet_checksum on the numeric values:
// the low 32 bits of (uid << 8) XOR 0x0ACDD400 XOR ackid. uid 69, ack 0
// gives 0x0ACD9100.
func Checksum(uid uint64, ack uint32) uint32 {
	return uint32(uid<<8) ^ 0x0ACDD400 ^ ack
}

// Packet is a decoded channel datagram.
type Packet struct {
	// System is set for a system packet (it starts with SystemMagic).
	System bool
	// UID is the sender (user packet) or the uid the op is about.
	UID uint64
	// Op and Ack are a system packet's operation and ack id (non-zero
	// asks for an ACK).
	Op  Op
	Ack uint32
}

// DecodePacket decodes a channel datagram. It checks the size, and for a
// system packet the op's sign and the checksum; a user packet's data is
// not looked at.
func DecodePacket(b []byte) (Packet, error) {
	if len(b) != PacketSize {
		return Packet{}, ErrPacketSize
	}
	if binary.BigEndian.Uint32(b[offMagic:]) != SystemMagic {
		return Packet{UID: binary.BigEndian.Uint64(b)}, nil
	}
	p := Packet{
		System: true,
		Op:     Op(binary.BigEndian.Uint32(b[offOp:])),
		UID:    binary.BigEndian.Uint64(b[offUID:]),
		Ack:    binary.BigEndian.Uint32(b[offAck:]),
	}
	if int32(p.Op) >= 0 {
		return p, ErrOp
	}
	if binary.BigEndian.Uint32(b[offChecksum:]) != Checksum(p.UID, p.Ack) {
		return p, ErrChecksum
	}
	return p, nil
}

// PutSystem fills b (PacketSize bytes) with an unsigned system packet, as
// a user sends a KEEPALIVE.
func PutSystem(b []byte, op Op, uid uint64, ack uint32) {
	clear(b[:PacketSize])
	binary.BigEndian.PutUint32(b[offMagic:], SystemMagic)
	binary.BigEndian.PutUint32(b[offOp:], uint32(op))
	binary.BigEndian.PutUint64(b[offUID:], uid)
	binary.BigEndian.PutUint32(b[offAck:], ack)
	binary.BigEndian.PutUint32(b[offChecksum:], Checksum(uid, ack))
}

// PutSigned fills b (PacketSize bytes) with a server system packet: the
// system header, then the channel id and the server's time in Unix
// milliseconds, so that a signature cannot be replayed into another
// channel or much later, then the Ed25519 signature of bytes 0..39.
func PutSigned(b []byte, key ed25519.PrivateKey, op Op, uid uint64, ack uint32, chid uint64, unixMilli uint64) {
	PutSystem(b, op, uid, ack)
	binary.BigEndian.PutUint64(b[offChid:], chid)
	binary.BigEndian.PutUint64(b[offTime:], unixMilli)
	copy(b[offSignature:sigEnd], ed25519.Sign(key, b[:signedLen]))
}

// Signed is what a server packet's signed fields say.
type Signed struct {
	Packet
	Chid      uint64
	UnixMilli uint64
}

// VerifySigned decodes a server system packet and checks its signature
// against the server's public key.
func VerifySigned(pub ed25519.PublicKey, b []byte) (Signed, error) {
	p, err := DecodePacket(b)
	if err != nil {
		return Signed{}, err
	}
	if !p.System {
		return Signed{}, ErrSignature
	}
	if !ed25519.Verify(pub, b[:signedLen], b[offSignature:sigEnd]) {
		return Signed{}, ErrSignature
	}
	return Signed{Packet: p, Chid: binary.BigEndian.Uint64(b[offChid:]), UnixMilli: binary.BigEndian.Uint64(b[offTime:])}, nil
}

// PutUser fills b (PacketSize bytes) with a user packet: the sender's uid,
// then data (at most PacketSize-8 bytes; the rest is zero).
func PutUser(b []byte, uid uint64, data []byte) {
	clear(b[:PacketSize])
	binary.BigEndian.PutUint64(b, uid)
	copy(b[8:PacketSize], data)
}

// ValidUID reports whether uid may exist: not 0 (which means "no admin"
// in REGISTER) and neither 32-bit half all ones (§4).
func ValidUID(uid uint64) bool {
	return uid != 0 && uint32(uid) != 0xFFFFFFFF && uint32(uid>>32) != 0xFFFFFFFF
}
