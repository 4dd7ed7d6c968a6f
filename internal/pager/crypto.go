package pager

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Datagram framing (docs/pager-protocol.md §2):
//
//	0   1   magic: 0xA1 station to server, 0xA2 server to station
//	1   4   client id, big-endian (0: the host tool, no station)
//	5   24  nonce, random
//	29  n   XChaCha20-Poly1305 ciphertext of: u32 unix seconds, packet
//	29+n 16 Poly1305 tag
//
// The additional data is bytes 0..28. Each packet's key is one-time:
// XChaCha20 derives it with HChaCha20 from the key and the packet's own
// nonce, and ChaCha20 derives the Poly1305 key from it in turn.
const (
	MagicToServer  = 0xA1
	MagicToStation = 0xA2
	NonceSize      = chacha20poly1305.NonceSizeX
	HeaderSize     = 1 + 4 + NonceSize
	TagSize        = chacha20poly1305.Overhead
	timeSize       = 4
	// MinDatagram is the shortest datagram that can be valid: a header,
	// the time, the 3 bytes every packet has, and the tag.
	MinDatagram = HeaderSize + timeSize + 3 + TagSize
	// MaxDatagram bounds what is read; the longest packet is an SMS with
	// a 64-byte greeting and a full trailer.
	MaxDatagram = HeaderSize + timeSize + smsHeadSize + MaxGreeting + maxTrailer + 1 + TagSize
	// MinSecret is the shortest shared secret accepted.
	MinSecret = 16
)

// Labels bind the derived values to this protocol and version.
const (
	hkdfSalt   = "switchboard pager v1"
	hkdfInfo   = "packet key"
	proofLabel = "switchboard pager v1 client"
)

// Errors of Open. They are never sent back: a packet that fails is
// dropped without an answer (no oracle).
var (
	ErrShort     = errors.New("pager: datagram too short or too long")
	ErrMagic     = errors.New("pager: not a pager datagram")
	ErrAuth      = errors.New("pager: authentication failed")
	ErrStale     = errors.New("pager: timestamp outside the replay window")
	ErrReplay    = errors.New("pager: nonce seen before")
	ErrBadSecret = errors.New("pager: secret shorter than 16 bytes")
)

// Keys are what one shared secret yields. Safe for concurrent use.
type Keys struct {
	secret []byte
	aead   cipher.AEAD
}

// NewKeys derives the packet key from the shared secret:
// HKDF-SHA-256(secret, salt "switchboard pager v1", info "packet key").
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < MinSecret {
		return nil, ErrBadSecret
	}
	k, err := hkdf.Key(sha256.New, secret, []byte(hkdfSalt), hkdfInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	return &Keys{secret: append([]byte(nil), secret...), aead: aead}, nil
}

// Proof is the client packet's 64-byte "Server Secret": a salted,
// one-time hash of the shared secret, HMAC-SHA-512 keyed with it over the
// label, the client id, the options byte and the nonce of the datagram
// that carries it, so that it is worth nothing in any other packet.
func (k *Keys) Proof(clientID uint32, opt uint8, nonce []byte) [SecretProofSize]byte {
	m := hmac.New(sha512.New, k.secret)
	m.Write([]byte(proofLabel))
	var b [5]byte
	binary.BigEndian.PutUint32(b[:], clientID)
	b[4] = opt &^ (OptAck | OptExt)
	m.Write(b[:])
	m.Write(nonce)
	var out [SecretProofSize]byte
	m.Sum(out[:0])
	return out
}

// CheckProof compares a received proof in constant time.
func (k *Keys) CheckProof(clientID uint32, opt uint8, nonce []byte, proof *[SecretProofSize]byte) bool {
	want := k.Proof(clientID, opt, nonce)
	return hmac.Equal(want[:], proof[:])
}

// Header is a datagram's cleartext header.
type Header struct {
	Magic    uint8
	ClientID uint32
	Nonce    [NonceSize]byte
}

// NewNonce fills a fresh random nonce.
func NewNonce() [NonceSize]byte {
	var n [NonceSize]byte
	rand.Read(n[:])
	return n
}

// ErrTooLong is returned by Seal for a packet that no datagram holds.
var ErrTooLong = errors.New("pager: packet too long")

// Seal appends the datagram carrying plaintext packet pkt to dst, stamped
// with time t.
func (k *Keys) Seal(dst []byte, h *Header, t time.Time, pkt []byte) ([]byte, error) {
	if len(pkt) > MaxDatagram-HeaderSize-timeSize-TagSize {
		return dst, ErrTooLong
	}
	start := len(dst)
	dst = append(dst, h.Magic)
	dst = binary.BigEndian.AppendUint32(dst, h.ClientID)
	dst = append(dst, h.Nonce[:]...)
	var pt [MaxDatagram]byte
	binary.BigEndian.PutUint32(pt[:], uint32(t.Unix()))
	n := copy(pt[timeSize:], pkt)
	return k.aead.Seal(dst, h.Nonce[:], pt[:timeSize+n], dst[start:start+HeaderSize]), nil
}

// Open authenticates and decrypts datagram b expected with magic. It
// returns the header, the sender's timestamp and the plaintext packet,
// which is written into buf (reused). Garbage costs a length and a magic
// check; only a datagram with the right shape pays for the AEAD.
func (k *Keys) Open(buf []byte, b []byte, magic uint8) (Header, time.Time, []byte, error) {
	var h Header
	if len(b) < MinDatagram || len(b) > MaxDatagram {
		return h, time.Time{}, nil, ErrShort
	}
	if b[0] != magic {
		return h, time.Time{}, nil, ErrMagic
	}
	h.Magic = b[0]
	h.ClientID = binary.BigEndian.Uint32(b[1:])
	copy(h.Nonce[:], b[5:HeaderSize])
	// The nonce is passed from b, not h: slicing h for the AEAD's
	// interface call would move h to the heap on every datagram.
	pt, err := k.aead.Open(buf[:0], b[5:HeaderSize], b[HeaderSize:], b[:HeaderSize])
	if err != nil {
		return h, time.Time{}, nil, ErrAuth
	}
	ts := time.Unix(int64(binary.BigEndian.Uint32(pt)), 0)
	return h, ts, pt[timeSize:], nil
}
