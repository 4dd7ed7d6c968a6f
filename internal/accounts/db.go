package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"switchboard/internal/credential"
)

// FileName is the database file inside the data directory.
const FileName = "accounts.db"

// Path returns the database file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// lockTimeout bounds the wait for bbolt's flock. Every user holds the file
// only for one transaction (a command) or one snapshot (a server reload),
// so a few seconds ride out the other holder; a longer wait means something
// is stuck and the caller should hear about it. It is a variable only so
// that a test can wait less.
var lockTimeout = 5 * time.Second

// filePermissions keeps password hashes and voice uids (which are bearer
// credentials, docs/voice.md) to the server's own user.
const filePermissions = 0o600

// schemaVersion is the layout described in docs/accounts.md. A file with a
// higher version was written by a newer switchboard and is refused rather
// than misread.
const schemaVersion = 1

// Bucket names (docs/accounts.md).
var (
	bucketMeta     = []byte("meta")     // "schema" -> decimal version
	bucketAccounts = []byte("accounts") // name -> JSON record
	bucketNumbers  = []byte("numbers")  // "1NPANXXXXXX" -> owning account's name
	keySchema      = []byte("schema")
)

// record is the stored form of an account. The name is the key, and the
// owned number lives only in the numbers bucket, so that "who owns this
// number" has one answer and uniqueness is a key lookup that cannot
// disagree with a copy. Unknown fields are ignored on read, so fields can
// be added without a schema change.
type record struct {
	PasswordHash string    `json:"password_hash,omitempty"`
	Locked       bool      `json:"locked,omitempty"`
	AllowIPs     []string  `json:"allow_ips,omitempty"`
	Created      time.Time `json:"created"`
}

func newRecord(a Account) record {
	r := record{PasswordHash: a.PasswordHash, Locked: a.Locked, Created: a.Created}
	r.setAllowIPs(a.AllowIPs)
	return r
}

func (r *record) setAllowIPs(p []netip.Prefix) {
	r.AllowIPs = nil
	for _, pfx := range p {
		r.AllowIPs = append(r.AllowIPs, pfx.String())
	}
}

func (r *record) account(name string) (Account, error) {
	a := Account{Name: name, PasswordHash: r.PasswordHash, Locked: r.Locked, Created: r.Created.UTC()}
	for _, s := range r.AllowIPs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return Account{}, fmt.Errorf("damaged account %s in accounts database: %w", name, err)
		}
		a.AllowIPs = append(a.AllowIPs, pfx)
	}
	return a, nil
}

func decodeRecord(name, v []byte) (record, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return record{}, fmt.Errorf("damaged account %s in accounts database: %w", name, err)
	}
	return r, nil
}

// DB is an open accounts database. A writable DB holds bbolt's exclusive
// file lock until Close, so hold it only briefly: the server and the
// command-line tools take turns on the same file.
type DB struct {
	bolt *bolt.DB
}

// openError adds the ErrBusy sentinel to bbolt's bare "timeout".
func openError(err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("open accounts database: %w", ErrBusy)
	}
	return fmt.Errorf("open accounts database: %w", err)
}

// Open opens the database file at path for reading and writing, creating
// it and its buckets if needed. It waits up to 5 s for another process to
// release the file (then ErrBusy).
func Open(path string) (*DB, error) {
	return open(path, false, initSchema)
}

// OpenReadOnly opens an existing file with a shared lock, so that readers
// (the server's reloads, list commands) never create the file and never
// exclude each other. A missing file is an error that matches
// fs.ErrNotExist; Load turns it into an empty table. Writing through a
// read-only DB fails.
func OpenReadOnly(path string) (*DB, error) {
	return open(path, true, checkSchema)
}

func open(path string, readOnly bool, setup func(*bolt.Tx) error) (*DB, error) {
	b, err := bolt.Open(path, filePermissions, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
	if err != nil {
		return nil, openError(err)
	}
	tx := b.Update
	if readOnly {
		tx = b.View
	}
	if err := tx(setup); err != nil {
		b.Close()
		return nil, fmt.Errorf("open accounts database: %w", err)
	}
	return &DB{bolt: b}, nil
}

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }

func initSchema(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketAccounts, bucketNumbers} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if err := checkSchema(tx); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySchema) == nil {
		return meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	}
	return nil
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil
	}
	v := meta.Get(keySchema)
	if v == nil {
		return nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return errors.New("unreadable schema version in accounts database")
	}
	if n > schemaVersion {
		return fmt.Errorf("accounts database has schema version %d; this switchboard reads up to %d", n, schemaVersion)
	}
	return nil
}

