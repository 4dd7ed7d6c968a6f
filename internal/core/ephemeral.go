package core

import (
	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// Ephemeral SMs (docs/core.md "Ephemeral SMs"). The restaurant pager's
// "table ready" SMS must leave through the uplink like any other SM, but
// its destination number must never reach the disk. An ephemeral SM is
// admitted and routed like any other, then kept in RAM only: its encoded
// record lives in the sm (eph) instead of the store, its state changes
// stay in RAM, and its discharge is reported to the submitter's callback
// instead of being written. It is not deduplicated (the pager has its own
// replay window), asks for no status report (a report would be stored),
// and goes to a peer only (the GSM MT path reads its records back from the
// store). Its index is taken from a range the store never reaches, so
// Lookup and Cancel work on it while it is active and answer NOT_FOUND
// after. Close and a restart forget it: that is the privacy promise.

// ephemeralBase is the first ephemeral index; the store's indices are
// far below it.
const ephemeralBase = 1 << 63

// SubmitEphemeral admits rec as an ephemeral SM and returns its index.
// done, if not nil, is called once with its disposition when it is
// discharged (delivered, failed, expired or cancelled); it must not
// block. An SM still active when the core closes is dropped without a
// call.
func (c *Core) SubmitEphemeral(rec *pms.Record, done func(pms.Disposition)) (uint64, error) {
	c.m.submits.Inc()
	idx, err := c.submitEphemeral(rec, done)
	if err != nil {
		c.m.rejected.Inc(statusLabel(err.Status))
		return 0, err
	}
	return idx, nil
}

func (c *Core) submitEphemeral(rec *pms.Record, done func(pms.Disposition)) (uint64, *Error) {
	if rerr := c.admit(rec, false); rerr != nil {
		return 0, rerr
	}
	if rec.DstClass != pms.ClassUpstream && rec.DstClass != pms.ClassDownstream {
		return 0, reject(coresock.StatusUnroutable, "an ephemeral SM is delivered to a peer only")
	}
	rec.State.SRR, rec.State.SRRFailureOnly = false, false
	raw := new([pms.RecordSize]byte)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, reject(coresock.StatusShuttingDown, "")
	}
	c.ephemeralNext++
	rec.Index = ephemeralBase + c.ephemeralNext
	rec.Entry = c.now()
	if err := pms.Encode(raw[:], rec); err != nil {
		c.mu.Unlock()
		return 0, reject(coresock.StatusMalformed, err.Error())
	}
	s := c.newSM(rec, &dedupKey{})
	s.eph, s.onDone = raw, done
	c.insertLocked(s, false)
	wake := c.wakeLocked(s)
	c.mu.Unlock()
	c.m.acceptedFor(rec.DstClass).Inc()
	c.m.ephemeral.Inc()
	if wake {
		c.poke()
	}
	return rec.Index, nil
}
