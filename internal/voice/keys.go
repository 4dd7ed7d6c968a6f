package voice

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"switchboard/internal/datadir"
)

// File names in the data directory (docs/voice.md).
const (
	KeyFileName   = "voice-ed25519.pem"
	AdminFileName = "voice-admin.uid"
)

// LoadOrCreateKey reads the server's Ed25519 key from dir, or generates
// and saves one (PKCS #8 PEM, mode 0600) on first start.
func LoadOrCreateKey(dir string) (ed25519.PrivateKey, bool, error) {
	path := filepath.Join(dir, KeyFileName)
	k, err := ReadKey(dir)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	if err := datadir.WriteFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, false, fmt.Errorf("voice key: %w", err)
	}
	return priv, true, nil
}

// ReadKey reads the server's key from dir; a missing file is an error
// matching fs.ErrNotExist.
func ReadKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("voice key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("voice key %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("voice key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("voice key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// PublicKeyString is the public key as the logs, the admin API and the
// voice command give it: the 32 bytes in standard padded base64 (44
// characters).
func PublicKeyString(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads PublicKeyString's form.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("voice: not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// ReadAdminUID reads the admin uid file of a data directory.
func ReadAdminUID(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, AdminFileName))
	if err != nil {
		return 0, fmt.Errorf("voice admin uid: %w", err)
	}
	uid, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || !ValidUID(uid) {
		return 0, fmt.Errorf("voice admin uid: %s does not hold a uid", AdminFileName)
	}
	return uid, nil
}

// WriteAdminUID writes the admin uid file (mode 0600: the uid is the admin's
// whole credential), atomically and durably.
func WriteAdminUID(dir string, uid uint64) error {
	return datadir.WriteFileAtomic(filepath.Join(dir, AdminFileName), []byte(strconv.FormatUint(uid, 10)+"\n"), 0o600)
}

// RandomUID draws a valid random uid (for the admin at first start).
func RandomUID() (uint64, error) {
	h := &Hub{users: map[uint64]Perm{}}
	return h.newUIDLocked()
}
