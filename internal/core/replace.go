package core

import (
	"context"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// Replacement (SMPP replace_sm, §4.10). A stored record is immutable but
// for its state trailer, so a new text is a new record: the replacement,
// a copy of the SM's record with the new user data, validity and report
// request, flagged as a replacement of the SM's root (the index its sender
// was given). The old record is then discharged as replaced, with the
// replacement's index in its trailer. The root's id keeps naming the SM:
// while it is active through the alias map (root to current record), and
// afterwards on disk, by following each replaced record to its successor.
//
// Durability. The replacement is appended first and is durable before the
// old record's trailer is written. A crash between the two leaves both
// active; at startup the replacement supersedes every earlier active
// record of the same root (supersedeLocked), so the SM is never delivered
// twice, and a replacement that was never acknowledged (a torn tail) was
// never answered either, so the old text stands.
//
// Atomicity against the queues. Only an SM in the core's own custody can
// be replaced; it is taken off its queue (held) under the lock before the
// writes, so no handler can be given it meanwhile, and the replacement is
// queued in the same critical section that retires the old record.

// ReplaceChange is what a replacement changes in an SM. Everything else
// (addresses, origin, route, PID, DCS, ESM class, TP-MR) stays, so the
// user data must be in the SM's own coding (SMInfo.DCS and ESM).
type ReplaceChange struct {
	UDL uint8
	UD  []byte
	// Validity is the new validity period, counted from now and capped at
	// max_validity; 0 keeps the SM's expiry.
	Validity time.Duration
	// SRR and SRRFailureOnly replace the SM's status-report request.
	SRR, SRRFailureOnly bool
}

// Replace gives the active SM that index names (the id its sender holds,
// or any record of it) new content, and returns the index of the record
// that carries it from now on. An index never assigned is NOT_FOUND; an
// SM already final is NOT_ACTIVE; one in a handler's hands, or being
// replaced or resolved right now, is TOO_BUSY; user data that disagrees
// with its length is BAD_LENGTH; status reports and parts of concatenated
// messages cannot be replaced (MALFORMED).
func (c *Core) Replace(ctx context.Context, index uint64, change ReplaceChange) (uint64, error) {
	// Read and check the record before anything is held: its body is
	// immutable, and the only failures left after the hold are the
	// store's own.
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, reject(coresock.StatusShuttingDown, "")
	}
	s, rerr := c.findLocked(Selector{ByIndex: true, Index: index})
	c.mu.Unlock()
	if rerr != nil {
		return 0, rerr
	}
	var rec pms.Record
	if err := c.store.Read(s.index, &rec); err != nil {
		return 0, reject(coresock.StatusStoreFailed, err.Error())
	}
	switch {
	case rec.Kind != pms.KindSM || rec.StatusReport:
		return 0, reject(coresock.StatusMalformed, "only a submitted SM can be replaced")
	case rec.ConcatTotal != 0:
		return 0, reject(coresock.StatusMalformed, "a part of a concatenated message cannot be replaced")
	case s.root > pms.MaxReplaces:
		return 0, reject(coresock.StatusMalformed, "index too large to be replaced")
	}
	rec.Index, rec.Entry = 0, time.Time{}
	rec.Replacement, rec.Replaces = true, s.root
	rec.UDL, rec.UD = change.UDL, change.UD
	if rerr := checkContent(&c.cfg, &rec); rerr != nil {
		return 0, rerr
	}

	c.mu.Lock()
	if c.sms.get(s.index) != s {
		// Discharged or replaced since it was found.
		c.mu.Unlock()
		return 0, reject(coresock.StatusTooBusy, "changed meanwhile; try again")
	}
	switch {
	case s.lost:
		c.mu.Unlock()
		return 0, reject(coresock.StatusTooBusy, "its route was lost; it waits to expire")
	case s.loc != locPeerQueue && s.loc != locIMSIWait && s.loc != locGSMQueue && s.loc != locRetry:
		// In a handler's hands, or in another transition: the outcome is
		// not ours to change.
		c.mu.Unlock()
		return 0, reject(coresock.StatusTooBusy, "being delivered right now")
	}
	now := c.now()
	switch {
	case change.Validity > 0:
		rec.Validity = uint32(max(min(change.Validity, c.cfg.MaxVP)/time.Second, 1))
	case s.expiry.IsZero():
		rec.Validity = 0
	case !now.Before(s.expiry):
		c.mu.Unlock()
		return 0, reject(coresock.StatusNotActive, "its validity has ended")
	default:
		// The same expiry, counted from the replacement's entry, which is
		// about now (rounded up, so it never expires sooner).
		rec.Validity = uint32((s.expiry.Sub(now) + time.Second - 1) / time.Second)
	}
	// The destination stays: the peer, or the IMSI already looked up.
	rec.State = pms.State{
		SRR: change.SRR, SRRFailureOnly: change.SRR && change.SRRFailureOnly,
		IMSI: s.state.IMSI, DstPeer: s.state.DstPeer,
	}
	var scratch [pms.RecordSize]byte
	if err := pms.Encode(scratch[:], &rec); err != nil {
		c.mu.Unlock()
		return 0, reject(coresock.StatusMalformed, err.Error())
	}
	prev := c.holdLocked(s)
	c.mu.Unlock()

	if err := c.store.Append(context.WithoutCancel(ctx), &rec); err != nil {
		c.mu.Lock()
		c.unholdLocked(s, prev)
		c.mu.Unlock()
		c.poke()
		return 0, reject(coresock.StatusStoreFailed, err.Error())
	}
	c.markReplaced(ctx, s, rec.Index)

	c.mu.Lock()
	c.detachLocked(s)
	ns := c.newSM(&rec, &dedupKey{})
	c.insertLocked(ns, false)
	wake := c.wakeLocked(ns)
	c.mu.Unlock()
	if wake {
		c.poke()
	}
	return rec.Index, nil
}

