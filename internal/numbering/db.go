package numbering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"switchboard/internal/credential"
)

// FileName is the database file inside the data directory.
const FileName = "numbering.db"

// Path returns the database file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// lockTimeout bounds the wait for bbolt's flock. The file is only ever held
// for the length of one command or one reload, so waiting a few seconds
// rides out the other holder instead of failing; a longer wait means
// something is stuck and the caller should hear about it. It is a variable
// only so that a test can wait less.
var lockTimeout = 5 * time.Second

const filePermissions = 0o640

// schemaVersion is the layout described in docs/numbering.md. A file with a
// higher version was written by a newer switchboard and is refused rather
// than misread.
const schemaVersion = 1

// Bucket names (docs/numbering.md).
var (
	bucketMeta     = []byte("meta")     // "schema" -> decimal version
	bucketNumbers  = []byte("numbers")  // "1NPANXXXXXX" -> entry value
	bucketSpecials = []byte("specials") // "DDDD" -> entry value
	bucketPeers    = []byte("peers")    // name -> JSON peerRecord
	bucketPool     = []byte("pool")     // canonical pool entry -> peer name
	keySchema      = []byte("schema")
)

// Entry values are two bytes, type then flags; readers ignore bytes after
// those so that fields can be added without a schema change.
const (
	entryValueLen      = 2
	flagSMSProv   byte = 1 << 0
)

// DB is an open numbering database. It holds bbolt's exclusive file lock
// until Close, so hold it only briefly: the server and the command-line
// tools take turns on the same file.
type DB struct {
	bolt *bolt.DB
}

// ErrBusy means another process held the database file for longer than the
// lock timeout.
var ErrBusy = errors.New("numbering database is busy (another switchboard process holds it)")

// openError adds the ErrBusy sentinel to bbolt's bare "timeout".
func openError(err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("open numbering database: %w", ErrBusy)
	}
	return fmt.Errorf("open numbering database: %w", err)
}

// Open opens the database file at path for reading and writing, creating it
// and its buckets if needed. It waits up to 5 s for another process to
// release the file.
func Open(path string) (*DB, error) {
	b, err := bolt.Open(path, filePermissions, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, openError(err)
	}
	db := &DB{bolt: b}
	if err := b.Update(initSchema); err != nil {
		b.Close()
		return nil, fmt.Errorf("open numbering database: %w", err)
	}
	return db, nil
}

// openReadOnly opens an existing file with a shared lock, so that readers
// (the server's reloads, list commands) never create the file and never
// exclude each other.
func openReadOnly(path string) (*DB, error) {
	b, err := bolt.Open(path, filePermissions, &bolt.Options{Timeout: lockTimeout, ReadOnly: true})
	if err != nil {
		return nil, openError(err)
	}
	db := &DB{bolt: b}
	if err := b.View(checkSchema); err != nil {
		b.Close()
		return nil, fmt.Errorf("open numbering database: %w", err)
	}
	return db, nil
}

// Close releases the file.
func (db *DB) Close() error { return db.bolt.Close() }

func initSchema(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketNumbers, bucketSpecials, bucketPeers, bucketPool} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if err := checkSchema(tx); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySchema) == nil {
		return meta.Put(keySchema, fmt.Appendf(nil, "%d", schemaVersion))
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
	var n int
	if _, err := fmt.Sscanf(string(v), "%d", &n); err != nil {
		return fmt.Errorf("unreadable schema version in numbering database")
	}
	if n > schemaVersion {
		return fmt.Errorf("numbering database has schema version %d; this switchboard reads up to %d", n, schemaVersion)
	}
	return nil
}

// entryKey checks a number entry before it is written and returns where it
// goes. SMSProv is refused on a special number, which has no E.164 form to
// present upstream.
func entryKey(op string, n Number, t Type, smsprov bool) ([]byte, []byte, error) {
	bucket, key, err := numberKey(n)
	if err != nil {
		return nil, nil, err
	}
	if !t.valid() {
		return nil, nil, fmt.Errorf("%s: invalid type %d", op, uint8(t))
	}
	if smsprov && n.Kind == Special {
		return nil, nil, fmt.Errorf("%w: a special number cannot be SMS-provisioned", ErrInvalidNumber)
	}
	return bucket, key, nil
}

// AddNumber adds a locally owned number: a NANP number or a 4-digit
// special. SMSProv is refused on a special number, which has no E.164 form
// to present upstream. A NANP number that is an exact entry of a peer's
// pool is ErrOverlap; one that merely falls under a peer's prefix is
// allowed, because local numbers are looked up first (seed 001 §2.4.1).
func (db *DB) AddNumber(n Number, t Type, smsprov bool) error {
	bucket, key, err := entryKey("add number", n, t, smsprov)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) != nil {
			return fmt.Errorf("add number: %w", ErrExists)
		}
		if n.Kind == NANP {
			if owner := tx.Bucket(bucketPool).Get(key); owner != nil {
				return fmt.Errorf("add number: %w: exact entry of peer %s's pool", ErrOverlap, owner)
			}
		}
		return b.Put(key, encodeEntry(t, smsprov))
	})
}

