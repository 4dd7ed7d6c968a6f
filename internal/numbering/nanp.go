// Package numbering is the numbering database of the switch (the themwi-nanp
// role of seed 001 §1.1): NANP validation, the locally owned numbers with
// their type and SMS-provisioned flag, the special 4-digit local numbers, and
// the downstream peers with their number pools. The database is a bbolt file
// in the data directory; the server reads it into an immutable Table that
// routing consults without locks. docs/numbering.md describes the rules, the
// file layout and the commands that manage it.
//
// Phone numbers are personal data: no error this package returns contains
// the digits of a number, so that callers may log errors freely.
package numbering

import (
	"errors"
	"fmt"
)

// Errors. Callers test them with errors.Is; the returned errors wrap them
// with detail that never includes a number's digits.
var (
	// ErrInvalidNumber means the address is not any kind of number the
	// switch understands (not digits, wrong length, not a short code...).
	ErrInvalidNumber = errors.New("invalid number")
	// ErrInvalidNANP means the address has the shape of a NANP number but
	// breaks the numbering plan (NPA or NXX starting with 0 or 1, or N11).
	// It is distinct from ErrInvalidNumber because routing rejects it with
	// its own reason (seed 001 §2.4.1: "outright-invalid numbers are
	// rejected").
	ErrInvalidNANP = errors.New("invalid NANP number")
	// ErrExists means the number, peer, pool entry or system ID is already
	// there.
	ErrExists = errors.New("already exists")
	// ErrNotFound means the number, peer or pool entry is not there.
	ErrNotFound = errors.New("not found")
	// ErrOverlap means a pool entry is already claimed by another peer, or
	// is (or would shadow an exact entry for) a locally owned number.
	ErrOverlap = errors.New("overlaps an existing assignment")
	// ErrInvalidPeer means a peer's name, system ID, password or allowed
	// addresses are malformed.
	ErrInvalidPeer = errors.New("invalid peer")
)

// Kind is what an address is under the NANP-centred rules of seed 001 §1.1.
// The zero Kind is no kind: ParseDestination never returns it.
type Kind uint8

// Kinds of address. The values start at 1 so that a zero Number is
// recognisably unset.
const (
	NANP          Kind = iota + 1 // +1 NPA NXX XXXX, validated
	International                 // a country code other than 1
	ShortCode                     // USA short code NXXXX or NXXXXX
	Special                       // a 4-digit number meaningful only locally
)

