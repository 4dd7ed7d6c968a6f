package numbering

import (
	"fmt"
	"net/netip"
	"slices"

	"switchboard/internal/credential"
)

// Type is how a locally owned number takes SMS (seed 001 §2.4.1).
type Type uint8

// Types of locally owned number. The values start at 1 so that an unset
// Type is caught rather than stored.
const (
	// Local is "store-only": writing an SM to it into the store is final
	// delivery (SME_CLASS_LOCAL).
	Local Type = iota + 1
	// GSM numbers are delivered to the local GSM network after an
	// MSISDN-to-IMSI lookup (SME_CLASS_GSM).
	GSM
	// None numbers are owned (good for calls) but cannot receive SMS; SMs
	// to them are rejected.
	None
)

func (t Type) String() string {
	switch t {
	case Local:
		return "local"
	case GSM:
		return "gsm"
	case None:
		return "none"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

func (t Type) valid() bool { return t >= Local && t <= None }

// ParseType parses "local", "gsm" or "none".
func ParseType(s string) (Type, error) {
	switch s {
	case "local":
		return Local, nil
	case "gsm":
		return GSM, nil
	case "none":
		return None, nil
	}
	return 0, fmt.Errorf("unknown number type %q (want local, gsm or none)", s)
}

// Entry is one locally owned number or special number.
type Entry struct {
	// Number is "1NPANXXXXXX" for a NANP number, the 4 digits for a
	// special number.
	Number string
	Type   Type
	// SMSProv is NUMBER_FLAG_SMSPROV of seed 001 §2.4.2: the number is
	// provisioned for outside SMS interconnection and may send upstream.
	SMSProv bool
}

// IsSpecial reports whether the entry is a 4-digit special number.
func (e Entry) IsSpecial() bool { return len(e.Number) == 4 }

// String formats the number for people: "+1NPANXXXXXX" or the 4 digits.
func (e Entry) String() string {
	if e.IsSpecial() {
		return e.Number
	}
	return "+" + e.Number
}

// Peer is a downstream peer (seed 001 §1.2): a party that shares our uplink
// and owns a pool of numbers. Its name is its identity, in the database, in
// routing (the name of its queue) and in the SMPP layer.
type Peer struct {
	// Name is 1 to 16 characters from [A-Za-z0-9._-], not starting with
	// '-' or '.'.
	Name string
	// Pool holds canonical pool entries (see ParsePoolEntry), sorted: an
	// 11-digit entry is one number, a shorter one a prefix.
	Pool []string
	// SystemID and PasswordHash are the SMPP bind credentials; both are
	// empty for a peer that cannot bind yet. PasswordHash is made by
	// HashPassword; the password itself is never stored.
	SystemID     string
	PasswordHash string
	// AllowIPs limits the addresses a bind is accepted from; empty means
	// any address (the credentials still apply).
	AllowIPs []netip.Prefix
}

// HasCredentials reports whether the peer can bind over SMPP.
func (p Peer) HasCredentials() bool { return p.SystemID != "" && p.PasswordHash != "" }

// clone deep-copies p so that a Table can hand peers out and stay
// immutable.
func (p Peer) clone() Peer {
	p.Pool = slices.Clone(p.Pool)
	p.AllowIPs = slices.Clone(p.AllowIPs)
	return p
}

// Limits on peer fields.
const (
	MaxPeerName    = 16
	MaxSystemID    = 15 // SMPP 3.4 system_id is a C-Octet String of at most 16 octets
	MaxPassword    = 64 // SMPP 3.4 allows 8 octets; a longer limit serves newer peers
	minPasswordLen = 1
)

// ValidatePeerName checks a peer name: 1 to 16 characters from
// [A-Za-z0-9._-]. A leading '-' is refused because the name would read as
// an option on the command line, and a leading '.' so that no name is "."
// or ".." should a name ever become part of a path.
func ValidatePeerName(name string) error {
	if name == "" || len(name) > MaxPeerName {
		return fmt.Errorf("%w: a peer name is 1 to %d characters", ErrInvalidPeer, MaxPeerName)
	}
	if name[0] == '-' || name[0] == '.' {
		return fmt.Errorf("%w: a peer name may not start with '-' or '.'", ErrInvalidPeer)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: a peer name is made of A-Z a-z 0-9 . _ -", ErrInvalidPeer)
		}
	}
	return nil
}

// ValidateSystemID checks an SMPP system ID: 1 to 15 printable ASCII
// characters without spaces, which is what every SMPP implementation can
// send.
func ValidateSystemID(id string) error {
	if id == "" || len(id) > MaxSystemID {
		return fmt.Errorf("%w: a system ID is 1 to %d characters", ErrInvalidPeer, MaxSystemID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("%w: a system ID is printable ASCII without spaces", ErrInvalidPeer)
		}
	}
	return nil
}

// Password hashing lives in internal/credential, shared with the chat
// accounts; these wrappers keep the peer rules (1 to MaxPassword bytes, no
// NUL) and the ErrInvalidPeer sentinel that callers test for.

// HashPassword returns the stored form of an SMPP password (see
// credential.Hash): "pbkdf2-sha256$ITERATIONS$SALT$KEY".
func HashPassword(password string) (string, error) {
	if err := credential.CheckPassword(password, minPasswordLen, MaxPassword); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidPeer, err)
	}
	return credential.Hash(password)
}

// VerifyPassword reports whether password matches a hash made by
// HashPassword. A malformed hash matches nothing.
func VerifyPassword(hash, password string) bool { return credential.Verify(hash, password) }
