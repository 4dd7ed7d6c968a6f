package core

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// Register claims a role for a handler (§2.5.2.1). Peer names are "" for
// the upstream, else a downstream peer's name; the other roles take no name.
// A new registration starts with its service down.
func (c *Core) Register(h Handler, role Role, name string) (*Registration, error) {
	reg := &Registration{role: role, name: name, h: h}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, reject(coresock.StatusShuttingDown, "")
	}
	switch role {
	case RoleIMSILookup:
		if name != "" {
			return nil, reject(coresock.StatusBadRole, "this role takes no name")
		}
		if c.imsiReg != nil {
			return nil, reject(coresock.StatusRoleTaken, "")
		}
		c.imsiReg = reg
	case RoleGSMMT:
		if name != "" {
			return nil, reject(coresock.StatusBadRole, "this role takes no name")
		}
		if c.gsmReg != nil {
			return nil, reject(coresock.StatusRoleTaken, "")
		}
		c.gsmReg = reg
	case RolePeer:
		pq := c.peerQueueLocked(name)
		if pq.reg != nil {
			return nil, reject(coresock.StatusRoleTaken, "")
		}
		pq.reg = reg
	default:
		return nil, reject(coresock.StatusBadRole, "")
	}
	c.log.Info("role handler registered", "role", role.String(), "peer", name)
	return reg, nil
}

func (r Role) String() string {
	switch r {
	case RoleIMSILookup:
		return "imsi-lookup"
	case RoleGSMMT:
		return "gsm-mt"
	case RolePeer:
		return "peer"
	}
	return "unknown"
}

// SetServiceState declares a handler's service up or down (§2.5.2.2).
// Going down hands the GSM MT handler's custody back to the core.
func (c *Core) SetServiceState(reg *Registration, up bool) {
	c.mu.Lock()
	if reg.gone || reg.up == up {
		c.mu.Unlock()
		return
	}
	reg.up = up
	if !up {
		// Anything the handler answered before going down is void: an
		// exchange that started before this epoch grants no custody.
		reg.epoch++
		if reg.role == RoleGSMMT {
			c.retakeLocked()
		}
	}
	c.mu.Unlock()
	c.log.Info("role handler service state", "role", reg.role.String(), "peer", reg.name, "up", up)
	c.poke()
}

// Unregister drops a handler whose connection closed. The core retakes what
// it held (§2.5.4.1 b); requests still outstanding to it fail on their own
// and their SMs return to the queues.
func (c *Core) Unregister(reg *Registration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg.gone {
		return
	}
	reg.gone, reg.up = true, false
	reg.epoch++
	switch reg.role {
	case RoleIMSILookup:
		if c.imsiReg == reg {
			c.imsiReg = nil
		}
	case RoleGSMMT:
		if c.gsmReg == reg {
			c.gsmReg = nil
			c.retakeLocked()
		}
	case RolePeer:
		if pq := c.peers[reg.name]; pq != nil && pq.reg == reg {
			pq.reg = nil
			// An empty queue goes with its handler, so that handlers
			// registering ever new names do not grow the table that
			// every dispatch walks; SMs for the name make it again.
			if pq.q.len() == 0 && pq.inflight() == 0 && len(pq.barriers) == 0 {
				delete(c.peers, reg.name)
			}
		}
	}
	c.log.Info("role handler gone", "role", reg.role.String(), "peer", reg.name)
}

// retakeLocked moves every SM in the GSM handler's custody back to the
// core's queue, in index order at the front (§2.6.1.4).
func (c *Core) retakeLocked() {
	if len(c.gsmHeld) == 0 {
		return
	}
	held := make([]*sm, 0, len(c.gsmHeld))
	for _, s := range c.gsmHeld {
		held = append(held, s)
	}
	slices.SortFunc(held, func(a, b *sm) int { return cmp.Compare(a.index, b.index) })
	for i := len(held) - 1; i >= 0; i-- {
		s := held[i]
		delete(c.gsmHeld, s.index)
		s.heldBy = nil
		if c.backLocked(s) {
			s.loc = locGSMQueue
			c.gsmQ.pushFront(s)
		}
	}
	c.m.retaken.Add(float64(len(held)))
	c.log.Info("custody retaken from the GSM handler", "count", len(held))
}

