package numbering

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"

	bolt "go.etcd.io/bbolt"

	"switchboard/internal/credential"
)

// Errors of AuthPeer. Each wraps ErrAuth, so a caller that does not care
// why can test for that alone; the SMPP layer maps them to distinct bind
// statuses.
var (
	ErrAuth            = errors.New("peer authentication failed")
	ErrUnknownSystemID = fmt.Errorf("%w: unknown system ID", ErrAuth)
	ErrBadPassword     = fmt.Errorf("%w: wrong password", ErrAuth)
	ErrIPNotAllowed    = fmt.Errorf("%w: address not allowed for this peer", ErrAuth)
)

// Table is an immutable snapshot of the numbering database for routing.
// Any number of goroutines may use one at once without locking; the server
// replaces its *Table wholesale (an atomic pointer swap) when the database
// changes. The zero Table, and a nil *Table, are valid and empty.
type Table struct {
	local   map[string]Entry // "1NPANXXXXXX" -> entry
	special map[string]Entry // "DDDD" -> entry
	entries []Entry          // local then specials, sorted, for listing

	// pool maps every pool entry (2 to 11 digits, starting with 1) to its
	// peer's name. poolLens has bit n set when some entry is n digits
	// long, so a lookup tries only the lengths that exist: exact numbers
	// first, then prefixes from longest to shortest.
	pool     map[string]string
	poolLens uint16

	peers      []Peer         // sorted by name
	byName     map[string]int // name -> index in peers
	bySystemID map[string]int // system ID -> index in peers
}

// Snapshot reads the whole database into a Table in one read transaction,
// so the table is a consistent view.
func (db *DB) Snapshot() (*Table, error) {
	var t *Table
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		t, err = buildTable(tx)
		return err
	})
	return t, err
}

// LoadTable opens the database file read-only (with a shared lock, waiting
// up to 5 s for a writer), snapshots it and closes it again, so that the
// server holds the file only for the length of a reload. A missing file is
// an empty table: a fresh data directory has no numbers yet.
func LoadTable(path string) (*Table, error) {
	db, err := openReadOnly(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Table{}, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := db.Snapshot()
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

func buildTable(tx *bolt.Tx) (*Table, error) {
	if err := checkSchema(tx); err != nil {
		return nil, err
	}
	t := &Table{
		local:      map[string]Entry{},
		special:    map[string]Entry{},
		pool:       map[string]string{},
		byName:     map[string]int{},
		bySystemID: map[string]int{},
	}
	entries, err := readEntries(tx, nil)
	if err != nil {
		return nil, err
	}
	t.entries = entries
	for _, e := range entries {
		if e.IsSpecial() {
			t.special[e.Number] = e
		} else {
			t.local[e.Number] = e
		}
	}
	peers, err := readPeers(tx)
	if err != nil {
		return nil, err
	}
	t.peers = peers
	for i, p := range peers {
		t.byName[p.Name] = i
		if p.HasCredentials() {
			t.bySystemID[p.SystemID] = i
		}
		for _, e := range p.Pool {
			if len(e) < 2 || len(e) > 11 {
				return nil, fmt.Errorf("numbering database: malformed pool entry of peer %s", p.Name)
			}
			// p.Name is shared by all of a peer's entries: one string,
			// not one per entry.
			t.pool[e] = p.Name
			t.poolLens |= 1 << len(e)
		}
	}
	return t, nil
}

// LookupLocal looks up a locally owned NANP number, "1NPANXXXXXX".
func (t *Table) LookupLocal(e164 string) (Entry, bool) {
	if t == nil {
		return Entry{}, false
	}
	e, ok := t.local[e164]
	return e, ok
}

// LookupSpecial looks up a 4-digit special number.
func (t *Table) LookupSpecial(digits string) (Entry, bool) {
	if t == nil {
		return Entry{}, false
	}
	e, ok := t.special[digits]
	return e, ok
}

// LookupPeer finds the downstream peer whose pool holds a NANP number,
// "1NPANXXXXXX": an exact entry wins, then the longest matching prefix.
// It does not allocate.
func (t *Table) LookupPeer(e164 string) (peerName string, ok bool) {
	if t == nil || len(e164) != 11 || t.poolLens == 0 {
		return "", false
	}
	for n := 11; n >= 2; n-- {
		if t.poolLens&(1<<n) == 0 {
			continue
		}
		if name, ok := t.pool[e164[:n]]; ok {
			return name, true
		}
	}
	return "", false
}

// Peer returns the named peer.
func (t *Table) Peer(name string) (Peer, bool) {
	if t == nil {
		return Peer{}, false
	}
	i, ok := t.byName[name]
	if !ok {
		return Peer{}, false
	}
	return t.peers[i].clone(), true
}

// Peers returns every peer, sorted by name.
func (t *Table) Peers() []Peer {
	if t == nil {
		return nil
	}
	out := make([]Peer, len(t.peers))
	for i, p := range t.peers {
		out[i] = p.clone()
	}
	return out
}

// Numbers returns every locally owned number, NANP numbers in numeric order
// then the specials.
func (t *Table) Numbers() []Entry {
	if t == nil {
		return nil
	}
	return slices.Clone(t.entries)
}

// AuthPeer checks an SMPP bind: the system ID names a peer with
// credentials, the password matches, and ip is allowed. The password is
// checked even when the system ID is unknown, so that timing does not tell
// an attacker which system IDs exist. The check costs one password hash
// (tens of milliseconds by design): the caller should limit bind attempts.
func (t *Table) AuthPeer(systemID, password string, ip netip.Addr) (Peer, error) {
	var i int
	ok := false
	if t != nil {
		i, ok = t.bySystemID[systemID]
	}
	if !ok {
		credential.Burn(password)
		return Peer{}, ErrUnknownSystemID
	}
	p := &t.peers[i]
	if !VerifyPassword(p.PasswordHash, password) {
		return Peer{}, ErrBadPassword
	}
	if !credential.AddrAllowed(p.AllowIPs, ip) {
		return Peer{}, ErrIPNotAllowed
	}
	return p.clone(), nil
}