// holdLocked takes an SM in the core's custody off its queue, leaving it
// listed (so that cancel and replace of it answer TOO_BUSY), and returns
// where it was. Entries left in the FIFOs are skipped when popped, since
// its loc no longer matches.
func (c *Core) holdLocked(s *sm) location {
	prev := s.loc
	if s.loc == locIMSIWait {
		l := c.imsiWait[s.msisdn]
		for i, x := range l {
			if x == s {
				c.imsiWait[s.msisdn] = append(l[:i], l[i+1:]...)
				break
			}
		}
	}
	c.expiries.remove(s)
	c.retries.remove(s)
	s.loc = locBusy
	return prev
}

// unholdLocked puts a held SM back where it was. A stale FIFO entry of it
// may still be queued beside the new one; whichever is popped first takes
// it, and the other is skipped, since dispatch changes loc under the lock.
func (c *Core) unholdLocked(s *sm, prev location) {
	if !c.backLocked(s) {
		return // expired meanwhile, and discharged as such
	}
	if prev == locRetry {
		s.loc = locRetry
		c.retries.add(s)
		return
	}
	c.enqueueLocked(s)
}

// markReplaced discharges a record whose SM a durable replacement carries
// on. A failed write is only logged: the store then refuses every later
// write too, and at the next start the replacement supersedes the record
// (supersedeLocked), so the outcome is the same.
func (c *Core) markReplaced(ctx context.Context, s *sm, by uint64) {
	err := c.writeState(ctx, s, func(st *pms.State) bool {
		*st = pms.State{Disposition: pms.Replaced, Discharged: c.now(), ReplacedBy: by,
			SRR: st.SRR, SRRFailureOnly: st.SRRFailureOnly, Attempts: st.Attempts, Reason: st.Reason}
		return true
	})
	if err != nil {
		c.log.Error("replaced SM not discharged; its replacement supersedes it at the next start",
			"index", s.index, "replaced_by", by, "error", err)
		return
	}
	c.m.discharged.Inc(pms.Replaced.String())
	if c.onDischarge != nil {
		c.onDischarge(s.index, pms.Replaced)
	}
}

// aliasLocked points the id a replaced SM's sender holds at the record
// that carries it.
func (c *Core) aliasLocked(s *sm) {
	if s.root != s.index {
		c.alias[s.root] = s.index
	}
}

// supersedeLocked runs at startup for each active record, in file order:
// a replacement overrides the records of its SM listed before it (the
// root, or an earlier replacement), which are still active only because a
// crash came between the replacement's append and their discharge. They
// are unlisted here and discharged once the store is there.
func (c *Core) supersedeLocked(s *sm) {
	if s.root == s.index {
		return
	}
	for _, idx := range [2]uint64{s.root, c.alias[s.root]} {
		old := c.sms.get(idx)
		if old == nil || old == s || old.index > s.index || (old.root != s.root) {
			continue
		}
		c.detachLocked(old)
		c.restore.superseded = append(c.restore.superseded, superseded{old: old, by: s.index})
	}
}

// dischargeSuperseded writes the discharge of the records supersedeLocked
// unlisted, once the store is open.
func (c *Core) dischargeSuperseded() {
	c.mu.Lock()
	list := c.restore.superseded
	c.restore.superseded = nil
	c.mu.Unlock()
	if len(list) == 0 {
		return
	}
	c.log.Warn("records of replaced SMs were still active after a restart; discharged as replaced", "count", len(list))
	c.goRun(func() {
		for _, x := range list {
			c.markReplaced(context.Background(), x.old, x.by)
		}
	})
}
