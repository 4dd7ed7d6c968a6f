package chat

import (
	"sort"
	"sync"
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
	e []entry
}

// add puts an entry in order. Messages become durable almost always in
// index order, so this is an append; a rare late one is moved into place.
func (t *timeline) add(x entry) {
	n := len(t.e)
	if n == 0 || t.e[n-1].id < x.id {
		t.e = append(t.e, x)
		return
	}
	i := sort.Search(n, func(i int) bool { return t.e[i].id >= x.id })
	if i < n && t.e[i].id == x.id {
		return
	}
	t.e = append(t.e, entry{})
	copy(t.e[i+1:], t.e[i:])
	t.e[i] = x
}

// after returns the entries stored strictly after ns (a copy, so the
// caller may read records without holding the lock).
func (t *timeline) after(ns int64, dst []entry) []entry {
	i := sort.Search(len(t.e), func(i int) bool { return t.e[i].ns > ns })
	return append(dst, t.e[i:]...)
}

// history is the index SYNC reads: per group, per user inbox (direct chat
// messages addressed to them) and per number (SMS stored for a locally
// owned number). It holds 24 bytes per message and never the text, which
// stays in the store; a SYNC costs a binary search and one record read per
// message returned, whatever the size of the store.
type history struct {
	mu      sync.RWMutex
	groups  map[string]*timeline
	inbox   map[string]*timeline
	numbers map[string]*timeline
	// parts lists every part of a concatenated SMS by its first part's id.
	parts map[uint64][]uint64
	count int
}

func (h *history) init() {
	h.groups = map[string]*timeline{}
	h.inbox = map[string]*timeline{}
	h.numbers = map[string]*timeline{}
	h.parts = map[uint64][]uint64{}
}

// addChat indexes a chat message.
func (h *history) addChat(to string, group bool, id uint64, ns int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addChatLocked([]byte(to), group, id, ns)
}

// addChatLocked is addChat with h.mu held and the name as bytes, so that
// the startup pass allocates only for a target it has not seen yet.
func (h *history) addChatLocked(to []byte, group bool, id uint64, ns int64) {
	m := h.inbox
	if group {
		m = h.groups
	}
	t := m[string(to)]
	if t == nil {
		t = &timeline{}
		m[string(to)] = t
	}
	t.add(entry{id: id, ns: ns})
	h.count++
}

// addSMS indexes an SMS for a number; ids are its parts in order.
func (h *history) addSMS(e164 string, ids []uint64, ns int64) {
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
}

// groupAfter returns a group's entries after ns.
func (h *history) groupAfter(group string, ns int64) []entry {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if t := h.groups[group]; t != nil {
		return t.after(ns, nil)
	}
	return nil
}

// inboxAfter returns a user's direct messages and the SMS to their
// number after ns, merged in store order.
func (h *history) inboxAfter(user, number string, ns int64) []entry {
	h.mu.RLock()
	var a, b []entry
	if t := h.inbox[user]; t != nil {
		a = t.after(ns, nil)
	}
	if number != "" {
		if t := h.numbers[number]; t != nil {
			b = t.after(ns, nil)
		}
	}
	h.mu.RUnlock()
	return merge(a, b)
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