// backLocked is called whenever an SM returns to the core's custody from a
// handler's hands (a failed exchange, a retake, a backoff). Its expiry was
// not tracked while it was away: it is tracked again, or, if its validity
// ran out meanwhile, it is discharged as expired and backLocked reports
// false.
func (c *Core) backLocked(s *sm) bool {
	if s.expiry.IsZero() {
		return true
	}
	if !c.now().Before(s.expiry) {
		c.detachLocked(s)
		c.goRun(func() { c.finish(context.Background(), s, pms.Expired, 0) })
		return false
	}
	c.expiries.add(s)
	return true
}

// MTDischarge is the GSM handler's report on an SM in its custody
// (§2.5.4.3).
func (c *Core) MTDischarge(ctx context.Context, reg *Registration, index uint64, disp pms.Disposition, reason uint8) error {
	s, err := c.takeDischarge(reg, index, disp)
	if err != nil {
		return err
	}
	return c.finish(ctx, s, disp, reason)
}

// takeDischarge is the part of MTDischarge that must happen in the order
// the handler's requests arrived (before a later service-down retakes
// custody): it detaches the SM, which the caller then finishes.
func (c *Core) takeDischarge(reg *Registration, index uint64, disp pms.Disposition) (*sm, error) {
	if disp < pms.Delivered || disp > pms.Cancelled {
		return nil, reject(coresock.StatusMalformed, "bad disposition")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg == nil || reg.role != RoleGSMMT || c.gsmReg != reg {
		return nil, reject(coresock.StatusNotRegistered, "")
	}
	// The handler's word is taken for an SM it holds, one whose transfer
	// answer the core has not processed yet, and one it took although the
	// core gave up waiting for its answer (then it is back in the queue).
	s := c.sms.get(index)
	if s == nil || (s.loc != locGSMCustody && s.loc != locGSMTransfer && s.loc != locGSMQueue) {
		return nil, reject(coresock.StatusNotFound, "not in the handler's custody")
	}
	c.detachLocked(s)
	return s, nil
}

// peerStart is a peer delivery that dispatch hands to an
// AsyncPeerDeliverer once it has let go of the lock.
type peerStart struct {
	ah    AsyncPeerDeliverer
	reg   *Registration
	epoch uint64
	pq    *peerQueue
	s     *sm
	rec   *[pms.RecordSize]byte
}

// dispatch starts every exchange the queues and windows allow. It runs on
// the dispatcher goroutine only, which owns c.starts.
func (c *Core) dispatch() {
	c.mu.Lock()
	starts := c.dispatchLocked(c.starts[:0])
	c.mu.Unlock()
	for i := range starts {
		c.startAsync(&starts[i])
		starts[i] = peerStart{}
	}
	c.starts = starts[:0]
}

// dispatchLocked starts the exchanges that run on core goroutines and
// returns, appended to starts, the peer deliveries to hand to an
// asynchronous handler (outside the lock: its callback takes it).
func (c *Core) dispatchLocked(starts []peerStart) []peerStart {
	if c.closing {
		return starts
	}
	for _, pq := range c.peers {
		reg := pq.reg
		if reg == nil || !reg.up {
			continue
		}
		ah, async := reg.h.(AsyncPeerDeliverer)
		for pq.inflight() < c.cfg.PeerWindow && pq.q.len() > 0 {
			s := pq.q.pop()
			if s.loc != locPeerQueue {
				continue
			}
			s.loc = locPeerFlight
			pq.startLocked(s)
			epoch := reg.epoch
			if async {
				// Only an SM whose record is in RAM: a pread would
				// hold up the dispatcher.
				if rec := c.heldRecordLocked(s); rec != nil {
					// Counted under the lock, so that Close, which
					// sets closing under it, either sees this start
					// in c.async or stops it here.
					c.async.Add(1)
					starts = append(starts, peerStart{ah, reg, epoch, pq, s, rec})
					continue
				}
			}
			c.goRun(func() { c.deliverToPeer(reg, epoch, pq, s) })
		}
	}
	if reg := c.imsiReg; reg != nil && reg.up {
		for c.imsiBusy < c.cfg.PeerWindow && c.imsiOrder.len() > 0 {
			msisdn := c.imsiOrder.pop()
			if len(c.imsiWait[msisdn]) == 0 {
				delete(c.imsiWait, msisdn)
				continue
			}
			c.imsiBusy++
			c.goRun(func() { c.findIMSI(reg, msisdn) })
		}
	}
	if reg := c.gsmReg; reg != nil && reg.up {
		for c.gsmFlight < c.cfg.TransferWindow && c.gsmQ.len() > 0 {
			s := c.gsmQ.pop()
			if s.loc != locGSMQueue {
				continue
			}
			s.loc = locGSMTransfer
			c.gsmFlight++
			epoch := reg.epoch
			c.goRun(func() { c.transfer(reg, epoch, s) })
		}
	}
	return starts
}

// startAsync hands one peer delivery to its asynchronous handler, or to a
// core goroutine that waits for it if the handler cannot start it now.
func (c *Core) startAsync(p *peerStart) {
	reg, epoch, pq, s, rec := p.reg, p.epoch, p.pq, p.s, p.rec
	// c.async counts this start already (dispatchLocked).
	if p.ah.TryDeliverToPeer(s.index, rec, func(id string, st Status, err error) {
		c.delivered(reg, epoch, pq, s, id, st, err, true)
		c.asyncDone()
	}) {
		return
	}
	c.asyncDone()
	c.goRun(func() { c.deliverRec(reg, epoch, pq, s, rec) })
}

func (c *Core) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.cfg.CallTimeout)
}

