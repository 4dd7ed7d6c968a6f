package core

import (
	"context"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// SMInfo is what Lookup tells about one SM: enough for a front-end to
// check that the asker owns it (SMPP query_sm and cancel_sm) and to report
// its state, never its text.
type SMInfo struct {
	Index       uint64
	Active      bool
	Entry       time.Time
	Expiry      time.Time
	SrcClass    pms.Class
	SrcPeer     string
	Src, Dst    pms.Address
	Disposition pms.Disposition // pms.Active while active
	Discharged  time.Time
	Reason      uint8
	Attempts    uint8
}

// Lookup returns an SM's state by absolute index: from RAM while it is
// active, else from its record in the store. An index the store has never
// assigned is NOT_FOUND.
func (c *Core) Lookup(ctx context.Context, index uint64) (SMInfo, error) {
	c.mu.Lock()
	if s := c.sms[index]; s != nil {
		info := SMInfo{
			Index: index, Active: true, Entry: s.entry, Expiry: s.expiry,
			SrcClass: s.srcClass, SrcPeer: s.srcPeer, Src: s.src, Dst: s.dst,
			Disposition: pms.Active, Reason: s.state.Reason, Attempts: s.state.Attempts,
		}
		c.mu.Unlock()
		return info, nil
	}
	c.mu.Unlock()
	var r pms.Record
	if err := c.store.Read(index, &r); err != nil {
		return SMInfo{}, reject(coresock.StatusNotFound, "")
	}
	if r.Kind != pms.KindSM {
		return SMInfo{}, reject(coresock.StatusNotFound, "not a short message")
	}
	return SMInfo{
		Index: index, Active: r.State.Disposition == pms.Active, Entry: r.Entry, Expiry: r.Expiry(),
		SrcClass: r.SrcClass, SrcPeer: r.SrcPeer, Src: r.Src, Dst: r.Dst,
		Disposition: r.State.Disposition, Discharged: r.State.Discharged,
		Reason: r.State.Reason, Attempts: r.State.Attempts,
	}, nil
}
