package pms

import "math/bits"

// activeSet tracks which absolute indexes are active, to find the oldest
// one cheaply. Indexes are added in increasing order and removed in any
// order, so a bitmap that starts at the oldest word still holding a set bit
// is compact: its size is the span from the oldest active record to the
// newest, one bit per record.
type activeSet struct {
	base  uint64 // index of bit 0 of words[0]; a multiple of 64
	words []uint64
	count int
}

func (a *activeSet) add(i uint64) {
	if a.count == 0 && len(a.words) == 0 {
		a.base = i &^ 63
	}
	w := int((i - a.base) / 64)
	for w >= len(a.words) {
		a.words = append(a.words, 0)
	}
	if a.words[w]&(1<<(i%64)) == 0 {
		a.words[w] |= 1 << (i % 64)
		a.count++
	}
}

func (a *activeSet) remove(i uint64) {
	if i < a.base {
		return
	}
	w := int((i - a.base) / 64)
	if w >= len(a.words) || a.words[w]&(1<<(i%64)) == 0 {
		return
	}
	a.words[w] &^= 1 << (i % 64)
	a.count--
	a.trim()
}

// trim drops empty words at the front so oldest stays O(1) amortised.
func (a *activeSet) trim() {
	k := 0
	for k < len(a.words) && a.words[k] == 0 {
		k++
	}
	if k == 0 {
		return
	}
	a.base += uint64(k) * 64
	a.words = a.words[k:]
	if len(a.words) == 0 {
		// Release the backing array; the next add starts afresh.
		a.words = nil
	}
}

func (a *activeSet) oldest() (uint64, bool) {
	for k, w := range a.words {
		if w != 0 {
			return a.base + uint64(k)*64 + uint64(bits.TrailingZeros64(w)), true
		}
	}
	return 0, false
}

func (a *activeSet) has(i uint64) bool {
	if i < a.base {
		return false
	}
	w := int((i - a.base) / 64)
	return w < len(a.words) && a.words[w]&(1<<(i%64)) != 0
}
