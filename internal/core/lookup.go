package core

import (
	"context"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// SMInfo is what Lookup tells about one SM: enough for a front-end to
// check that the asker owns it (SMPP query_sm, cancel_sm, replace_sm) and
// to report its state, never its text.
type SMInfo struct {
	// Index is the id the SM's sender holds: the index it was first
	// stored at, however often it has been replaced since.
	Index uint64
	// Current is the index of the record that carries the SM now: Index
	// itself unless the SM was replaced.
	Current     uint64
	Active      bool
	Entry       time.Time
	Expiry      time.Time
	SrcClass    pms.Class
	SrcPeer     string
	Src, Dst    pms.Address
	DCS, ESM    uint8           // the SM's TP-DCS and ESM class (UDHI), which a replacement keeps
	Disposition pms.Disposition // pms.Active while active
	Discharged  time.Time
	Reason      uint8
	Attempts    uint8
}

// maxReplaceHops bounds the walk along a replaced SM's records on disk, so
// that a damaged chain cannot make a lookup loop.
const maxReplaceHops = 4096

// Lookup returns an SM's state by absolute index: from RAM while it is
// active, else from its record in the store. An SM that was replaced is
// followed to the record that carries it now, so the id its sender holds
// keeps answering. An index the store has never assigned is NOT_FOUND.
func (c *Core) Lookup(ctx context.Context, index uint64) (SMInfo, error) {
	idx := index
	for hops := 0; ; hops++ {
		c.mu.Lock()
		if cur, ok := c.alias[idx]; ok {
			idx = cur
		}
		if s := c.sms.get(idx); s != nil {
			info := SMInfo{
				Index: s.root, Current: s.index, Active: true, Entry: s.entry, Expiry: s.expiry,
				SrcClass: s.srcClass, SrcPeer: s.srcPeer, Src: s.src, Dst: s.dst, DCS: s.dcs, ESM: s.esm,
				Disposition: pms.Active, Reason: s.state.Reason, Attempts: s.state.Attempts,
			}
			c.mu.Unlock()
			return info, nil
		}
		c.mu.Unlock()
		var r pms.Record
		if err := c.store.Read(idx, &r); err != nil {
			return SMInfo{}, reject(coresock.StatusNotFound, "")
		}
		if r.Kind != pms.KindSM {
			return SMInfo{}, reject(coresock.StatusNotFound, "not a short message")
		}
		if r.State.Disposition == pms.Replaced && hops < maxReplaceHops {
			idx = r.State.ReplacedBy
			continue
		}
		root := r.Index
		if r.Replacement {
			root = r.Replaces
		}
		return SMInfo{
			Index: root, Current: r.Index, Active: r.State.Disposition == pms.Active, Entry: r.Entry, Expiry: r.Expiry(),
			SrcClass: r.SrcClass, SrcPeer: r.SrcPeer, Src: r.Src, Dst: r.Dst, DCS: r.DCS, ESM: r.ESM,
			Disposition: r.State.Disposition, Discharged: r.State.Discharged,
			Reason: r.State.Reason, Attempts: r.State.Attempts,
		}, nil
	}
}
