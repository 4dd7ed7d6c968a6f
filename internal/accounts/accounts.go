// Package accounts is the one account registry of the switch, shared by
// every chat front-end (CPT, CHAT UDP, voice): who may log in under which
// name, with which password, from which addresses, and which locally owned
// phone number an account owns (SMS to it arrive as chat messages; the
// account may send SMS from it). The registry is a bbolt file in the data
// directory; the server reads it into an immutable Table that logins
// consult without locks. docs/accounts.md describes the rules, the file
// layout and the commands that manage it.
//
// Passwords are never stored, only their hashes (internal/credential).
// Phone numbers are personal data: no error this package returns contains
// the digits of a number, so that callers may log errors freely.
package accounts

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"switchboard/internal/credential"
	"switchboard/internal/numbering"
)

// Errors. Callers test them with errors.Is. Authenticate returns the bare
// sentinels (no allocation on the login path); the DB methods wrap them
// with detail that never includes a password or a number's digits.
var (
	// ErrExists means an account of that name is already there.
	ErrExists = errors.New("account already exists")
	// ErrNotFound means there is no account of that name.
	ErrNotFound = errors.New("account not found")
	// ErrInvalid means a name, password, password hash, number or allowed
	// address prefix breaks the rules.
	ErrInvalid = errors.New("invalid account")
	// ErrNumberTaken means another account already owns the number.
	ErrNumberTaken = errors.New("number is owned by another account")
	// ErrLocked means the account exists and is locked (CPT: DECLINE
	// account_locked).
	ErrLocked = errors.New("account is locked")
	// ErrIPNotAllowed means the account does not accept logins from the
	// client's address (CPT: DECLINE ip_invalid).
	ErrIPNotAllowed = errors.New("address not allowed for this account")
	// ErrBadCredentials means the account has a password and none, or a
	// wrong one, was given (CPT: DECLINE bad_credentials).
	ErrBadCredentials = errors.New("bad credentials")
	// ErrBusy means another process held the database file for longer
	// than the lock timeout.
	ErrBusy = errors.New("accounts database is busy (another switchboard process holds it)")
)

// Limits.
const (
	// MaxName is the longest name in bytes of UTF-8.
	MaxName = 32
	// MaxPassword is the longest chat password in bytes. MinPassword is 1:
	// "no password" is its own state (an empty PasswordHash), not an empty
	// password.
	MaxPassword = 64
	MinPassword = 1
)

// ReservedName is the name the chat servers speak as; no account may take
// it in any letter case.
const ReservedName = "system"

// Account is one registered user.
type Account struct {
	// Name is the login name, case-sensitive (see ValidName).
	Name string
	// PasswordHash is made by HashPassword; empty means the account has
	// no password and any secret (or none) is accepted.
	PasswordHash string
	// Locked accounts cannot log in; everything else about them stays.
	Locked bool
	// AllowIPs limits the addresses logins are accepted from; empty
	// means any address. Canonical: see credential.CanonicalPrefixes.
	AllowIPs []netip.Prefix
	// Number is the locally owned NANP number the account owns, in
	// E.164 form without '+' ("1NPANXXXXXX"), or "".
	Number string
	// Created is when the account was added (UTC).
	Created time.Time
}

// HasPassword reports whether logins must present a password.
func (a Account) HasPassword() bool { return a.PasswordHash != "" }

// clone deep-copies a so that a Table can hand accounts out and stay
// immutable. An account without allowed prefixes is copied without
// allocating (slices.Clone of nil is nil), which keeps the common login
// path allocation-free.
func (a Account) clone() Account {
	a.AllowIPs = slices.Clone(a.AllowIPs)
	return a
}

// ValidName checks a name: 1 to MaxName bytes of valid UTF-8, each
// character printable (a Unicode graphic character) and not a space, and
// not "system" in any letter case.
//
// Spaces are refused because CPT splits a command line on spaces, so a
// name with one could never be sent; control, format and unassigned
// characters because they can make two names look the same or mangle a
// terminal. Names are otherwise case-sensitive ("Bob" and "bob" are two
// accounts): folding case correctly across Unicode is subtle, and every
// protocol carries the name as the user typed it. "system" is refused in
// every case (EqualFold, so also with look-alike letters that fold to
// it) because the chat servers use it for their own messages.
func ValidName(name string) error {
	if name == "" || len(name) > MaxName {
		return fmt.Errorf("%w: a name is 1 to %d bytes", ErrInvalid, MaxName)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: a name is UTF-8", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsGraphic(r) {
			return fmt.Errorf("%w: a name may not contain spaces or control characters", ErrInvalid)
		}
	}
	if strings.EqualFold(name, ReservedName) {
		return fmt.Errorf("%w: the name %q is reserved", ErrInvalid, ReservedName)
	}
	return nil
}

// CheckPassword checks a chat password: 1 to MaxPassword bytes of valid
// UTF-8 without spaces or control characters. CPT sends the password as
// the second token of "CONNECT <username> <password>", split on spaces,
// so a password with a space or a line break could never be presented.
func CheckPassword(password string) error {
	if err := credential.CheckPassword(password, MinPassword, MaxPassword); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !utf8.ValidString(password) {
		return fmt.Errorf("%w: a password is UTF-8", ErrInvalid)
	}
	for _, r := range password {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: a password may not contain spaces or control characters", ErrInvalid)
		}
	}
	return nil
}

// HashPassword checks a chat password (CheckPassword) and returns its
// stored form for Account.PasswordHash.
func HashPassword(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	h, err := credential.Hash(password)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return h, nil
}

// checkNumber checks the stored form of an owned number: a valid NANP
// number as "1NPANXXXXXX", or "" for none. Whether it is locally owned is
// the numbering database's to say, which this package does not open: the
// accounts command checks it when the number is assigned.
func checkNumber(e164 string) error {
	if e164 == "" {
		return nil
	}
	if err := numbering.ValidateNANP(e164); err != nil {
		return fmt.Errorf("%w: the number must be a valid NANP number in the form 1NPANXXXXXX: %w", ErrInvalid, err)
	}
	return nil
}

// check validates a and canonicalises its allowed prefixes into a copy.
func check(a Account) (Account, error) {
	if err := ValidName(a.Name); err != nil {
		return Account{}, err
	}
	if a.PasswordHash != "" {
		if err := credential.CheckHash(a.PasswordHash); err != nil {
			return Account{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if err := checkNumber(a.Number); err != nil {
		return Account{}, err
	}
	allow, err := credential.CanonicalPrefixes(a.AllowIPs)
	if err != nil {
		return Account{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	a.AllowIPs = allow
	return a, nil
}