// ChangeNumber changes the type and SMS-provisioned flag of a number in
// place. It exists so that an operator never has to remove and re-add a
// number, which would briefly route it upstream.
func (db *DB) ChangeNumber(n Number, t Type, smsprov bool) error {
	bucket, key, err := entryKey("change number", n, t, smsprov)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) == nil {
			return fmt.Errorf("change number: %w", ErrNotFound)
		}
		return b.Put(key, encodeEntry(t, smsprov))
	})
}

// RemoveNumber removes a locally owned number.
func (db *DB) RemoveNumber(n Number) error {
	bucket, key, err := numberKey(n)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) == nil {
			return fmt.Errorf("remove number: %w", ErrNotFound)
		}
		return b.Delete(key)
	})
}

// ListNumbers returns the NANP numbers in numeric order, then the special
// numbers.
func (db *DB) ListNumbers() ([]Entry, error) {
	var out []Entry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readEntries(tx, nil)
		return err
	})
	return out, err
}

// readEntries appends every number and special of tx to out.
func readEntries(tx *bolt.Tx, out []Entry) ([]Entry, error) {
	for _, name := range [][]byte{bucketNumbers, bucketSpecials} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		err := b.ForEach(func(k, v []byte) error {
			t, prov, err := decodeEntry(v)
			if err != nil {
				return err
			}
			out = append(out, Entry{Number: string(k), Type: t, SMSProv: prov})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func numberKey(n Number) (bucket, key []byte, err error) {
	switch n.Kind {
	case NANP:
		if err := ValidateNANP(n.E164); err != nil {
			return nil, nil, err
		}
		return bucketNumbers, []byte(n.E164), nil
	case Special:
		if len(n.Digits) != 4 || !allDigits(n.Digits) {
			return nil, nil, fmt.Errorf("%w: a special number is 4 digits", ErrInvalidNumber)
		}
		return bucketSpecials, []byte(n.Digits), nil
	}
	return nil, nil, fmt.Errorf("%w: only NANP numbers and 4-digit specials can be locally owned", ErrInvalidNumber)
}

func encodeEntry(t Type, smsprov bool) []byte {
	v := []byte{byte(t), 0}
	if smsprov {
		v[1] |= flagSMSProv
	}
	return v
}

func decodeEntry(v []byte) (Type, bool, error) {
	if len(v) < entryValueLen || !Type(v[0]).valid() {
		return 0, false, errors.New("damaged number entry in numbering database")
	}
	return Type(v[0]), v[1]&flagSMSProv != 0, nil
}

// peerRecord is the stored form of a peer. The pool is not in it: the pool
// bucket is the one place that says which peer owns an entry, so the
// uniqueness of entries is a bucket lookup and cannot disagree with a copy.
type peerRecord struct {
	SystemID     string   `json:"system_id,omitempty"`
	PasswordHash string   `json:"password_hash,omitempty"`
	AllowIPs     []string `json:"allow_ips,omitempty"`
}

func (r *peerRecord) peer(name string) (Peer, error) {
	p := Peer{Name: name, SystemID: r.SystemID, PasswordHash: r.PasswordHash}
	for _, s := range r.AllowIPs {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return Peer{}, fmt.Errorf("damaged peer %s in numbering database: %w", name, err)
		}
		p.AllowIPs = append(p.AllowIPs, pfx)
	}
	return p, nil
}

// checkPeer validates everything about p except its pool and canonicalises
// its allowed prefixes (credential.CanonicalPrefixes: IPv4-mapped rules
// stored as IPv4, host bits cleared, sorted, no duplicates).
func checkPeer(p *Peer) error {
	if err := ValidatePeerName(p.Name); err != nil {
		return err
	}
	if (p.SystemID == "") != (p.PasswordHash == "") {
		return fmt.Errorf("%w: a system ID and a password go together", ErrInvalidPeer)
	}
	if p.SystemID != "" {
		if err := ValidateSystemID(p.SystemID); err != nil {
			return err
		}
		if err := credential.CheckHash(p.PasswordHash); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPeer, err)
		}
	}
	allow, err := credential.CanonicalPrefixes(p.AllowIPs)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPeer, err)
	}
	p.AllowIPs = allow
	return nil
}

// canonicalPool parses and sorts pool entries; an entry listed twice is
// ErrExists, since it is almost certainly a typo for another entry.
func canonicalPool(entries []string) ([]string, error) {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		c, err := ParsePoolEntry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			return nil, fmt.Errorf("pool entry listed twice: %w", ErrExists)
		}
	}
	return out, nil
}