// Add adds an account. a.PasswordHash must be empty or come from
// HashPassword; a.Number must be "" or "1NPANXXXXXX" and not owned by
// another account (ErrNumberTaken); a zero a.Created becomes now. Errors:
// ErrExists, ErrInvalid, ErrNumberTaken.
func (db *DB) Add(a Account) error {
	a, err := check(a)
	if err != nil {
		return err
	}
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	// Round(0) drops the monotonic reading, which JSON would not keep.
	a.Created = a.Created.UTC().Round(0)
	rec := newRecord(a)
	val, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	key := []byte(a.Name)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get(key) != nil {
			return fmt.Errorf("account %s: %w", a.Name, ErrExists)
		}
		if a.Number != "" {
			if err := claimNumber(tx, a.Name, a.Number); err != nil {
				return err
			}
		}
		return b.Put(key, val)
	})
}

// claimNumber records e164 as owned by name. Owning it already is fine;
// another owner is ErrNumberTaken.
func claimNumber(tx *bolt.Tx, name, e164 string) error {
	nums := tx.Bucket(bucketNumbers)
	owner := nums.Get([]byte(e164))
	if owner != nil {
		if string(owner) == name {
			return nil
		}
		return fmt.Errorf("account %s: %w (account %s)", name, ErrNumberTaken, owner)
	}
	return nums.Put([]byte(e164), []byte(name))
}

// releaseNumbers drops every number name owns. The numbers bucket is
// scanned rather than indexed by name: it is small, and only commands
// change it.
func releaseNumbers(tx *bolt.Tx, name string) error {
	nums := tx.Bucket(bucketNumbers)
	var mine [][]byte
	err := nums.ForEach(func(k, v []byte) error {
		if string(v) == name {
			mine = append(mine, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// bbolt does not allow deleting while ForEach runs, hence two passes.
	for _, k := range mine {
		if err := nums.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes an account and releases its number (ErrNotFound if there
// is no such account).
func (db *DB) Remove(name string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("account %s: %w", name, ErrNotFound)
		}
		if err := releaseNumbers(tx, name); err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
}

// update applies change to the stored record of name in one transaction.
func (db *DB) update(name string, change func(tx *bolt.Tx, r *record) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		v := b.Get([]byte(name))
		if v == nil {
			return fmt.Errorf("account %s: %w", name, ErrNotFound)
		}
		r, err := decodeRecord([]byte(name), v)
		if err != nil {
			return err
		}
		if err := change(tx, &r); err != nil {
			return err
		}
		val, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), val)
	})
}

// SetLocked locks or unlocks an account. A locked account keeps its
// password, number and everything else; it just cannot log in.
func (db *DB) SetLocked(name string, locked bool) error {
	return db.update(name, func(_ *bolt.Tx, r *record) error {
		r.Locked = locked
		return nil
	})
}

// SetPassword sets an account's password (checked by CheckPassword and
// stored hashed), or removes it when password is "".
func (db *DB) SetPassword(name, password string) error {
	hash := ""
	if password != "" {
		var err error
		if hash, err = HashPassword(password); err != nil {
			return err
		}
	}
	return db.update(name, func(_ *bolt.Tx, r *record) error {
		r.PasswordHash = hash
		return nil
	})
}

// SetNumber gives an account the number e164 ("1NPANXXXXXX"), replacing
// any it had, or removes its number when e164 is "". A number another
// account owns is ErrNumberTaken. Whether the number is locally owned is
// for the caller to check against the numbering database.
func (db *DB) SetNumber(name, e164 string) error {
	if err := checkNumber(e164); err != nil {
		return err
	}
	return db.update(name, func(tx *bolt.Tx, _ *record) error {
		if e164 != "" {
			if owner := tx.Bucket(bucketNumbers).Get([]byte(e164)); owner != nil && string(owner) != name {
				return fmt.Errorf("account %s: %w (account %s)", name, ErrNumberTaken, owner)
			}
		}
		if err := releaseNumbers(tx, name); err != nil {
			return err
		}
		if e164 == "" {
			return nil
		}
		return claimNumber(tx, name, e164)
	})
}

// SetAllowIPs replaces the prefixes an account accepts logins from; an
// empty list allows any address.
func (db *DB) SetAllowIPs(name string, p []netip.Prefix) error {
	allow, err := credential.CanonicalPrefixes(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return db.update(name, func(_ *bolt.Tx, r *record) error {
		r.setAllowIPs(allow)
		return nil
	})
}
