package chat

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// entry is one message in a timeline: where its first record is and when
// it was stored. SMS entries point at an SM record; a concatenated SMS
// has its other parts in history.parts.
type entry struct {
	id  uint64
	ns  int64
	sms bool
}

// timeline is one target's messages in store order, which is also time
// order (the store never lets entry times go backwards).
type timeline struct {
	// e holds the entries in chunks of timelineChunk, every chunk full but
	// the last. One slice grown by append would copy the whole timeline
	// at every growth, and touch fresh memory for all of it: a number
	// with millions of messages then stalled its submitters for a second
	// at a time (page faults cost ~15 µs each on the reference machine).
	// An entry once in a chunk never changes there: a late entry replaces
	// the chunks it shifts with copies, so that a snapshot may be read
	// without the lock.
	e [][]entry
	n int
	// tail are the last messages of the timeline kept in RAM, in id
	// order, at most tailLen; they are also in history.cache.
	tail []*Message
	// used is when the timeline was last posted to or read (UnixNano):
	// the cache keeps the tails of the most recently used.
	used atomic.Int64
}

// timelineChunk is how many entries one chunk of a timeline holds (96 KiB).
const timelineChunk = 4096

// at returns entry i.
func (t *timeline) at(i int) *entry { return &t.e[i/timelineChunk][i%timelineChunk] }

// push appends x.
func (t *timeline) push(x entry) {
	if t.n%timelineChunk == 0 {
		// The first chunk starts small (append grows it): most
		// timelines are short.
		size := timelineChunk
		if t.n == 0 {
			size = 16
		}
		t.e = append(t.e, make([]entry, 0, size))
	}
	last := &t.e[len(t.e)-1]
	*last = append(*last, x)
	t.n++
}

// tailLen is how many of a timeline's last messages the cache keeps: a
// client's first SYNC of a group asks for its recent history, typically
// the last hundred.
const tailLen = 128

// add puts an entry in order. Messages become durable almost always in
// index order, so this is an append; a rare late one is moved into place.
func (t *timeline) add(x entry) {
	n := t.n
	if n == 0 || t.at(n-1).id < x.id {
		t.push(x)
		return
	}
	i := sort.Search(n, func(i int) bool { return t.at(i).id >= x.id })
	if i < n && t.at(i).id == x.id {
		return
	}
	// Copy-on-write: the chunks from i's to the last get new arrays, so
	// that snapshots taken before still read what they saw.
	for k := i / timelineChunk; k < len(t.e); k++ {
		t.e[k] = append(make([]entry, 0, cap(t.e[k])), t.e[k]...)
	}
	t.push(*t.at(n - 1))
	for j := n - 1; j > i; j-- {
		*t.at(j) = *t.at(j - 1)
	}
	*t.at(i) = x
}

// span is a snapshot of a timeline's entries from one on: its chunks as
// they were, which later adds do not change (see timeline.e), so it can
// be copied out after the lock is released.
type span struct {
	skip   int // entries of chunks[0] before the first one
	chunks [][]entry
}

// snapshot returns the entries stored strictly after ns. Under the lock
// it costs a binary search and a copy of the chunk headers, whatever the
// number of entries.
func (t *timeline) snapshot(ns int64) span {
	return t.spanFrom(sort.Search(t.n, func(i int) bool { return t.at(i).ns > ns }))
}

// spanFrom is the snapshot of entries i and later.
func (t *timeline) spanFrom(i int) span {
	if i >= t.n {
		return span{}
	}
	return span{skip: i % timelineChunk, chunks: slices.Clone(t.e[i/timelineChunk:])}
}

// appendTo appends the span's entries to dst.
func (sp span) appendTo(dst []entry) []entry {
	for k, c := range sp.chunks {
		if k == 0 {
			c = c[sp.skip:]
		}
		dst = append(dst, c...)
	}
	return dst
}