// claimPool records entries as owned by name, refusing any entry that is
// already claimed (ErrExists if by name itself, ErrOverlap if by another
// peer) or that is exactly a locally owned number (ErrOverlap).
func claimPool(tx *bolt.Tx, name string, entries []string) error {
	pool := tx.Bucket(bucketPool)
	numbers := tx.Bucket(bucketNumbers)
	for _, e := range entries {
		key := []byte(e)
		if owner := pool.Get(key); owner != nil {
			if string(owner) == name {
				return fmt.Errorf("pool entry of peer %s: %w", name, ErrExists)
			}
			return fmt.Errorf("pool entry: %w: claimed by peer %s", ErrOverlap, owner)
		}
		if numbers.Get(key) != nil {
			return fmt.Errorf("pool entry: %w: a locally owned number", ErrOverlap)
		}
		if err := pool.Put(key, []byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// AddPeer adds a downstream peer with its pool and credentials. p.Pool
// entries may be in any form ParsePoolEntry accepts; p.PasswordHash must
// come from HashPassword. Names and system IDs are unique (ErrExists).
func (db *DB) AddPeer(p Peer) error {
	p = p.clone()
	if err := checkPeer(&p); err != nil {
		return err
	}
	pool, err := canonicalPool(p.Pool)
	if err != nil {
		return err
	}
	rec := peerRecord{SystemID: p.SystemID, PasswordHash: p.PasswordHash}
	for _, pfx := range p.AllowIPs {
		rec.AllowIPs = append(rec.AllowIPs, pfx.String())
	}
	val, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		peers := tx.Bucket(bucketPeers)
		if peers.Get([]byte(p.Name)) != nil {
			return fmt.Errorf("peer %s: %w", p.Name, ErrExists)
		}
		if p.SystemID != "" {
			err := peers.ForEach(func(k, v []byte) error {
				var other peerRecord
				if err := json.Unmarshal(v, &other); err != nil {
					return fmt.Errorf("damaged peer %s in numbering database: %w", k, err)
				}
				if other.SystemID == p.SystemID {
					return fmt.Errorf("system ID of peer %s: %w", k, ErrExists)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if err := claimPool(tx, p.Name, pool); err != nil {
			return err
		}
		return peers.Put([]byte(p.Name), val)
	})
}

// RemovePeer removes a peer and releases its whole pool.
func (db *DB) RemovePeer(name string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		peers := tx.Bucket(bucketPeers)
		if peers.Get([]byte(name)) == nil {
			return fmt.Errorf("peer %s: %w", name, ErrNotFound)
		}
		pool := tx.Bucket(bucketPool)
		var mine [][]byte
		err := pool.ForEach(func(k, v []byte) error {
			if string(v) == name {
				mine = append(mine, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Deleting while iterating with ForEach is not allowed by bbolt,
		// hence the two passes.
		for _, k := range mine {
			if err := pool.Delete(k); err != nil {
				return err
			}
		}
		return peers.Delete([]byte(name))
	})
}

// AddPoolEntry adds entries to an existing peer's pool, all or none.
func (db *DB) AddPoolEntry(name string, entries ...string) error {
	pool, err := canonicalPool(entries)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPeers).Get([]byte(name)) == nil {
			return fmt.Errorf("peer %s: %w", name, ErrNotFound)
		}
		return claimPool(tx, name, pool)
	})
}

// RemovePoolEntry removes entries from a peer's pool, all or none; an entry
// the peer does not own is ErrNotFound.
func (db *DB) RemovePoolEntry(name string, entries ...string) error {
	pool, err := canonicalPool(entries)
	if err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPeers).Get([]byte(name)) == nil {
			return fmt.Errorf("peer %s: %w", name, ErrNotFound)
		}
		b := tx.Bucket(bucketPool)
		for _, e := range pool {
			if owner := b.Get([]byte(e)); string(owner) != name {
				return fmt.Errorf("pool entry of peer %s: %w", name, ErrNotFound)
			}
			if err := b.Delete([]byte(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListPeers returns the peers sorted by name, each with its sorted pool.
func (db *DB) ListPeers() ([]Peer, error) {
	var out []Peer
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = readPeers(tx)
		return err
	})
	return out, err
}

// readPeers reads all peers with their pools.
func readPeers(tx *bolt.Tx) ([]Peer, error) {
	peers := tx.Bucket(bucketPeers)
	if peers == nil {
		return nil, nil
	}
	var out []Peer
	index := map[string]int{}
	err := peers.ForEach(func(k, v []byte) error {
		var rec peerRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("damaged peer %s in numbering database: %w", k, err)
		}
		p, err := rec.peer(string(k))
		if err != nil {
			return err
		}
		index[p.Name] = len(out)
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pool := tx.Bucket(bucketPool); pool != nil {
		err = pool.ForEach(func(k, v []byte) error {
			i, ok := index[string(v)]
			if !ok {
				return fmt.Errorf("numbering database: pool entry of missing peer %s", v)
			}
			out[i].Pool = append(out[i].Pool, string(k))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