// deliverToPeer runs one SMSC_DELIVER_TO_PEER exchange (§2.5.5).
func (c *Core) deliverToPeer(reg *Registration, epoch uint64, pq *peerQueue, s *sm) {
	rec, err := c.recordOf(s)
	if err != nil {
		c.mu.Lock()
		pq.endLocked(s)
		c.retryLocked(s, coresock.StatusTemporaryFailure)
		c.mu.Unlock()
		return
	}
	c.deliverRec(reg, epoch, pq, s, rec)
}

// recordOf returns s's record for a handler: the one held in RAM
// (ephemeral, or kept from admission, which it takes), else read from the
// store. A failed read is logged; the caller retries the SM later.
func (c *Core) recordOf(s *sm) (*[pms.RecordSize]byte, error) {
	c.mu.Lock()
	held := c.heldRecordLocked(s)
	c.mu.Unlock()
	if held != nil {
		return held, nil
	}
	rec := new([pms.RecordSize]byte)
	if err := c.store.ReadRaw(s.index, rec); err != nil {
		c.log.Error("cannot read an active SM", "index", s.index, "error", err)
		return nil, err
	}
	return rec, nil
}

// deliverRec asks the handler to deliver rec, s's record, and waits for
// the answer.
func (c *Core) deliverRec(reg *Registration, epoch uint64, pq *peerQueue, s *sm, rec *[pms.RecordSize]byte) {
	ctx, cancel := c.callCtx()
	id, st, err := reg.h.DeliverToPeer(ctx, s.index, rec)
	cancel()
	c.delivered(reg, epoch, pq, s, id, st, err, false)
}