// history is the index SYNC reads: per group, per user inbox (direct chat
// messages addressed to them), per user outbox (the direct messages they
// sent) and per number (SMS stored for a locally owned number). It holds
// 24 bytes per message (48 for a direct message, in two timelines) and
// never the text, which stays in the store; a SYNC costs a binary search
// and one record read per message returned, whatever the size of the
// store.
type history struct {
	mu      sync.RWMutex
	groups  map[string]*timeline
	inbox   map[string]*timeline
	numbers map[string]*timeline
	// outbox is what a conversation SYNC reads for the asker's own side:
	// reading the other user's inbox instead would make one cheap SYNC
	// cost as much as that user's whole inbox. Its timelines keep no
	// cached tail (the inbox's do, for the same messages).
	outbox map[string]*timeline
	// parts lists every part of a concatenated SMS by its first part's id.
	parts map[uint64][]uint64
	count int
	// cache holds the messages of the timelines' tails by id, so that a
	// SYNC of recent history reads no record, whether or not the store
	// file is in the page cache. At most cacheMax; 0 turns it off.
	cache    map[uint64]*Message
	cacheMax int
	// cacheText is the text the cache holds, in bytes; it may reach
	// cacheMax × avgCachedText, so that long texts cannot make the bound
	// on messages a bound of gigabytes.
	cacheText int
}

// avgCachedText is the text per cached message the cache's byte bound
// allows on average.
const avgCachedText = 256

func (h *history) init() {
	h.groups = map[string]*timeline{}
	h.inbox = map[string]*timeline{}
	h.outbox = map[string]*timeline{}
	h.numbers = map[string]*timeline{}
	h.parts = map[uint64][]uint64{}
	h.cache = map[uint64]*Message{}
}

// addChat indexes a chat message from from and keeps m in the target's
// tail.
func (h *history) addChat(from, to string, group bool, id uint64, ns int64, m *Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.addChatLocked([]byte(from), []byte(to), group, id, ns)
	t.used.Store(ns)
	h.cacheLocked(t, m)
}

// addChatLocked is addChat with h.mu held and the name as bytes, so that
// the startup pass allocates only for a target it has not seen yet.
func (h *history) addChatLocked(from, to []byte, group bool, id uint64, ns int64) *timeline {
	m := h.inbox
	if group {
		m = h.groups
	} else {
		timelineOf(h.outbox, from).add(entry{id: id, ns: ns})
	}
	t := timelineOf(m, to)
	t.add(entry{id: id, ns: ns})
	h.count++
	return t
}

// timelineOf returns name's timeline in m, made if it has none.
func timelineOf(m map[string]*timeline, name []byte) *timeline {
	t := m[string(name)]
	if t == nil {
		t = &timeline{}
		m[string(name)] = t
	}
	return t
}

// outboxAfter returns the direct messages user sent after ns.
func (h *history) outboxAfter(user string, ns int64) []entry { return h.after(h.outbox, user, ns) }

// addSMS indexes an SMS for a number; ids are its parts in order. m, if
// not nil, is kept in the number's tail.
func (h *history) addSMS(e164 string, ids []uint64, ns int64, m *Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(ids) > 1 {
		h.parts[ids[0]] = ids
	}
	t := h.numbers[e164]
	if t == nil {
		t = &timeline{}
		h.numbers[e164] = t
	}
	t.add(entry{id: ids[0], ns: ns, sms: true})
	h.count++
	if m != nil {
		t.used.Store(ns)
		h.cacheLocked(t, m)
	}
}

// cacheLocked keeps m in t's tail, dropping the tail's oldest beyond
// tailLen, and the least recently used tails beyond cacheMax.
func (h *history) cacheLocked(t *timeline, m *Message) {
	if h.cacheMax <= 0 || m == nil {
		return
	}
	n := len(t.tail)
	i := n
	if n > 0 && t.tail[n-1].ID > m.ID {
		i = sort.Search(n, func(i int) bool { return t.tail[i].ID >= m.ID })
		if i < n && t.tail[i].ID == m.ID {
			return
		}
		if i == 0 && n >= tailLen {
			return // older than everything the tail keeps
		}
	}
	t.tail = slices.Insert(t.tail, i, m)
	h.cache[m.ID] = m
	h.cacheText += len(m.Text)
	if len(t.tail) > tailLen {
		h.uncacheLocked(t.tail[0])
		t.tail[0] = nil
		t.tail = append(t.tail[:0], t.tail[1:]...)
	}
	if h.overLocked(1) {
		h.evictLocked()
	}
}

func (h *history) uncacheLocked(m *Message) {
	delete(h.cache, m.ID)
	h.cacheText -= len(m.Text)
}

