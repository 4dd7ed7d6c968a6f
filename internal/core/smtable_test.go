package core

import (
	"math/rand/v2"
	"testing"
)

// checkTable compares t with the model m and checks the table's own
// invariants: a page exists only with SMs in it, every page below top is
// dense, and no index is both in a page and in overflow.
func checkTable(tb testing.TB, t *smTable, m map[uint64]*sm) {
	tb.Helper()
	if t.len() != len(m) {
		tb.Fatalf("len %d, model %d", t.len(), len(m))
	}
	for i, s := range m {
		if got := t.get(i); got != s {
			tb.Fatalf("get(%d) = %p, want %p", i, got, s)
		}
	}
	seen := 0
	t.each(func(s *sm) {
		seen++
		if m[s.index] != s {
			tb.Fatalf("each gave %d, not in the model", s.index)
		}
	})
	if seen != len(m) {
		tb.Fatalf("each gave %d SMs, model has %d", seen, len(m))
	}
	for pn, p := range t.pages {
		n := 0
		for _, s := range p.slot {
			if s != nil {
				n++
				if _, ok := t.overflow[s.index]; ok {
					tb.Fatalf("index %d both in page %d and in overflow", s.index, pn)
				}
			}
		}
		if n != p.n || n == 0 {
			tb.Fatalf("page %d counts %d, holds %d", pn, p.n, n)
		}
		if pn < t.top && n < minDense {
			tb.Fatalf("page %d below top %d holds only %d", pn, t.top, n)
		}
	}
}

func TestSMTableModel(t *testing.T) {
	for _, c := range []struct {
		name   string
		span   uint64 // indexes spread over base..base+span
		delPct int
	}{
		{"dense", 4 * pageSize, 30},
		{"sparse", 200 * pageSize, 50},
		{"draining", 20 * pageSize, 70},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(c.delPct)))
			tab := newSMTable()
			m := map[uint64]*sm{}
			var base uint64 = 1000
			for step := range 20000 {
				var i uint64
				switch r.IntN(10) {
				case 0:
					// Out of order: an index somewhat below the newest.
					i = base + r.Uint64N(c.span)
				case 1:
					i = ephemeralBase + r.Uint64N(50)
				default:
					// Mostly the newest records, as the store hands them out.
					base += r.Uint64N(4)
					i = base + c.span
				}
				if r.IntN(100) < c.delPct && len(m) > 0 {
					// Delete a listed SM, or now and then an index that
					// may not be listed.
					if r.IntN(4) != 0 {
						for k := range m {
							i = k
							break
						}
					}
					tab.del(i)
					delete(m, i)
				} else {
					s := &sm{index: i}
					tab.put(s)
					m[i] = s
				}
				if step%997 == 0 {
					checkTable(t, &tab, m)
				}
			}
			checkTable(t, &tab, m)
			for k := range m {
				tab.del(k)
				delete(m, k)
			}
			checkTable(t, &tab, m)
			if len(tab.pages) != 0 || len(tab.overflow) != 0 {
				t.Fatalf("empty table keeps %d pages, %d overflow entries", len(tab.pages), len(tab.overflow))
			}
		})
	}
}

// TestSMTableSparseSpills: SMs left few to a page below the newest move to
// overflow and free their page.
func TestSMTableSparseSpills(t *testing.T) {
	tab := newSMTable()
	m := map[uint64]*sm{}
	// Two SMs per page over 100 pages, as when most records in between
	// are delivered SMs or chat messages.
	for pn := range uint64(100) {
		for _, off := range []uint64{3, 200} {
			s := &sm{index: pn<<pageShift | off}
			tab.put(s)
			m[s.index] = s
		}
	}
	checkTable(t, &tab, m)
	if len(tab.pages) != 1 {
		t.Fatalf("%d pages for 2 SMs each; want only the top one", len(tab.pages))
	}
	if len(tab.overflow) != 198 {
		t.Fatalf("overflow holds %d, want 198", len(tab.overflow))
	}
	// Deleting from a full page below top spills it once it is sparse.
	tab2 := newSMTable()
	m2 := map[uint64]*sm{}
	for i := range uint64(2 * pageSize) {
		s := &sm{index: i}
		tab2.put(s)
		m2[i] = s
	}
	for i := range uint64(pageSize - minDense + 1) {
		tab2.del(i)
		delete(m2, i)
	}
	checkTable(t, &tab2, m2)
	if tab2.pages[0] != nil {
		t.Fatal("page 0 stays with fewer than minDense SMs below top")
	}
}

func FuzzSMTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x81, 0x82, 4, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tab := newSMTable()
		m := map[uint64]*sm{}
		var base uint64
		for _, op := range ops {
			i := base + uint64(op&0x3f)*37
			switch {
			case op&0xc0 == 0xc0:
				base += pageSize
			case op&0x80 != 0:
				tab.del(i)
				delete(m, i)
			default:
				s := &sm{index: i}
				tab.put(s)
				m[i] = s
			}
		}
		checkTable(t, &tab, m)
	})
}