// delivered applies the outcome of a peer delivery. async: it runs on a
// goroutine that must not wait for the store (a handler's callback), so
// the state writes it causes are queued rather than waited for.
func (c *Core) delivered(reg *Registration, epoch uint64, pq *peerQueue, s *sm, id string, st Status, err error, async bool) {
	c.mu.Lock()
	pq.endLocked(s)
	switch {
	case err != nil && (errors.Is(err, ErrRequeue) || reg.gone || !reg.up || reg.epoch != epoch):
		// The handler went away, or its link asked to slow down: the
		// exchange failed, not the delivery. Back to the head of the
		// queue, no attempt counted.
		if c.backLocked(s) {
			s.loc = locPeerQueue
			pq.q.pushFront(s)
		}
		c.mu.Unlock()
		c.poke()
		return
	case err != nil:
		// A handler that is still there but did not answer in time:
		// back off rather than ask again at once.
		c.retryLocked(s, coresock.StatusTemporaryFailure)
		c.mu.Unlock()
		return
	case st == coresock.StatusOK && c.awaitReceiptLocked(s, id):
		c.mu.Unlock()
		if async {
			c.goRun(func() { c.recordAwaiting(s) })
		} else {
			c.recordAwaiting(s)
		}
	case st == coresock.StatusOK:
		c.detachLocked(s)
		if s.dstClass == pms.ClassUpstream && len(id) <= pms.MaxPeerName {
			s.state.PeerMsgID = id
		}
		s.state.Attempts = inc(s.state.Attempts)
		c.mu.Unlock()
		c.discharge(s, pms.Delivered, 0, async)
	case st == coresock.StatusPermanentFailure:
		c.detachLocked(s)
		s.state.Attempts = inc(s.state.Attempts)
		c.mu.Unlock()
		c.discharge(s, pms.Failed, uint8(st), async)
	default:
		c.retryLocked(s, st)
		c.mu.Unlock()
	}
	c.poke()
}

// discharge finishes a detached SM, waiting for the store unless async.
func (c *Core) discharge(s *sm, disp pms.Disposition, reason uint8, async bool) {
	if async {
		c.finishAsync(s, disp, reason)
		return
	}
	c.finish(context.Background(), s, disp, reason)
}

func inc(n uint8) uint8 {
	if n == 255 {
		return n
	}
	return n + 1
}

// retryLocked schedules another attempt after a temporary failure, or
// discharges the SM as expired if its validity has run out.
func (c *Core) retryLocked(s *sm, st Status) {
	s.state.Attempts = inc(s.state.Attempts)
	s.state.Reason = uint8(st)
	now := c.now()
	if !s.expiry.IsZero() && !now.Before(s.expiry) {
		c.detachLocked(s)
		c.goRun(func() { c.finish(context.Background(), s, pms.Expired, uint8(st)) })
		return
	}
	c.expiries.add(s)
	backoff := c.cfg.RetryMin << min(s.state.Attempts-1, 20)
	if backoff > c.cfg.RetryMax || backoff <= 0 {
		backoff = c.cfg.RetryMax
	}
	s.retryAt = now.Add(backoff)
	s.loc = locRetry
	c.retries.add(s)
	c.m.retries.Inc()
	c.poke()
}

// findIMSI runs one SMSC_MT_FIND_IMSI exchange (§2.5.3) for an MSISDN
// and everything queued under it (§2.6.1.2).
func (c *Core) findIMSI(reg *Registration, msisdn string) {
	ctx, cancel := c.callCtx()
	imsi, st, err := reg.h.FindIMSI(ctx, msisdn)
	cancel()
	c.mu.Lock()
	c.imsiBusy--
	waiting := c.imsiWait[msisdn]
	delete(c.imsiWait, msisdn)
	var ok []*sm
	for _, s := range waiting {
		if s.loc != locIMSIWait {
			continue
		}
		switch {
		case err != nil:
			// Ask again when the handler is back.
			c.waitIMSILocked(s)
		case st == coresock.StatusOK && validIMSI(imsi):
			s.loc = locBusy
			ok = append(ok, s)
		case st == coresock.StatusPermanentFailure:
			c.detachLocked(s)
			c.goRun(func() { c.finish(context.Background(), s, pms.Failed, uint8(st)) })
		default:
			c.retryLocked(s, st)
		}
	}
	if err == nil && st == coresock.StatusOK && validIMSI(imsi) {
		now := c.now()
		if len(c.imsiCache) >= 4096 && len(c.imsiCache)%4096 == 0 {
			// Sweep now and then, so numbers looked up once do not stay.
			for k, e := range c.imsiCache {
				if !now.Before(e.expires) {
					delete(c.imsiCache, k)
				}
			}
		}
		c.imsiCache[msisdn] = imsiEntry{imsi: imsi, expires: now.Add(c.cfg.IMSICacheTTL)}
	}
	c.mu.Unlock()
	if len(ok) > 0 {
		c.imsiResolved(msisdn, imsi, ok)
	}
	c.poke()
}

