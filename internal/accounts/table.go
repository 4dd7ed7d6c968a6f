package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"

	bolt "go.etcd.io/bbolt"

	"switchboard/internal/credential"
)

// Table is an immutable snapshot of the accounts database. Any number of
// goroutines may use one at once without locking; the server replaces its
// *Table wholesale (an atomic pointer swap) when the database changes. The
// zero Table, and a nil *Table, are valid and empty.
type Table struct {
	accounts []Account         // sorted by name (bbolt's key order)
	byName   map[string]int    // name -> index in accounts
	byNumber map[string]string // "1NPANXXXXXX" -> owner's name
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

// Load opens the database file read-only (with a shared lock, waiting up
// to 5 s for a writer), snapshots it and closes it again, so that the
// server holds the file only for the length of a reload. A missing file is
// an empty table: a fresh data directory has no accounts yet.
func Load(path string) (*Table, error) {
	db, err := OpenReadOnly(path)
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
	t := &Table{byName: map[string]int{}, byNumber: map[string]string{}}
	if b := tx.Bucket(bucketAccounts); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			a, err := r.account(string(k))
			if err != nil {
				return err
			}
			t.byName[a.Name] = len(t.accounts)
			t.accounts = append(t.accounts, a)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if b := tx.Bucket(bucketNumbers); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			i, ok := t.byName[string(v)]
			if !ok {
				return fmt.Errorf("accounts database: number of missing account %s", v)
			}
			a := &t.accounts[i]
			if a.Number != "" {
				return fmt.Errorf("accounts database: account %s owns two numbers", v)
			}
			a.Number = string(k)
			// The owner's name string is shared with the account.
			t.byNumber[a.Number] = a.Name
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Len is the number of accounts.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.accounts)
}

// Lookup returns the account of exactly that name (names are
// case-sensitive).
func (t *Table) Lookup(name string) (Account, bool) {
	a := t.find(name)
	if a == nil {
		return Account{}, false
	}
	return a.clone(), true
}

func (t *Table) find(name string) *Account {
	if t == nil {
		return nil
	}
	i, ok := t.byName[name]
	if !ok {
		return nil
	}
	return &t.accounts[i]
}

// ByNumber returns the name of the account that owns a number,
// "1NPANXXXXXX".
func (t *Table) ByNumber(e164 string) (string, bool) {
	if t == nil {
		return "", false
	}
	name, ok := t.byNumber[e164]
	return name, ok
}

// Accounts returns a copy of every account, sorted by name (byte order).
func (t *Table) Accounts() []Account {
	if t == nil {
		return nil
	}
	out := make([]Account, len(t.accounts))
	for i, a := range t.accounts {
		out[i] = a.clone()
	}
	return out
}

// Authenticate checks a login (CPT CONNECT, and any other front-end with
// names) against the registry, in this order:
//
//  1. No account of that name: ok with registered == false. The caller
//     decides whether unregistered names may log in (and should check
//     them with ValidName, which also refuses "system"). If a secret was
//     given, one hash is computed and thrown away, so that timing does
//     not tell which names are registered.
//  2. The account is locked: ErrLocked.
//  3. ip is not in the account's AllowIPs (when it has any):
//     ErrIPNotAllowed.
//  4. The account has a password and secret is empty or wrong:
//     ErrBadCredentials. A wrong password costs one hash (~40 ms by
//     design): the caller should limit login attempts.
//  5. Otherwise ok, registered == true. An account without a password
//     accepts any secret, or none: clients that always send one keep
//     working, and there is nothing to check it against.
//
// Errors are the bare sentinels, with registered == true. Without a password nothing is allocated
// (one map lookup, a scan of a few prefixes), since this runs on every
// connect; the account returned is a copy.
func (t *Table) Authenticate(name string, secret []byte, ip netip.Addr) (Account, bool, error) {
	a := t.find(name)
	if a == nil {
		if len(secret) > 0 {
			credential.Burn(string(secret))
		}
		return Account{}, false, nil
	}
	if a.Locked {
		return Account{}, true, ErrLocked
	}
	if !credential.AddrAllowed(a.AllowIPs, ip) {
		return Account{}, true, ErrIPNotAllowed
	}
	if a.PasswordHash != "" && (len(secret) == 0 || !credential.Verify(a.PasswordHash, string(secret))) {
		return Account{}, true, ErrBadCredentials
	}
	return a.clone(), true, nil
}
