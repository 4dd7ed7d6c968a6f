// Package credential holds what every authenticating front-end of the
// switch shares: password hashing (SMPP peers in internal/numbering, chat
// accounts in internal/accounts) and address allow-lists. It has no state
// of its own and touches no file.
//
// golang.org/x/crypto (bcrypt, argon2) is not in the module graph, so
// passwords are hashed with PBKDF2-HMAC-SHA256 from the standard library
// (crypto/pbkdf2): salted and stretched, compared in constant time. The
// iteration count is part of the stored hash, so it can be raised later
// without invalidating existing hashes.
package credential

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// ErrInvalid means a password breaks the caller's rules or a stored hash is
// malformed. Callers usually wrap it with their own sentinel as well.
var ErrInvalid = errors.New("invalid password")

// Scheme is the first field of every hash this package makes.
const Scheme = "pbkdf2-sha256"

const (
	saltLen = 16
	keyLen  = 32
	// maxIterations refuses absurd counts from a damaged file, which
	// would otherwise make one check take minutes.
	maxIterations = 10_000_000
	// MaxLength bounds any password Hash accepts. Callers have tighter
	// limits of their own (CheckPassword); this one only keeps a caller
	// that forgot from hashing megabytes.
	MaxLength = 1024
)

// DefaultIterations is the PBKDF2 work factor for new hashes: about 40 ms
// on a current x86-64 core, paid once per authentication of an account or
// peer that has a password. SMPP 3.4 passwords are at most 8 characters,
// so stretching matters if a database file is ever stolen.
const DefaultIterations = 100_000

// iterations is the work factor in use. It is atomic only so that a test
// may lower it (SetIterationsForTest) while other goroutines hash.
var iterations atomic.Int64

func init() { iterations.Store(DefaultIterations) }

// SetIterationsForTest sets the work factor of new hashes and of Burn, and
// returns a function that restores the previous one. Real hashes cost
// ~40 ms each, far more under -race; tests check logic, not the work
// factor. Hashes made meanwhile stay valid: each records its own count.
func SetIterationsForTest(n int) (restore func()) {
	if n < 1 || n > maxIterations {
		panic("credential: iteration count out of range")
	}
	old := iterations.Swap(int64(n))
	return func() { iterations.Store(old) }
}

// CheckPassword applies the length rules every caller has, with its own
// bounds (SMPP: 1 to 64 bytes; chat: 1 to 64 bytes), and refuses NUL,
// which C clients cannot send inside a string. Errors wrap ErrInvalid and
// never contain the password.
func CheckPassword(password string, minLen, maxLen int) error {
	if len(password) < minLen || len(password) > maxLen {
		return fmt.Errorf("%w: a password is %d to %d bytes", ErrInvalid, minLen, maxLen)
	}
	if strings.IndexByte(password, 0) >= 0 {
		return fmt.Errorf("%w: a password may not contain NUL", ErrInvalid)
	}
	return nil
}

// Hash returns the stored form of a password,
// "pbkdf2-sha256$ITERATIONS$SALT$KEY" with SALT and KEY in unpadded
// base64. It refuses only what no caller wants (empty, longer than
// MaxLength); callers apply their own rules first with CheckPassword.
func Hash(password string) (string, error) {
	if password == "" || len(password) > MaxLength {
		return "", fmt.Errorf("%w: a password is 1 to %d bytes", ErrInvalid, MaxLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	iter := int(iterations.Load())
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return Scheme + "$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// parsed is a decoded hash.
type parsed struct {
	iter      int
	salt, key []byte
}

func parse(h string) (parsed, error) {
	bad := fmt.Errorf("%w: malformed password hash", ErrInvalid)
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != Scheme {
		return parsed{}, bad
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return parsed{}, bad
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) == 0 {
		return parsed{}, bad
	}
	key, err := enc.DecodeString(parts[3])
	if err != nil || len(key) == 0 {
		return parsed{}, bad
	}
	return parsed{iter: iter, salt: salt, key: key}, nil
}

// CheckHash reports whether h is a well-formed hash, so that a database
// refuses a damaged or foreign hash when it is written rather than
// silently locking the account out later.
func CheckHash(h string) error {
	_, err := parse(h)
	return err
}

// Verify reports whether password matches a hash made by Hash. A malformed
// hash matches nothing.
func Verify(hash, password string) bool {
	ph, err := parse(hash)
	if err != nil {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, password, ph.salt, ph.iter, len(ph.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, ph.key) == 1
}

// Burn does the work of one verification at the current work factor and
// throws it away, so that a check against an unknown name costs as long as
// a wrong password and response timing does not tell which names exist.
func Burn(password string) {
	var salt [saltLen]byte
	_, _ = pbkdf2.Key(sha256.New, password, salt[:], int(iterations.Load()), keyLen)
}