func validIMSI(s string) bool {
	if len(s) < 6 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// imsiResolved records the IMSI in each SM's state (§2.2: dest_imsi is
// filled on lookup) and moves them to the GSM MT queue. The SMs are in
// locBusy, owned by this goroutine.
func (c *Core) imsiResolved(msisdn, imsi string, sms []*sm) {
	for _, s := range sms {
		err := c.writeState(context.Background(), s, func(st *pms.State) bool {
			st.IMSI = imsi
			return true
		})
		// A lost write only costs a new lookup after a restart.
		if err != nil {
			c.log.Warn("IMSI not recorded", "index", s.index, "error", err)
		}
		c.mu.Lock()
		if s.loc == locBusy && c.sms.get(s.index) == s && c.backLocked(s) {
			s.loc = locGSMQueue
			c.gsmQ.push(s)
		}
		c.mu.Unlock()
	}
	c.poke()
}

// transfer runs one SMSC_MT_TRANSFER exchange (§2.5.4.1).
func (c *Core) transfer(reg *Registration, epoch uint64, s *sm) {
	rec, err := c.recordOf(s)
	if err != nil {
		c.mu.Lock()
		c.gsmFlight--
		c.retryLocked(s, coresock.StatusTemporaryFailure)
		c.mu.Unlock()
		return
	}
	ctx, cancel := c.callCtx()
	st, err := reg.h.TransferMT(ctx, s.index, rec)
	cancel()
	c.mu.Lock()
	c.gsmFlight--
	if s.loc != locGSMTransfer {
		// Discharged by the handler before its answer got here.
		c.mu.Unlock()
		c.poke()
		return
	}
	switch {
	case err != nil || (st == coresock.StatusOK && (c.gsmReg != reg || !reg.up || reg.epoch != epoch)):
		// Not transferred, or transferred to a handler that has gone down
		// since (and so dropped it): the core keeps custody.
		if c.backLocked(s) {
			s.loc = locGSMQueue
			c.gsmQ.pushFront(s)
		}
	case st == coresock.StatusOK:
		s.loc = locGSMCustody
		s.heldBy, s.heldEpoch = reg, epoch
		c.gsmHeld[s.index] = s
		c.expiries.remove(s) // expiry is the handler's business now
	case st == coresock.StatusPermanentFailure:
		c.detachLocked(s)
		c.goRun(func() { c.finish(context.Background(), s, pms.Failed, uint8(st)) })
	default:
		c.retryLocked(s, st)
	}
	c.mu.Unlock()
	c.poke()
}

// timerLoop runs the dispatcher and the deadlines: expiry of SMs in the
// core's custody and the end of retry backoffs.
func (c *Core) timerLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		// Deadlines first: a retry that is due goes back on its queue
		// and out in the same pass.
		next := c.runDeadlines()
		c.dispatch()
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(c.now()), time.Millisecond)
		}
		t.Reset(d)
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-t.C:
		}
	}
}

// runDeadlines expires and requeues what is due and returns the next
// deadline (zero if none).
func (c *Core) runDeadlines() time.Time {
	c.mu.Lock()
	now := c.now()
	var expired []*sm
	for {
		s, ok := c.expiries.top()
		if !ok || s.expiry.After(now) {
			break
		}
		c.expiries.popTop()
		switch s.loc {
		case locPeerQueue, locIMSIWait, locGSMQueue, locRetry, locReceiptWait:
			// An SM whose upstream receipt has not come within its
			// validity expires: delivery was never confirmed.
			c.detachLocked(s)
			expired = append(expired, s)
		}
		// Others are in a handler's hands; their outcome decides.
	}
	for {
		s, ok := c.retries.top()
		if !ok || s.retryAt.After(now) {
			break
		}
		c.retries.popTop()
		if s.loc == locRetry {
			c.enqueueLocked(s)
		}
	}
	var next time.Time
	if s, ok := c.expiries.top(); ok {
		next = s.expiry
	}
	if s, ok := c.retries.top(); ok && (next.IsZero() || s.retryAt.Before(next)) {
		next = s.retryAt
	}
	c.nextDeadline = next
	c.mu.Unlock()
	for _, s := range expired {
		c.goRun(func() { c.finish(context.Background(), s, pms.Expired, 0) })
	}
	return next
}

