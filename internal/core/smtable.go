package core

// smTable lists the active SMs by record index. The store numbers its
// records one after another and new SMs are the newest records, so most of
// the active SMs sit in runs of nearby indexes: the table keeps them in
// pages of pageSize slots, one page per run, found through a small map of
// pages that stays in cache (a map of every SM by index costs a cache miss
// per insert once it holds a few hundred thousand). SMs left alone in old
// pages, where a page would cost more memory than it saves, live in a
// plain map instead (overflow), as do ephemeral SMs, whose indexes are far
// from the store's.
//
// Invariant: an index whose page exists is in that page; an index whose
// page does not exist is in overflow. A page is only made at or above top,
// the highest page number made so far, and a page leaves for overflow only
// below top, so no page is ever made again for SMs already in overflow.
// Every page below top holds at least minDense SMs, which bounds the
// table's memory to about pageSize*8/minDense bytes per SM.
//
// It is guarded by Core.mu like the rest of the core's lists.
type smTable struct {
	pages    map[uint64]*smPage
	top      uint64
	overflow map[uint64]*sm
	n        int
}

const (
	pageShift = 8
	pageSize  = 1 << pageShift
	minDense  = pageSize / 16
)

type smPage struct {
	slot [pageSize]*sm
	n    int
}

func newSMTable() smTable {
	return smTable{pages: map[uint64]*smPage{}, overflow: map[uint64]*sm{}}
}

// len is the number of SMs listed.
func (t *smTable) len() int { return t.n }

// get returns the SM with index i, or nil.
func (t *smTable) get(i uint64) *sm {
	if i < ephemeralBase {
		if p := t.pages[i>>pageShift]; p != nil {
			return p.slot[i&(pageSize-1)]
		}
	}
	if len(t.overflow) == 0 {
		return nil
	}
	return t.overflow[i]
}

// put lists s under its index, replacing what was there.
func (t *smTable) put(s *sm) {
	i := s.index
	pn := i >> pageShift
	if i < ephemeralBase {
		p := t.pages[pn]
		if p == nil && pn >= t.top {
			p = t.newPage(pn)
		}
		if p != nil {
			if p.slot[i&(pageSize-1)] == nil {
				p.n++
				t.n++
			}
			p.slot[i&(pageSize-1)] = s
			return
		}
	}
	if _, ok := t.overflow[i]; !ok {
		t.n++
	}
	t.overflow[i] = s
}

// newPage makes the page numbered pn, the new top; the page that was top
// until now goes to overflow if it is sparse.
func (t *smTable) newPage(pn uint64) *smPage {
	if old := t.pages[t.top]; old != nil && t.top < pn && old.n < minDense {
		t.spill(t.top, old)
	}
	p := new(smPage)
	t.pages[pn] = p
	t.top = pn
	return p
}

// spill moves the SMs of page pn, which is below top, into overflow.
func (t *smTable) spill(pn uint64, p *smPage) {
	for _, s := range p.slot {
		if s != nil {
			t.overflow[s.index] = s
		}
	}
	delete(t.pages, pn)
}

// del unlists index i.
func (t *smTable) del(i uint64) {
	pn := i >> pageShift
	if i < ephemeralBase {
		if p := t.pages[pn]; p != nil {
			if p.slot[i&(pageSize-1)] == nil {
				return
			}
			p.slot[i&(pageSize-1)] = nil
			p.n--
			t.n--
			switch {
			case p.n == 0:
				delete(t.pages, pn)
			case p.n < minDense && pn < t.top:
				t.spill(pn, p)
			}
			return
		}
	}
	if _, ok := t.overflow[i]; ok {
		delete(t.overflow, i)
		t.n--
	}
}

// each calls f for every SM listed, in no particular order. f must not
// change the table.
func (t *smTable) each(f func(*sm)) {
	for _, p := range t.pages {
		for _, s := range p.slot {
			if s != nil {
				f(s)
			}
		}
	}
	for _, s := range t.overflow {
		f(s)
	}
}
