package chat

import (
	"hash/maphash"
	"sync"
	"time"
)

// dedup recognises a message resent after a lost ACK.
//
// A CPT client that did not get its ACK can only have lost it with the
// connection (TCP does not lose one line and deliver the next), so a
// resend always comes on a new connection. The rule is therefore: a
// message is a resend when the same user sent the same text to the same
// target within the window from an earlier connection. Repeats on one
// connection are never resends: a person may say "ok" twice. Messages
// rebuilt from the store at startup belong to no live connection, so a
// resend to a restarted server is recognised too.
type dedup struct {
	seed   maphash.Seed
	window time.Duration

	mu    sync.Mutex
	byKey map[uint64]*dedupEntry
	order []*dedupEntry // by time, for expiry
}

type dedupEntry struct {
	key     uint64
	session uint64 // 0: from the store
	ns      int64
	// While the first copy is being stored, done is open and id unset;
	// err is set if storing failed (and the entry is then gone).
	done chan struct{}
	id   uint64
	err  error
}

func (d *dedup) init(window time.Duration) {
	d.seed = maphash.MakeSeed()
	d.window = window
	d.byKey = map[uint64]*dedupEntry{}
}

// key hashes what identifies a message.
func (d *dedup) key(from, to string, group bool, text []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(from)
	h.WriteByte(0)
	h.WriteString(to)
	if group {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	h.Write(text)
	return h.Sum64()
}

// claim looks for an earlier copy. If there is one from another
// connection it returns it (wait on done unless it is closed); otherwise
// it registers this message as pending and returns the new entry with
// first set.
func (d *dedup) claim(key, session uint64, now int64) (e *dedupEntry, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(now)
	if old := d.byKey[key]; old != nil && old.session != session {
		return old, false
	}
	e = &dedupEntry{key: key, session: session, ns: now, done: make(chan struct{})}
	d.byKey[key] = e
	d.order = append(d.order, e)
	return e, true
}

// resolve records the outcome of storing a claimed message.
func (d *dedup) resolve(e *dedupEntry, id uint64, err error) {
	d.mu.Lock()
	e.id, e.err = id, err
	if err != nil && d.byKey[e.key] == e {
		delete(d.byKey, e.key)
	}
	close(e.done)
	d.mu.Unlock()
}

// remember adds a message found in the store at startup.
func (d *dedup) remember(key uint64, id uint64, ns int64) {
	e := &dedupEntry{key: key, ns: ns, id: id, done: closedChan}
	d.mu.Lock()
	d.byKey[key] = e
	d.order = append(d.order, e)
	d.mu.Unlock()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (d *dedup) expireLocked(now int64) {
	limit := now - int64(d.window)
	i := 0
	for i < len(d.order) && d.order[i].ns < limit {
		if e := d.order[i]; d.byKey[e.key] == e {
			delete(d.byKey, e.key)
		}
		d.order[i] = nil
		i++
	}
	if i > 0 {
		d.order = d.order[i:]
		// Let the backing array shrink when it has drained.
		if len(d.order) == 0 {
			d.order = nil
		}
	}
}