// Status report payload (the user data of a record flagged StatusReport,
// DCS 0x04), documented in docs/core.md:
//
//	0     TP-ST status octet (3GPP TS 23.040 §9.2.3.15)
//	1..8  index of the SM reported on
//	9..16 its entry time (ns since the epoch; TP-SCTS)
//	17..24 its discharge time (ns; TP-DT)
//	25    its disposition
//	26    its TP-MR
const statusReportLen = 27

// StatusReportInfo is a decoded status-report payload.
type StatusReportInfo struct {
	TPST        uint8
	Index       uint64
	Submitted   time.Time
	Discharged  time.Time
	Disposition pms.Disposition
	MR          uint8
}

// ParseStatusReport decodes the user data of a status-report record.
func ParseStatusReport(ud []byte) (StatusReportInfo, bool) {
	if len(ud) != statusReportLen {
		return StatusReportInfo{}, false
	}
	return StatusReportInfo{
		TPST:        ud[0],
		Index:       binary.BigEndian.Uint64(ud[1:]),
		Submitted:   time.Unix(0, int64(binary.BigEndian.Uint64(ud[9:]))),
		Discharged:  time.Unix(0, int64(binary.BigEndian.Uint64(ud[17:]))),
		Disposition: pms.Disposition(ud[25]),
		MR:          ud[26],
	}, true
}

func tpStatus(d pms.Disposition) uint8 {
	switch d {
	case pms.Delivered, pms.Stored:
		return 0x00 // short message received by the SME
	case pms.Expired:
		return 0x46 // validity period expired (permanent)
	case pms.Cancelled:
		return 0x48 // deleted by originating SME
	}
	return 0x41 // incompatible destination / permanent error
}

// statusReport creates the status report of a discharged SM, back to its
// originator, routed like any SM (§2.4) but by origin rather than by
// number: it goes back the way the SM came.
//
// A replaced SM is reported on under the id its sender holds (its root)
// and with the time that one was submitted, read from its record; if that
// record is gone (archived), the replacement's entry time stands in.
func (c *Core) statusReport(ctx context.Context, s *sm, st pms.State) {
	index, entry := s.index, s.entry
	if s.root != s.index {
		index = s.root
		var root pms.Record
		if err := c.store.Read(s.root, &root); err == nil {
			entry = root.Entry
		}
	}
	ud := make([]byte, statusReportLen)
	ud[0] = tpStatus(st.Disposition)
	binary.BigEndian.PutUint64(ud[1:], index)
	binary.BigEndian.PutUint64(ud[9:], uint64(entry.UnixNano()))
	binary.BigEndian.PutUint64(ud[17:], uint64(st.Discharged.UnixNano()))
	ud[25], ud[26] = byte(st.Disposition), s.mr
	r := &pms.Record{
		Kind:         pms.KindSM,
		StatusReport: true,
		SrcClass:     pms.ClassLocal,
		Src:          s.dst,
		Dst:          s.src,
		DCS:          0x04,
		MR:           s.mr,
		UDL:          statusReportLen,
		UD:           ud,
		Validity:     uint32(c.cfg.DefaultVP / time.Second),
	}
	switch s.srcClass {
	case pms.ClassDownstream:
		r.DstClass, r.State.DstPeer = pms.ClassDownstream, s.srcPeer
	case pms.ClassUpstream:
		r.DstClass = pms.ClassUpstream
	case pms.ClassGSM:
		r.DstClass = pms.ClassGSM
	default:
		// Local submitters read their reports from the store.
		r.DstClass = pms.ClassLocal
		r.State = pms.State{Disposition: pms.Stored, Discharged: c.now()}
	}
	if _, _, err := c.store1(context.WithoutCancel(ctx), r); err != nil {
		c.log.Error("status report not stored", "for_index", s.index, "error", err)
		return
	}
	c.m.statusReports.Inc()
}