// overLocked reports whether the cache exceeds frac of its bounds.
func (h *history) overLocked(frac float64) bool {
	return float64(len(h.cache)) > frac*float64(h.cacheMax) ||
		float64(h.cacheText) > frac*float64(h.cacheMax*avgCachedText)
}

// evictLocked drops whole tails, least recently used first, until the
// cache is at nine tenths of its bound: evicting in bulk makes the sort
// over every timeline rare.
func (h *history) evictLocked() {
	var ts []*timeline
	for _, m := range []map[string]*timeline{h.groups, h.inbox, h.numbers} {
		for _, t := range m {
			if len(t.tail) > 0 {
				ts = append(ts, t)
			}
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].used.Load() < ts[j].used.Load() })
	for _, t := range ts {
		if !h.overLocked(0.9) {
			return
		}
		for _, m := range t.tail {
			h.uncacheLocked(m)
		}
		t.tail = nil
	}
}

// cached returns the cached message of each entry, nil where there is
// none.
func (h *history) cached(list []entry) []*Message {
	out := make([]*Message, len(list))
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.cache) == 0 {
		return out
	}
	for i, e := range list {
		out[i] = h.cache[e.id]
	}
	return out
}

// groupAfter returns a group's entries after ns.
func (h *history) groupAfter(group string, ns int64) []entry { return h.after(h.groups, group, ns) }

// after returns the entries after ns of name's timeline in m, one of h's
// maps (which are made once, so reading the field needs no lock).
func (h *history) after(m map[string]*timeline, name string, ns int64) []entry {
	h.mu.RLock()
	var sp span
	if t := m[name]; t != nil {
		sp = t.snapshot(ns)
	}
	h.mu.RUnlock()
	// Copied without the lock: a SYNC of a long history must not hold
	// up the store's callback, which indexes every SM stored (SMSStored).
	return sp.appendTo(nil)
}

// fillTails puts the last messages of the most recently used timelines
// in the cache, up to its bound, loading them with load. It runs once at
// startup, after the index is built, when the store file has just been
// read through and its tail is in the page cache.
func (h *history) fillTails(load func(entry) (*Message, error)) int {
	if h.cacheMax <= 0 {
		return 0
	}
	type tl struct {
		t    *timeline
		last uint64
	}
	var ts []tl
	h.mu.Lock()
	for _, m := range []map[string]*timeline{h.groups, h.inbox, h.numbers} {
		for _, t := range m {
			if n := t.n; n > 0 {
				t.used.Store(t.at(n - 1).ns)
				ts = append(ts, tl{t, t.at(n - 1).id})
			}
		}
	}
	h.mu.Unlock()
	// The timelines with the newest messages first.
	sort.Slice(ts, func(i, j int) bool { return ts[i].last > ts[j].last })
	loaded := 0
	for _, x := range ts {
		if loaded >= h.cacheMax {
			break
		}
		h.mu.RLock()
		sp := x.t.spanFrom(max(0, x.t.n-min(tailLen, h.cacheMax-loaded)))
		h.mu.RUnlock()
		e := sp.appendTo(nil)
		msgs := make([]*Message, 0, len(e))
		for _, en := range e {
			if m, err := load(en); err == nil {
				msgs = append(msgs, m)
			}
		}
		h.mu.Lock()
		for _, m := range msgs {
			h.cacheLocked(x.t, m)
		}
		h.mu.Unlock()
		loaded += len(msgs)
	}
	return loaded
}

// inboxAfter returns a user's direct messages and the SMS to their
// number after ns, merged in store order.
func (h *history) inboxAfter(user, number string, ns int64) []entry {
	h.mu.RLock()
	var a, b span
	if t := h.inbox[user]; t != nil {
		a = t.snapshot(ns)
	}
	if number != "" {
		if t := h.numbers[number]; t != nil {
			b = t.snapshot(ns)
		}
	}
	h.mu.RUnlock()
	return merge(a.appendTo(nil), b.appendTo(nil))
}

// smsParts returns the part ids of the SMS whose first part is id.
func (h *history) smsParts(id uint64) []uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if p := h.parts[id]; p != nil {
		return p
	}
	return []uint64{id}
}

// merge merges two entry lists sorted by id.
func merge(a, b []entry) []entry {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]entry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].id < b[0].id {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// Stats reports the index's size.
func (h *history) stats() (messages, groups, inboxes int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count, len(h.groups), len(h.inbox) + len(h.numbers)
}