func (k Kind) String() string {
	switch k {
	case NANP:
		return "nanp"
	case International:
		return "international"
	case ShortCode:
		return "shortcode"
	case Special:
		return "special"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Number is a classified address.
type Number struct {
	Kind Kind
	// E164 is the international form without '+': "1NPANXXXXXX" for NANP
	// numbers, the digits as given for international ones, and empty for
	// short codes and specials, which have no E.164 form.
	E164 string
	// Digits are the digits as they were given.
	Digits string
}

// String formats the number for people: "+" and the E.164 digits when there
// is an E.164 form, else the digits. It is for command output; numbers must
// never reach a log.
func (n Number) String() string {
	if n.E164 != "" {
		return "+" + n.E164
	}
	return n.Digits
}

// Key is the form under which a number is stored and looked up: the E.164
// digits for NANP and international numbers, the digits for the others.
func (n Number) Key() string {
	if n.E164 != "" {
		return n.E164
	}
	return n.Digits
}

// TON values of the GSM 03.40 / SMPP type-of-number field that matter here.
const (
	TONUnknown       uint8 = 0
	TONInternational uint8 = 1
)

// maxE164 is the longest E.164 number (ITU-T E.164 §6).
const maxE164 = 15

// ParseDestination classifies an address given as a type of number and its
// digits, as routing sees it (seed 001 §1.1, §2.4.1):
//
//   - TON 1 (international): "1" and 10 digits is a NANP number and is
//     validated; any other country code is International, 1 to 15 digits,
//     not starting with 0 (no country code does).
//   - any other TON (unknown, national, ...): 10 digits NPANXXXXXX or 11
//     digits 1NPANXXXXXX is a NANP number and is validated; 5 or 6 digits
//     starting with 2-9 is a ShortCode; 4 digits is a Special number (which
//     routing honours only if it is defined locally); anything else is
//     ErrInvalidNumber.
//
// A NANP-shaped address that breaks the plan is ErrInvalidNANP.
func ParseDestination(ton uint8, digits string) (Number, error) {
	if digits == "" {
		return Number{}, fmt.Errorf("%w: empty", ErrInvalidNumber)
	}
	if !allDigits(digits) {
		return Number{}, fmt.Errorf("%w: not all decimal digits", ErrInvalidNumber)
	}
	if ton == TONInternational {
		switch {
		case len(digits) > maxE164:
			return Number{}, fmt.Errorf("%w: more than %d digits", ErrInvalidNumber, maxE164)
		case digits[0] == '0':
			return Number{}, fmt.Errorf("%w: no country code starts with 0", ErrInvalidNumber)
		case digits[0] == '1':
			if len(digits) != 11 {
				return Number{}, fmt.Errorf("%w: country code 1 takes exactly 10 more digits", ErrInvalidNANP)
			}
			if err := validateNANPPrefix(digits[1:]); err != nil {
				return Number{}, err
			}
			return Number{Kind: NANP, E164: digits, Digits: digits}, nil
		}
		return Number{Kind: International, E164: digits, Digits: digits}, nil
	}
	switch len(digits) {
	case 10:
		if err := validateNANPPrefix(digits); err != nil {
			return Number{}, err
		}
		return Number{Kind: NANP, E164: "1" + digits, Digits: digits}, nil
	case 11:
		if digits[0] != '1' {
			return Number{}, fmt.Errorf("%w: 11 digits not starting with 1", ErrInvalidNumber)
		}
		if err := validateNANPPrefix(digits[1:]); err != nil {
			return Number{}, err
		}
		return Number{Kind: NANP, E164: digits, Digits: digits}, nil
	case 5, 6:
		if digits[0] < '2' {
			return Number{}, fmt.Errorf("%w: a short code starts with 2-9", ErrInvalidNumber)
		}
		return Number{Kind: ShortCode, Digits: digits}, nil
	case 4:
		return Number{Kind: Special, Digits: digits}, nil
	}
	return Number{}, fmt.Errorf("%w: %d digits is no NANP number, short code or special number", ErrInvalidNumber, len(digits))
}

// ParseNumberArg parses a number typed by a person on a command line:
// "+" then digits is an international-format number (TON 1); plain digits
// are read as national (TON 0). So "+1NPANXXXXXX", "1NPANXXXXXX",
// "NPANXXXXXX" and a 4-digit special all work, as do "+44..." and short
// codes; callers that need a particular kind check Number.Kind. Pool
// prefixes, which would be ambiguous with these (a 4-digit prefix "1619" is
// also a 4-digit special), have their own parser, ParsePoolEntry.
func ParseNumberArg(s string) (Number, error) {
	if len(s) > 0 && s[0] == '+' {
		return ParseDestination(TONInternational, s[1:])
	}
	return ParseDestination(TONUnknown, s)
}

// ValidateNANP checks an 11-digit "1NPANXXXXXX" number against the plan.
// It returns nil, ErrInvalidNumber (wrong shape) or ErrInvalidNANP.
func ValidateNANP(e164 string) error {
	if len(e164) != 11 || e164[0] != '1' || !allDigits(e164) {
		return fmt.Errorf("%w: not 1 and 10 digits", ErrInvalidNumber)
	}
	return validateNANPPrefix(e164[1:])
}

// validateNANPPrefix checks as much of NPANXXXXXX as d holds (1 to 10
// digits), so that pool prefixes that could never match a valid number are
// refused too. The rules (docs/numbering.md): the NPA and the NXX each start
// with 2-9 and are not N11 (211, 311, ... 911 are service codes). Everything
// else is allowed, including 555-01XX fictional numbers, the reserved
// X9X area codes and 37X/96X: the plan reserves those but does not make
// them malformed, and refusing them would only break future numbers.
func validateNANPPrefix(d string) error {
	switch {
	case len(d) >= 1 && d[0] < '2':
		return fmt.Errorf("%w: area code (NPA) starts with 0 or 1", ErrInvalidNANP)
	case len(d) >= 3 && d[1] == '1' && d[2] == '1':
		return fmt.Errorf("%w: area code (NPA) of the form N11", ErrInvalidNANP)
	case len(d) >= 4 && d[3] < '2':
		return fmt.Errorf("%w: exchange (NXX) starts with 0 or 1", ErrInvalidNANP)
	case len(d) >= 6 && d[4] == '1' && d[5] == '1':
		return fmt.Errorf("%w: exchange (NXX) of the form N11", ErrInvalidNANP)
	}
	return nil
}

// ParsePoolEntry parses one entry of a downstream peer's pool and returns
// its canonical form, which always starts with the country code 1:
//
//   - "1NPANXXXXXX" or "+1NPANXXXXXX" (11 digits): exactly that number;
//   - "NPANXXXXXX" (10 digits, not starting with 1): exactly that number;
//   - "1" and 1 to 9 more digits, with or without "+", e.g. "1619555": every
//     number that starts with it.
//
// The digits present are checked against the NANP rules, so a prefix such
// as "1911" or "1619111" that no valid number has is ErrInvalidNANP.
func ParsePoolEntry(s string) (string, error) {
	plus := len(s) > 0 && s[0] == '+'
	if plus {
		s = s[1:]
	}
	if s == "" || !allDigits(s) {
		return "", fmt.Errorf("%w: a pool entry is digits", ErrInvalidNumber)
	}
	if !plus && len(s) == 10 && s[0] != '1' {
		s = "1" + s
	}
	if s[0] != '1' {
		return "", fmt.Errorf("%w: a pool entry starts with the country code 1", ErrInvalidNumber)
	}
	if len(s) < 2 || len(s) > 11 {
		return "", fmt.Errorf("%w: a pool entry is 1 and 1 to 10 more digits", ErrInvalidNumber)
	}
	if err := validateNANPPrefix(s[1:]); err != nil {
		return "", err
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
