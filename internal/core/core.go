// Package core is the SMSC core (seed 001 §2.3–§2.6): admission of every
// new SM (routing, permissions, PID/DCS, validity, duplicates), the RAM
// queues of active SMs, custody transfer to role handlers, discharge and
// status reports. It is the only writer of the message store while serving.
//
// Locking: Core.mu guards every field marked below it and every sm. It is
// never held across a store write or a call to a role handler; those run
// after the decision made under the lock, by the goroutine that made it.
// The store's own lock is internal to it, so there is no lock order to
// respect beyond "release mu before calling out".
package core

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/workpool"
)

// Role is a role-handler role (§2.5.2.1).
type Role uint8

const (
	RoleIMSILookup Role = 1
	RoleGSMMT      Role = 2
	RolePeer       Role = 3
)

// Handler is a registered role handler as the core sees it: the far end of
// a core-socket connection. An error means the exchange itself failed (the
// connection is gone or timed out), as opposed to a status from the handler.
type Handler interface {
	FindIMSI(ctx context.Context, msisdn string) (imsi string, st Status, err error)
	TransferMT(ctx context.Context, index uint64, rec *[pms.RecordSize]byte) (Status, error)
	CancelMT(ctx context.Context, index uint64) (Status, error)
	DeliverToPeer(ctx context.Context, index uint64, rec *[pms.RecordSize]byte) (peerMsgID string, st Status, err error)
}

// AsyncPeerDeliverer is a Handler that can start a peer delivery without a
// goroutine of the core's waiting for its answer (the in-process uplink).
// The core prefers it for an SM whose record it holds in RAM.
type AsyncPeerDeliverer interface {
	// TryDeliverToPeer starts what DeliverToPeer does and returns true;
	// or it returns false at once, without calling done, when it cannot
	// start now (the link is down, paused or its window full), and the
	// core calls DeliverToPeer instead. done gets DeliverToPeer's
	// results exactly once, on any goroutine (perhaps before
	// TryDeliverToPeer returns), and must not block. rec must not be
	// changed, and is the handler's to read until done is called.
	TryDeliverToPeer(index uint64, rec *[pms.RecordSize]byte, done func(peerMsgID string, st Status, err error)) bool
}

// ErrRequeue, from a peer handler, says the exchange failed for a reason
// of the link's rather than the SM's (the link asked us to slow down): the
// SM goes back to the head of its queue with no attempt counted.
var ErrRequeue = errors.New("core: delivery to be repeated")

// Registration is one handler's claim on a role.
type Registration struct {
	role Role
	name string
	h    Handler
	up   bool // service state (§2.5.2.2)
	gone bool
	// epoch counts the times the service went down (or the handler went
	// away). An exchange started in an earlier epoch grants nothing.
	epoch uint64
}

// location says who holds an active SM and which structure lists it.
type location uint8

const (
	locBusy        location = iota // in transition: being stored, resolved or discharged
	locPeerQueue                   // queued for SMSC_DELIVER_TO_PEER
	locPeerFlight                  // SMSC_DELIVER_TO_PEER outstanding
	locIMSIWait                    // waiting for MSISDN-to-IMSI resolution
	locGSMQueue                    // GSM MT, in the core's custody
	locGSMTransfer                 // SMSC_MT_TRANSFER outstanding
	locGSMCustody                  // in the GSM MT handler's custody
	locRetry                       // waiting out a backoff after a temporary failure
	locReceiptWait                 // accepted by the upstream, waiting for its receipt
)

// sm is the core's RAM view of one active SM. The record itself stays in
// the store and is read back when it is handed to a handler.
type sm struct {
	index uint64
	// raw is the record as stored, kept from admission until its first
	// delivery attempt or state change so that the delivery need not read
	// it back (at most maxRawKept SMs hold one; guarded by c.mu).
	raw *[pms.RecordSize]byte
	// root is the index of the SM first submitted, which its sender knows
	// it by: the index itself, or for a replacement (replace.go) the
	// index it replaces.
	root    uint64
	entry   time.Time
	expiry  time.Time
	src     pms.Address
	dst     pms.Address
	srcPeer string
	// The one-byte fields share a word or two (the struct fits the 384-
	// byte size class).
	srcClass     pms.Class
	dstClass     pms.Class
	mr           uint8
	dcs, esm     uint8
	statusReport bool
	loc          location
	// lost marks a restored SM for a downstream peer whose name the store
	// lost: it waits, unqueued, until it expires.
	lost bool
	// storing is set from the SM's reservation until its store attempt
	// ends: the SM is its key's entry in dedup but not yet stored.
	storing  bool
	state    pms.State
	key      dedupKey
	retryAt  time.Time
	expIdx   int
	retryIdx int
	// msisdn is the normalized destination number (E.164 digits) that IMSI
	// lookups and their cache are keyed by.
	msisdn string
	// heldBy and heldEpoch say which handler, in which epoch, took custody.
	heldBy    *Registration
	heldEpoch uint64
	// peerID is the upstream's message id while the SM waits for its
	// receipt (locReceiptWait); the trailer's PeerMsgID may be empty if
	// the id is too long for it.
	peerID string
	// pend is made by the first identical submission that races the SM
	// while it is storing, for it and any after it to get its outcome
	// (races are rare: most SMs never need one).
	pend *pendingSubmit
	// wmu serializes this SM's state writes to the store, so they land in
	// the order their snapshots were taken. Lock order: wmu, then Core.mu.
	wmu sync.Mutex
	// eph is an ephemeral SM's record (ephemeral.go), which is never in
	// the store; onDone gets its discharge.
	eph    *[pms.RecordSize]byte
	onDone func(pms.Disposition)
}

type dedupKey [2]uint64

type peerQueue struct {
	q   fifo[*sm]
	reg *Registration
	// flight holds the deliveries in flight, each with the generation it
	// started in; gen is the current generation. A receipt that names no
	// SM waits at a barrier for every delivery started before it to end
	// (one of them may carry its id: barrierLocked). All guarded by c.mu.
	flight   map[*sm]uint64
	gen      uint64
	barriers []flightBarrier
}

// flightBarrier is closed once no delivery that started in a generation
// before gen is in flight, or as soon as a delivery lists id (the receipt
// waiting at it need not wait for the others, however slow).
type flightBarrier struct {
	gen uint64
	id  string
	ch  chan struct{}
}

// inflight is how many deliveries are in flight.
func (pq *peerQueue) inflight() int { return len(pq.flight) }

// startLocked counts s in flight.
func (pq *peerQueue) startLocked(s *sm) {
	if pq.flight == nil {
		pq.flight = make(map[*sm]uint64)
	}
	pq.flight[s] = pq.gen
}

// endLocked counts s out of flight and opens the barriers it was the last
// to hold.
func (pq *peerQueue) endLocked(s *sm) {
	delete(pq.flight, s)
	if len(pq.barriers) == 0 {
		return
	}
	oldest := pq.gen
	for _, g := range pq.flight {
		oldest = min(oldest, g)
	}
	pq.openLocked(func(b flightBarrier) bool { return oldest >= b.gen })
}

// barrierLocked returns a channel that is closed once every delivery in
// flight now has ended and its outcome is applied, or once a delivery's
// outcome lists id (idListedLocked), or nil if none is in flight.
// Deliveries started after the call do not hold it.
func (pq *peerQueue) barrierLocked(id string) <-chan struct{} {
	if len(pq.flight) == 0 {
		return nil
	}
	pq.gen++
	ch := make(chan struct{})
	pq.barriers = append(pq.barriers, flightBarrier{gen: pq.gen, id: id, ch: ch})
	return ch
}

// idListedLocked opens the barriers waiting for id, which a delivery's
// outcome has just listed.
func (pq *peerQueue) idListedLocked(id string) {
	pq.openLocked(func(b flightBarrier) bool { return b.id == id })
}

// openLocked closes and drops the barriers open says to open.
func (pq *peerQueue) openLocked(open func(flightBarrier) bool) {
	keep := pq.barriers[:0]
	for _, b := range pq.barriers {
		if open(b) {
			close(b.ch)
		} else {
			keep = append(keep, b)
		}
	}
	clear(pq.barriers[len(keep):])
	pq.barriers = keep
}

// Core is the SMSC core. Create it with New, feed it the store's active
// records with Restore while the store opens, then Start it.
type Core struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	dir     atomic.Pointer[Directory]
	store   *pms.Store
	rawKept int // SMs holding raw; c.mu
	seeds   [2]maphash.Seed
	// work runs the core's goroutines (deliveries, transfers, discharges,
	// the timer) on kept goroutines; Close waits for them.
	work   *workpool.Pool
	kick   chan struct{}
	starts []peerStart // the dispatcher goroutine's (dispatch)
	// async counts the deliveries and discharges under way without a core
	// goroutine (startAsync, finishAsync). Close waits for them: what
	// follows them (a status report, the discharge of a delivered SM)
	// runs on core goroutines, which Close ends. asyncDrained, under
	// asyncMu, is closed when the count reaches zero while Close waits.
	async        atomic.Int64
	asyncClosing atomic.Bool
	// asyncLate is set once Close has stopped waiting for them: a
	// discharge that comes later is not written (its follow-up could not
	// run), and its SM stays active for the next start.
	asyncLate    atomic.Bool
	asyncMu      sync.Mutex
	asyncDrained chan struct{}
	stop         chan struct{}
	m            *Metrics
	onDischarge  func(uint64, pms.Disposition)
	onStored     func(*pms.Record)

	restore restoreState // owned by the goroutine calling Restore and Start

	mu      sync.Mutex
	closing bool
	sms     smTable
	// dedup is the duplicate index (§2.4.5): for each key, the active SM
	// listed under it, or the one being stored right now (storing set).
	// An SM's entry is made when it is reserved and is the SM itself, so
	// storing it fills in the SM without touching the map again (a second
	// cache miss in a map of a few hundred thousand keys).
	dedup     map[dedupKey]*sm
	peers     map[string]*peerQueue
	imsiOrder fifo[string]
	imsiWait  map[string][]*sm
	imsiBusy  int
	imsiCache map[string]imsiEntry
	imsiReg   *Registration
	gsmQ      fifo[*sm]
	gsmFlight int
	gsmHeld   map[uint64]*sm
	// awaiting holds the SMs the upstream has accepted with a receipt
	// requested, by the message id it gave them (receipts.go).
	awaiting map[string]*sm
	// alias maps the id a sender holds (an sm's root) to the index of the
	// active record that carries the SM now, for SMs replaced at least
	// once (replace.go).
	alias    map[uint64]uint64
	gsmReg   *Registration
	expiries smHeap
	retries  smHeap
	// nextDeadline is when the timer loop will next wake by itself.
	nextDeadline time.Time
	// ephemeralNext numbers the ephemeral SMs (ephemeral.go).
	ephemeralNext uint64
}

type imsiEntry struct {
	imsi    string
	expires time.Time
}

// pendingSubmit is the outcome of an SM being stored, for identical
// submissions racing it (sm.pend): blocking ones wait on done (made by the
// first of them), asynchronous ones are in waiters.
// Every field is guarded by Core.mu; the outcome is set before done is
// closed.
type pendingSubmit struct {
	done     chan struct{}
	index    uint64
	err      error
	resolved bool
	waiters  []func(index uint64, err error)
}

// Options are what a Core needs besides its Config.
type Options struct {
	Logger  *slog.Logger
	Now     func() time.Time
	Metrics *Metrics
	// OnDischarge, if set, is called after each discharge is durable (and
	// after its status report is stored). It must not block.
	OnDischarge func(index uint64, disp pms.Disposition)
	// OnStored, if set, is called after an SM whose delivery is its
	// storing (destination class local) is durable, with the record as
	// stored. The chat service uses it to hand SMS to the user who owns
	// the number. It must not block or keep rec.
	OnStored func(rec *pms.Record)
}

// New creates a core that routes with dir.
func New(cfg Config, dir Directory, opts Options) (*Core, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	c := &Core{
		onDischarge: opts.OnDischarge,
		onStored:    opts.OnStored,
		cfg:         cfg,
		log:         opts.Logger,
		now:         opts.Now,
		m:           opts.Metrics,
		seeds:       [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		kick:        make(chan struct{}, 1),
		work:        workpool.New(),
		stop:        make(chan struct{}),
		sms:         newSMTable(),
		dedup:       map[dedupKey]*sm{},
		peers:       map[string]*peerQueue{},
		imsiWait:    map[string][]*sm{},
		imsiCache:   map[string]imsiEntry{},
		gsmHeld:     map[uint64]*sm{},
		awaiting:    map[string]*sm{},
		alias:       map[uint64]uint64{},
	}
	c.expiries = smHeap{key: func(s *sm) time.Time { return s.expiry }, pos: func(s *sm) *int { return &s.expIdx }}
	c.retries = smHeap{key: func(s *sm) time.Time { return s.retryAt }, pos: func(s *sm) *int { return &s.retryIdx }}
	c.SetDirectory(dir)
	return c, nil
}

// SetDirectory replaces the numbering used for routing; SMs already
// admitted keep their routes.
func (c *Core) SetDirectory(dir Directory) { c.dir.Store(&dir) }

func (c *Core) directory() Directory { return *c.dir.Load() }

// Reserve sizes the core's tables for about n active SMs before a restore,
// so that a large restart does not spend its time growing maps.
func (c *Core) Reserve(n int) {
	n = min(n, 1<<22)
	c.mu.Lock()
	defer c.mu.Unlock()
	// dedup also holds SMs being stored, which sms does not count.
	if c.sms.len() == 0 && len(c.dedup) == 0 {
		c.dedup = make(map[dedupKey]*sm, n)
	}
}

// Restore takes one active record found by the store at startup. It is the
// visit function of pms.Open; the SMs are listed and queued by the time
// Start returns.
//
// A restart of a large backlog is spent here (1 M SMs), so the work is split
// over two goroutines: the store's scan decodes each record and Restore
// builds its RAM view (its duplicate key, its MSISDN) in that goroutine,
// while another inserts the views into the core's maps and queues, a batch
// at a time.
func (c *Core) Restore(r *pms.Record) error {
	lost := false
	if r.DstClass == pms.ClassDownstream && r.State.DstPeer == "" {
		// The peer's name lives in the state trailer, which a crash in the
		// middle of an update can reset (docs/pms.md): route the number
		// again rather than send the SM to the uplink's queue.
		if n, err := c.directory().Classify(r.Dst.TON, r.Dst.Digits); err == nil {
			r.State.DstPeer, _ = c.directory().PeerFor(n.E164)
		}
		if r.State.DstPeer == "" {
			c.log.Warn("active SM for a downstream peer lost its peer; it waits until it expires", "index", r.Index)
			lost = true
		}
	}
	s := c.restoreSM()
	c.fillSM(s, r, nil)
	s.lost = lost
	rs := &c.restore
	if rs.ended {
		// After Start (not the way it is meant to be used): at once.
		rs.ch, rs.done = make(chan []*sm, 1), make(chan struct{})
		go c.insertRestored(rs.ch, rs.done)
		rs.ch <- []*sm{s}
		close(rs.ch)
		<-rs.done
		rs.ch, rs.done = nil, nil
		c.dischargeSuperseded()
		return nil
	}
	rs.batch = append(rs.batch, s)
	if len(rs.batch) == cap(rs.batch) {
		c.flushRestore(false)
	}
	return nil
}

// restoreSM hands out sm values from chunks, so that restoring a million
// SMs costs a thousand allocations, not a million. A chunk is freed once
// every SM in it has been discharged.
func (c *Core) restoreSM() *sm {
	rs := &c.restore
	if len(rs.chunk) == 0 {
		rs.chunk = make([]sm, 1024)
	}
	s := &rs.chunk[0]
	rs.chunk = rs.chunk[1:]
	return s
}

// restoreState is the restore in progress: the batch being filled and the
// goroutine inserting full ones.
type restoreState struct {
	chunk []sm
	batch []*sm
	ch    chan []*sm
	done  chan struct{}
	ended bool // Start has run
	// superseded lists the active records that a later replacement of
	// the same SM overrides (a crash came between the two writes of a
	// replacement); Start discharges them. Guarded by Core.mu.
	superseded []superseded
}

// superseded is an active record found at startup whose SM a later record
// replaces.
type superseded struct {
	old *sm
	by  uint64
}

// flushRestore hands the current batch to the inserter; with wait it also
// ends the restore and waits until everything is inserted.
func (c *Core) flushRestore(wait bool) {
	rs := &c.restore
	if rs.ch == nil && (len(rs.batch) > 0 || !wait) {
		rs.ch, rs.done = make(chan []*sm, 4), make(chan struct{})
		go c.insertRestored(rs.ch, rs.done)
	}
	if len(rs.batch) > 0 {
		rs.ch <- rs.batch
		rs.batch = make([]*sm, 0, 256)
	} else if rs.batch == nil {
		rs.batch = make([]*sm, 0, 256)
	}
	if wait && rs.ch != nil {
		close(rs.ch)
		<-rs.done
		rs.ch, rs.done, rs.chunk = nil, nil, nil
	}
}

func (c *Core) insertRestored(ch <-chan []*sm, done chan<- struct{}) {
	defer close(done)
	for batch := range ch {
		c.mu.Lock()
		now := c.now()
		for _, s := range batch {
			c.supersedeLocked(s)
			if s.lost {
				c.aliasLocked(s)
				c.sms.put(s)
				s.loc = locRetry
				if !s.expiry.IsZero() {
					c.expiries.add(s)
				}
				continue
			}
			c.insertAtLocked(s, now, false)
		}
		c.mu.Unlock()
		c.m.active.Add(float64(len(batch)))
	}
}

// Start begins delivering with the opened store.
func (c *Core) Start(store *pms.Store) {
	c.flushRestore(true)
	c.restore.ended = true
	c.store = store
	c.dischargeSuperseded()
	c.goRun(c.timerLoop)
	c.poke()
}

// Close stops new work, waits for calls in progress and the timer, and
// leaves every active SM in the store for the next start.
func (c *Core) Close() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.mu.Unlock()
	// A restore that never reached Start (the store failed to open) ends
	// here, so that its goroutine does not outlive the core.
	c.flushRestore(true)
	close(c.stop)
	c.waitAsync()
	c.work.Close()
}

// asyncDone ends one operation counted in c.async.
func (c *Core) asyncDone() {
	if c.async.Add(-1) != 0 || !c.asyncClosing.Load() {
		return
	}
	c.asyncMu.Lock()
	if ch := c.asyncDrained; ch != nil {
		c.asyncDrained = nil
		close(ch)
	}
	c.asyncMu.Unlock()
}

// waitAsync waits, for at most the call timeout, until no delivery or
// discharge is under way without a core goroutine. The handlers answer or
// fail their calls in that time (the in-process uplink stops before the
// core); a later answer still runs, but what it would queue on a core
// goroutine is dropped, and its SM stays active for the next start.
func (c *Core) waitAsync() {
	c.asyncClosing.Store(true)
	c.asyncMu.Lock()
	if c.async.Load() == 0 {
		c.asyncMu.Unlock()
		return
	}
	ch := make(chan struct{})
	c.asyncDrained = ch
	c.asyncMu.Unlock()
	t := time.NewTimer(c.cfg.CallTimeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		c.asyncLate.Store(true)
		c.log.Warn("core closing with deliveries still unanswered", "count", c.async.Load())
	}
}

// newSM makes the RAM view of a record. key, if not nil, is its duplicate
// key, which the caller has just computed; else it is computed here.
func (c *Core) newSM(r *pms.Record, key *dedupKey) *sm {
	s := new(sm)
	c.fillSM(s, r, key)
	return s
}

func (c *Core) fillSM(s *sm, r *pms.Record, key *dedupKey) {
	root := r.Index
	if r.Replacement {
		root = r.Replaces
	}
	*s = sm{
		index:        r.Index,
		root:         root,
		dcs:          r.DCS,
		esm:          r.ESM,
		entry:        r.Entry,
		expiry:       r.Expiry(),
		srcClass:     r.SrcClass,
		dstClass:     r.DstClass,
		src:          r.Src,
		dst:          r.Dst,
		srcPeer:      r.SrcPeer,
		mr:           r.MR,
		statusReport: r.StatusReport,
		state:        r.State,
		expIdx:       -1,
		retryIdx:     -1,
	}
	switch {
	case key != nil:
		s.key = *key
	case !r.StatusReport && !r.Replacement && r.State.Disposition == pms.Active:
		s.key = c.dedupKey(r)
	}
	if r.DstClass == pms.ClassGSM {
		// One subscriber, however the number was dialled: 6195550100,
		// 16195550100 and +16195550100 share a lookup and its cache.
		s.msisdn = r.Dst.Digits
		if n, err := c.directory().Classify(r.Dst.TON, r.Dst.Digits); err == nil {
			s.msisdn = n.E164
		}
	}
}

// wakeLocked reports whether a newly listed SM needs the dispatcher or the
// timer woken: a handler can take it, or it expires before anything the
// timer waits for.
func (c *Core) wakeLocked(s *sm) bool {
	return c.servedLocked(s) || (!s.expiry.IsZero() && (c.nextDeadline.IsZero() || s.expiry.Before(c.nextDeadline)))
}

// insertLocked lists a newly active SM and queues it by destination;
// keyed is as for insertAtLocked.
func (c *Core) insertLocked(s *sm, keyed bool) {
	c.insertAtLocked(s, c.now(), keyed)
	c.m.active.Inc()
}

// insertAtLocked is insertLocked with the clock read by the caller and the
// active gauge left to it, for inserting many at once. keyed says that s
// is already its key's entry in dedup (it was reserved).
func (c *Core) insertAtLocked(s *sm, now time.Time, keyed bool) {
	c.sms.put(s)
	// A replacement is not a submission: an identical submit_sm later is
	// a new SM, not a resend of it.
	switch {
	case !s.statusReport && s.eph == nil && s.root == s.index && now.Sub(s.entry) < c.cfg.DedupWindow:
		if !keyed {
			c.dedup[s.key] = s
		}
	case keyed && c.dedup[s.key] == s:
		delete(c.dedup, s.key)
	}
	c.aliasLocked(s)
	if !s.expiry.IsZero() {
		c.expiries.add(s)
	}
	if s.dstClass == pms.ClassUpstream && s.state.PeerMsgID != "" && c.awaiting[s.state.PeerMsgID] == nil {
		// Restored after the upstream took it: its receipt decides.
		s.loc, s.peerID = locReceiptWait, s.state.PeerMsgID
		c.awaiting[s.peerID] = s
		return
	}
	c.enqueueLocked(s)
}

// enqueueLocked puts an SM on the queue its destination calls for.
func (c *Core) enqueueLocked(s *sm) {
	switch s.dstClass {
	case pms.ClassGSM:
		if s.state.IMSI != "" {
			s.loc = locGSMQueue
			c.gsmQ.push(s)
			return
		}
		c.waitIMSILocked(s)
	case pms.ClassUpstream, pms.ClassDownstream:
		s.loc = locPeerQueue
		c.peerQueueLocked(s.state.DstPeer).q.push(s)
	default:
		// Nothing delivers other classes yet (chat comes with its issue);
		// they wait in the store until a handler exists or they expire.
		s.loc = locRetry
		s.retryAt = s.expiry
		if !s.retryAt.IsZero() {
			c.retries.add(s)
		}
	}
}

func (c *Core) peerQueueLocked(name string) *peerQueue {
	pq := c.peers[name]
	if pq == nil {
		pq = &peerQueue{}
		c.peers[name] = pq
	}
	return pq
}

func (c *Core) waitIMSILocked(s *sm) {
	msisdn := s.msisdn
	if e, ok := c.imsiCache[msisdn]; ok && c.now().Before(e.expires) {
		c.m.imsiCacheHits.Inc()
		s.loc = locBusy
		c.goRun(func() { c.imsiResolved(msisdn, e.imsi, []*sm{s}) })
		return
	}
	s.loc = locIMSIWait
	waiting, known := c.imsiWait[msisdn]
	c.imsiWait[msisdn] = append(waiting, s)
	if !known {
		c.imsiOrder.push(msisdn)
	}
}

// servedLocked reports whether a handler is up to take the SM from the
// queue it is on, so that admission wakes the dispatcher only when there is
// something for it to do.
func (c *Core) servedLocked(s *sm) bool {
	switch s.loc {
	case locPeerQueue:
		pq := c.peers[s.state.DstPeer]
		return pq != nil && pq.reg != nil && pq.reg.up
	case locIMSIWait:
		return c.imsiReg != nil && c.imsiReg.up
	case locGSMQueue:
		return c.gsmReg != nil && c.gsmReg.up
	}
	// locBusy: a cached IMSI is being recorded, which pokes when done.
	return false
}

// maxRawKept bounds the records kept in RAM between admission and the
// first delivery attempt (256 bytes each): enough for the windows of a
// busy uplink and its peers, bounded when a destination is down and SMs
// pile up.
const maxRawKept = 1 << 16

// keepRawLocked keeps the stored record for s's first delivery: raw
// itself when the core owns it (owned), else a copy (the socket's raw is
// in a request body that is given back for reuse).
func (c *Core) keepRawLocked(s *sm, raw *[pms.RecordSize]byte, owned bool) {
	if raw == nil || c.rawKept >= maxRawKept {
		return
	}
	if !owned {
		cp := new([pms.RecordSize]byte)
		*cp = *raw
		raw = cp
	}
	s.raw = raw
	c.rawKept++
}

// dropRawLocked forgets s's kept record.
func (c *Core) dropRawLocked(s *sm) {
	if s.raw != nil {
		s.raw = nil
		c.rawKept--
	}
}

// heldRecordLocked returns s's record if RAM holds it: an ephemeral SM's,
// or the one kept from admission, which it hands out and forgets. nil
// means it is to be read from the store.
func (c *Core) heldRecordLocked(s *sm) *[pms.RecordSize]byte {
	if s.eph != nil {
		return s.eph
	}
	raw := s.raw
	c.dropRawLocked(s)
	return raw
}

// detachLocked takes an SM out of every structure: from here the caller
// owns it and discharges it.
func (c *Core) detachLocked(s *sm) {
	c.dropRawLocked(s)
	c.sms.del(s.index)
	if c.dedup[s.key] == s {
		delete(c.dedup, s.key)
	}
	if s.loc == locIMSIWait {
		l := c.imsiWait[s.msisdn]
		for i, x := range l {
			if x == s {
				c.imsiWait[s.msisdn] = append(l[:i], l[i+1:]...)
				break
			}
		}
	}
	delete(c.gsmHeld, s.index)
	if s.loc == locReceiptWait {
		delete(c.awaiting, s.peerID)
	}
	if cur, ok := c.alias[s.root]; ok && cur == s.index {
		delete(c.alias, s.root)
	}
	c.expiries.remove(s)
	c.retries.remove(s)
	// Entries left in FIFOs are skipped when popped: their loc no longer
	// matches.
	s.loc = locBusy
	c.m.active.Dec()
}

func (c *Core) dedupKey(r *pms.Record) dedupKey {
	var k dedupKey
	for i := range k {
		var h maphash.Hash
		h.SetSeed(c.seeds[i])
		h.Write([]byte{byte(r.Kind), byte(r.SrcClass), r.PID, r.DCS, r.ESM, r.MR, r.UDL,
			byte(r.ConcatRef >> 8), byte(r.ConcatRef), r.ConcatTotal, r.ConcatSeq,
			r.Src.TON, r.Src.NPI, byte(len(r.Src.Digits)), r.Dst.TON, r.Dst.NPI, byte(len(r.Dst.Digits)),
			byte(len(r.SrcPeer)), byte(len(r.UD))})
		h.WriteString(r.Src.Digits)
		h.WriteString(r.Dst.Digits)
		h.WriteString(r.SrcPeer)
		h.Write(r.UD)
		h.WriteString(r.From)
		h.WriteString(r.To)
		h.Write(r.Text)
		if r.IMSIAddressed {
			// The IMSI is the destination of these.
			h.WriteByte(1)
			h.WriteString(r.State.IMSI)
		}
		k[i] = h.Sum64()
	}
	return k
}

// poke asks the dispatcher to look at the queues.
func (c *Core) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// goRun runs f on one of the core's goroutines, unless the core has
// closed: then the work is left undone and its SM stays active in the
// store for the next start.
func (c *Core) goRun(f func()) {
	if !c.work.Go(f) {
		c.log.Debug("core closed: work left for the next start")
	}
}

// Submit admits a new SM (§2.4): it routes and checks it, stores it
// durably and queues it. It returns the SM's index (its id) and whether it
// was a resubmission of an SM that is still active. srcClass and SrcPeer in
// rec say where it came from; imsiAddressed skips routing (§2.4.1, last
// paragraph) and requires rec.State.IMSI.
func (c *Core) Submit(ctx context.Context, rec *pms.Record, imsiAddressed bool) (uint64, bool, error) {
	c.m.submits.Inc()
	idx, dup, err := c.submit(ctx, rec, imsiAddressed)
	c.m.rejection(err)
	return idx, dup, err
}

// SubmitAsync is Submit for a caller that must not wait for the disk (an
// SMPP session's reader). Admission runs at once; done gets what Submit
// would have returned, later on a store goroutine, or at once for a
// rejection or the duplicate of a stored SM. done must not block. rec
// belongs to the core until done is called.
func (c *Core) SubmitAsync(rec *pms.Record, imsiAddressed bool, done func(index uint64, dup bool, err error)) {
	c.m.submits.Inc()
	if rerr := c.admit(rec, imsiAddressed); rerr != nil {
		c.m.rejection(rerr)
		done(0, false, rerr)
		return
	}
	j := asyncJobs.Get().(*asyncJob)
	j.c, j.user = c, done
	j.store.rec, j.store.raw, j.store.owned = rec, new([pms.RecordSize]byte), true
	c.store1Async(&j.store)
}

// asyncJob is one SubmitAsync between admission and its outcome, pooled
// like the socket's submitJob so that the store's callback and the
// outcome's wrapper are not made per SM. raw is not pooled: the core keeps
// it for the SM's first delivery.
type asyncJob struct {
	c     *Core
	user  func(index uint64, dup bool, err error)
	store asyncStore // done is j.finish, bound once
}

var asyncJobs sync.Pool

func init() {
	// Set here: the pool's New refers to finish, which refers back to
	// the pool.
	asyncJobs.New = func() any {
		j := new(asyncJob)
		j.store.bind(j.finish)
		return j
	}
}

// finish hands the outcome on; done is the last thing to touch the job
// (store1Async's contract), so it goes back to the pool first.
func (j *asyncJob) finish(index uint64, dup bool, err error) {
	c, user := j.c, j.user
	j.c, j.user, j.store.rec = nil, nil, nil
	j.store.clear()
	asyncJobs.Put(j)
	c.m.rejection(err)
	user(index, dup, err)
}

func (c *Core) submit(ctx context.Context, rec *pms.Record, imsiAddressed bool) (uint64, bool, error) {
	if rerr := c.admit(rec, imsiAddressed); rerr != nil {
		return 0, false, rerr
	}
	return c.store1(ctx, rec)
}

// admit applies admission up to the store (§2.4.1–§2.4.4): content,
// routing, permissions and validity. It fills in what the record is to be
// stored with: validity, destination class and state trailer.
func (c *Core) admit(rec *pms.Record, imsiAddressed bool) *Error {
	if rec.Kind != pms.KindSM {
		return reject(coresock.StatusMalformed, "not a short message")
	}
	if rerr := checkContent(&c.cfg, rec); rerr != nil {
		return rerr
	}
	// Only the core makes status reports and replacements, and only the
	// request's flag makes an SM IMSI-addressed.
	rec.StatusReport, rec.IMSIAddressed = false, false
	rec.Replacement, rec.Replaces = false, 0
	var rt route
	srr, failureOnly := rec.State.SRR, rec.State.SRRFailureOnly && rec.State.SRR
	imsi := ""
	if imsiAddressed {
		if rec.SrcClass != pms.ClassLocal {
			return reject(coresock.StatusSourceNotAllowed, "IMSI-addressed SMs are local submissions only")
		}
		if rec.State.IMSI == "" {
			return reject(coresock.StatusInvalidNumber, "no IMSI")
		}
		rt, imsi = route{dst: pms.ClassGSM}, rec.State.IMSI
		rec.IMSIAddressed = true
	} else {
		var rerr *Error
		if rt, rerr = decide(c.directory(), rec); rerr != nil {
			return rerr
		}
	}
	vp := time.Duration(rec.Validity) * time.Second
	if vp == 0 {
		vp = c.cfg.DefaultVP
	}
	vp = min(vp, c.cfg.MaxVP)
	rec.Validity = uint32(vp / time.Second)
	rec.DstClass = rt.dst
	rec.State = pms.State{SRR: srr, SRRFailureOnly: failureOnly, IMSI: imsi}
	if rt.dst == pms.ClassDownstream {
		rec.State.DstPeer = rt.peer
	}
	if rt.dst == pms.ClassLocal {
		// Writing it into the store is its delivery (§2.2).
		rec.State.Disposition = pms.Stored
		rec.State.Discharged = c.now()
	}
	return nil
}

// reservation is the duplicate check's verdict on an admitted SM, made
// under mu before it is stored.
type reservation struct {
	key dedupKey
	// dup: an identical active SM exists (index) or is being stored right
	// now (other); nothing is to be stored.
	dup   bool
	index uint64
	other *pendingSubmit
	// s is this SM's entry in dedup, not yet filled in.
	s *sm
}

// reserve runs duplicate detection (§2.4.5) for an admitted SM about to be
// stored, and registers it as pending so that an identical submission
// racing it waits for its outcome.
func (c *Core) reserve(rec *pms.Record) (reservation, *Error) {
	var rv reservation
	if rec.StatusReport {
		// The core's own report on an SM just discharged: it is stored
		// even while the core closes (the store outlives the core), or
		// it would be lost with the discharge already on disk.
		return rv, nil
	}
	if rec.State.Disposition != pms.Active {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return rv, reject(coresock.StatusShuttingDown, "")
		}
		return rv, nil
	}
	rv.key = c.dedupKey(rec)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return rv, reject(coresock.StatusShuttingDown, "")
	}
	if e := c.dedup[rv.key]; e != nil {
		if e.storing {
			// The same SM is being stored right now by another submitter:
			// it gets that one's outcome.
			if e.pend == nil {
				e.pend = &pendingSubmit{}
			}
			rv.dup, rv.other = true, e.pend
			return rv, nil
		}
		if c.sms.get(e.index) == e && c.now().Sub(e.entry) < c.cfg.DedupWindow {
			rv.dup, rv.index = true, e.index
			return rv, nil
		}
		// Out of the window: this one is new, and its entry replaces
		// the old SM's.
	}
	rv.s = &sm{key: rv.key, storing: true}
	c.dedup[rv.key] = rv.s
	return rv, nil
}

// store1 writes an admitted SM with duplicate suppression and queues it.
func (c *Core) store1(ctx context.Context, rec *pms.Record) (uint64, bool, error) {
	rv, rerr := c.reserve(rec)
	if rerr != nil {
		return 0, false, rerr
	}
	if rv.dup {
		if rv.other == nil {
			c.m.duplicates.Inc()
			return rv.index, true, nil
		}
		c.mu.Lock()
		if !rv.other.resolved && rv.other.done == nil {
			rv.other.done = make(chan struct{})
		}
		wait := rv.other.done
		c.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				return 0, false, ctx.Err()
			}
		}
		if rv.other.err != nil {
			return 0, false, rv.other.err
		}
		c.m.duplicates.Inc()
		return rv.other.index, true, nil
	}
	// Encoded here rather than by Append so that the bytes as stored (the
	// store writes the index, entry time and CRC into them) can be kept for
	// the SM's first delivery, which then needs no pread.
	raw := new([pms.RecordSize]byte)
	err := pms.Encode(raw[:], rec)
	if err == nil {
		var entry time.Time
		rec.Index, entry, err = c.store.AppendRaw(ctx, raw)
		if err == nil {
			rec.Entry = entry
		}
	}
	if err != nil {
		err = reject(coresock.StatusStoreFailed, err.Error())
	}
	storedReport := c.stored(rec, &rv, err, raw, true)
	if err != nil {
		return 0, false, err
	}
	if storedReport != nil {
		c.statusReport(ctx, storedReport, rec.State)
	}
	return rec.Index, false, nil
}

// asyncStore is one SM on its way to the store without a goroutine
// waiting for it (store1Async). Its owner (the socket's pooled submitJob)
// embeds it, so that neither the callback nor the record list is
// allocated per SM.
type asyncStore struct {
	c    *Core
	rec  *pms.Record
	raw  *[pms.RecordSize]byte
	rv   reservation
	recs [1]*[pms.RecordSize]byte
	// owned: raw is the core's to keep for the first delivery (no copy).
	owned bool
	// done gets the outcome; appended is a.appendedTo, bound once, for
	// the store to call.
	done     func(uint64, bool, error)
	appended func(uint64, time.Time, error)
}

// bind makes done the outcome's receiver, once for a pooled owner; the
// store's callback is bound with it.
func (a *asyncStore) bind(done func(uint64, bool, error)) {
	a.done = done
	a.appended = a.appendedTo
}

// clear drops what one SM left in a, for its pooled owner to reuse it.
func (a *asyncStore) clear() {
	a.c, a.raw, a.rv, a.recs[0] = nil, nil, reservation{}, nil
}

// store1Async is store1 for a caller that must not block (the core
// socket's reader): a.done gets the outcome later, from another goroutine,
// or at once for a duplicate. a.raw is where a.rec is encoded for the
// store; it, a.rec and a itself must stay untouched until done is called,
// and done is the last thing that touches a.
func (c *Core) store1Async(a *asyncStore) {
	a.c = c
	// Counted in c.async until its outcome is handed on: Close waits for
	// it, since a status report may follow on a core goroutine. Counted
	// before reserve looks at closing, under the lock Close sets it under,
	// so that Close either waits for this one or it is refused.
	c.async.Add(1)
	if !c.startStore(a) {
		c.asyncDone()
	}
}

// startStore is store1Async up to the store. It reports whether the
// record went to the store (whose callback, appendedTo, or fail, then
// ends the count) rather than being answered here.
func (c *Core) startStore(a *asyncStore) bool {
	rec, done := a.rec, a.done
	rv, rerr := c.reserve(rec)
	if rerr != nil {
		done(0, false, rerr)
		return false
	}
	if rv.dup {
		if rv.other == nil {
			c.m.duplicates.Inc()
			done(rv.index, true, nil)
			return false
		}
		c.mu.Lock()
		if !rv.other.resolved {
			rv.other.waiters = append(rv.other.waiters, func(index uint64, err error) {
				if err != nil {
					done(0, false, err)
					return
				}
				c.m.duplicates.Inc()
				done(index, true, nil)
			})
			c.mu.Unlock()
			return false
		}
		c.mu.Unlock()
		if rv.other.err != nil {
			done(0, false, rv.other.err)
			return false
		}
		c.m.duplicates.Inc()
		done(rv.other.index, true, nil)
		return false
	}
	a.rv = rv
	if err := pms.Encode(a.raw[:], rec); err != nil {
		a.fail(err)
		return true
	}
	a.recs[0] = a.raw
	if err := c.store.AppendRawAsync(context.Background(), a.recs[:], a.appended); err != nil {
		a.fail(err)
	}
	return true
}

// fail finishes a store attempt that wrote nothing.
func (a *asyncStore) fail(err error) {
	c := a.c
	serr := reject(coresock.StatusStoreFailed, err.Error())
	c.stored(a.rec, &a.rv, serr, nil, false)
	a.done(0, false, serr)
	c.asyncDone()
}

// appendedTo is the store's callback: the record is durable (or failed).
func (a *asyncStore) appendedTo(first uint64, entry time.Time, err error) {
	if err != nil {
		a.fail(err)
		return
	}
	c, rec := a.c, a.rec
	rec.Index, rec.Entry = first, entry
	// raw now holds the record as the store wrote it (index, entry time
	// and CRC filled in).
	if storedReport := c.stored(rec, &a.rv, nil, a.raw, a.owned); storedReport != nil {
		// This runs on a store goroutine, which must not wait for the
		// store: the report is written by another.
		st := rec.State
		c.goRun(func() { c.statusReport(context.Background(), storedReport, st) })
	}
	a.done(first, false, nil)
	c.asyncDone()
}

// stored finishes a store attempt: it resolves the pending entry, and for
// a stored SM lists and queues it (or, for one stored as delivered with
// SRR, returns it for its status report).
// raw, if not nil, is the record as stored, kept for the first delivery
// (see keepRawLocked for owned).
func (c *Core) stored(rec *pms.Record, rv *reservation, err error, raw *[pms.RecordSize]byte, owned bool) (storedReport *sm) {
	active := rec.State.Disposition == pms.Active
	wake := false
	var waiters []func(uint64, error)
	c.mu.Lock()
	if s := rv.s; s != nil {
		s.storing = false
		if p := s.pend; p != nil {
			s.pend = nil
			p.index, p.err, p.resolved = rec.Index, err, true
			waiters, p.waiters = p.waiters, nil
			if p.done != nil {
				close(p.done)
			}
		}
	}
	if err == nil && !active && reportDue(rec.State) && !rec.StatusReport {
		// Stored is delivered: the report is due at once.
		storedReport = c.newSM(rec, &rv.key)
	}
	switch {
	case err == nil && active:
		// The reserved SM, already its key's entry in dedup, is filled in.
		s := rv.s
		if s == nil {
			s = new(sm)
		}
		c.fillSM(s, rec, &rv.key)
		c.keepRawLocked(s, raw, owned)
		c.insertLocked(s, rv.s != nil)
		// Wake the dispatcher if a handler can take it, or the timer if
		// it expires before anything the timer waits for.
		wake = c.wakeLocked(s)
	case rv.s != nil && c.dedup[rv.key] == rv.s:
		// Failed, or not listed (stored as delivered): no entry.
		delete(c.dedup, rv.key)
	}
	c.mu.Unlock()
	for _, w := range waiters {
		w(rec.Index, err)
	}
	if err == nil {
		c.m.acceptedFor(rec.DstClass).Inc()
		if !active && rec.DstClass == pms.ClassLocal && c.onStored != nil {
			c.onStored(rec)
		}
	}
	if wake {
		c.poke()
	}
	return storedReport
}

// Selector names an active SM for cancel and SRR changes (§2.5.1.2): by
// absolute index, or by originating address, destination address and
// message reference.
type Selector struct {
	ByIndex bool
	Index   uint64
	OA, DA  pms.Address
	MR      uint8
}

func (c *Core) findLocked(sel Selector) (*sm, *Error) {
	if sel.ByIndex {
		// The id its sender holds names a replaced SM's current record.
		if cur, ok := c.alias[sel.Index]; ok {
			sel.Index = cur
		}
		if s := c.sms.get(sel.Index); s != nil {
			return s, nil
		}
		if c.store != nil && sel.Index < c.store.Stats().Next {
			return nil, reject(coresock.StatusNotActive, "")
		}
		return nil, reject(coresock.StatusNotFound, "")
	}
	// By {OA, DA, MR}: the GSM SMS-COMMAND case, rare enough that a scan
	// of the active SMs costs less than keeping an index of every one. The
	// oldest match is the one meant.
	var found *sm
	c.sms.each(func(s *sm) {
		if s.mr == sel.MR && s.src == sel.OA && s.dst == sel.DA && (found == nil || s.index < found.index) {
			found = s
		}
	})
	if found == nil {
		return nil, reject(coresock.StatusNotFound, "")
	}
	return found, nil
}

// Cancel discharges an active SM as cancelled (§2.5.1.2). An SM in the GSM
// handler's custody is cancelled through it (SMSC_MT_CANCEL).
func (c *Core) Cancel(ctx context.Context, sel Selector) error {
	c.mu.Lock()
	s, rerr := c.findLocked(sel)
	if rerr != nil {
		c.mu.Unlock()
		return rerr
	}
	switch s.loc {
	case locPeerQueue, locIMSIWait, locGSMQueue, locRetry:
		c.detachLocked(s)
		c.mu.Unlock()
		return c.finish(ctx, s, pms.Cancelled, 0)
	case locGSMCustody:
		reg, epoch := s.heldBy, s.heldEpoch
		c.mu.Unlock()
		if reg == nil {
			return reject(coresock.StatusTooBusy, "GSM handler gone")
		}
		cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		st, err := reg.h.CancelMT(cctx, s.index)
		cancel()
		if err != nil {
			return reject(coresock.StatusTemporaryFailure, "GSM handler did not answer")
		}
		if st != coresock.StatusOK {
			return reject(st, "from the GSM handler")
		}
		c.mu.Lock()
		if s.loc != locGSMCustody || s.heldBy != reg || s.heldEpoch != epoch || reg.epoch != epoch {
			// Retaken (and perhaps handed to another handler) meanwhile:
			// this handler's word no longer decides.
			c.mu.Unlock()
			return reject(coresock.StatusTooBusy, "custody changed; try again")
		}
		c.detachLocked(s)
		c.mu.Unlock()
		return c.finish(ctx, s, pms.Cancelled, 0)
	}
	c.mu.Unlock()
	// In a handler's hands right now: the outcome is not ours to decide.
	return reject(coresock.StatusTooBusy, "being delivered right now")
}

// ChangeSRR sets or clears status-report-requested on an active SM
// (§2.5.1.3).
func (c *Core) ChangeSRR(ctx context.Context, sel Selector, srr bool) error {
	c.mu.Lock()
	s, rerr := c.findLocked(sel)
	c.mu.Unlock()
	if rerr != nil {
		return rerr
	}
	err := c.writeState(ctx, s, func(st *pms.State) bool {
		st.SRR = srr
		return true
	})
	// If a discharge overtook this write, the store refused it as
	// historical, and the discharge already carried the new flag.
	if err != nil && !errors.Is(err, pms.ErrHistorical) {
		return reject(coresock.StatusStoreFailed, err.Error())
	}
	return nil
}

// writeState changes an SM's state under the lock and writes the result to
// the store. Writes for one SM are serialized (sm.wmu), so the store ends
// with the last snapshot taken; mutate returns false to write nothing.
func (c *Core) writeState(ctx context.Context, s *sm, mutate func(*pms.State) bool) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	st, changed := c.mutateState(s, mutate)
	if !changed {
		return nil
	}
	if s.eph != nil {
		// Ephemeral: its state lives in RAM only.
		return nil
	}
	return c.store.UpdateClass(context.WithoutCancel(ctx), s.index, s.dstClass, st)
}

// finish discharges a detached SM durably, then sends the status report it
// asked for.
func (c *Core) finish(ctx context.Context, s *sm, disp pms.Disposition, reason uint8) error {
	var st pms.State
	discharge := c.dischargeState(disp, reason)
	err := c.writeState(ctx, s, func(cur *pms.State) bool {
		discharge(cur)
		st = *cur
		return true
	})
	return c.discharged(ctx, s, st, err, false)
}

// finishAsync is finish for a goroutine that must not wait for the store
// (an SMPP session's reader): the discharge is queued and its follow-up
// (the status report, OnDischarge) runs from the store's callback. When
// the SM's state is being written by someone else right now, or it is
// ephemeral, finish runs on a core goroutine instead.
// mutateState applies mutate to s's state under the core's lock and
// returns the state to write, if it changed. The caller holds s.wmu.
func (c *Core) mutateState(s *sm, mutate func(*pms.State) bool) (pms.State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !mutate(&s.state) {
		return pms.State{}, false
	}
	// The kept record's trailer no longer says what the store's will.
	c.dropRawLocked(s)
	return s.state, true
}

// dischargeState is the mutation of a discharge.
func (c *Core) dischargeState(disp pms.Disposition, reason uint8) func(*pms.State) bool {
	return func(cur *pms.State) bool {
		cur.Disposition, cur.Reason, cur.Discharged = disp, reason, c.now()
		return true
	}
}

func (c *Core) finishAsync(s *sm, disp pms.Disposition, reason uint8) {
	if c.asyncLate.Load() {
		// Close gave up waiting: see asyncLate.
		return
	}
	if s.eph != nil || !s.wmu.TryLock() {
		c.goRun(func() { c.finish(context.Background(), s, disp, reason) })
		return
	}
	st, _ := c.mutateState(s, c.dischargeState(disp, reason))
	// The write is queued before wmu is released, so a later write of
	// this SM's state is queued (and written) after it.
	c.async.Add(1)
	err := c.store.UpdateClassAsync(context.Background(), s.index, s.dstClass, st, func(err error) {
		c.discharged(context.Background(), s, st, err, true)
		c.asyncDone()
	})
	s.wmu.Unlock()
	if err != nil {
		c.discharged(context.Background(), s, st, err, true)
		c.asyncDone()
	}
}

// discharged is what follows the write of a discharge (err is its
// outcome): the metric, the status report asked for, OnDischarge. async:
// this runs on a store goroutine, which must not wait for the store, so
// the report is written from another.
func (c *Core) discharged(ctx context.Context, s *sm, st pms.State, err error, async bool) error {
	if err != nil {
		// The SM stays active on disk and is delivered after a restart.
		c.log.Error("discharge not stored", "index", s.index, "error", err)
		return reject(coresock.StatusStoreFailed, err.Error())
	}
	c.m.discharged.Inc(st.Disposition.String())
	if s.eph != nil {
		// Ephemeral: no report (none was asked for), nothing stored.
		if s.onDone != nil {
			s.onDone(st.Disposition)
		}
		return nil
	}
	report := reportDue(st) && !s.statusReport
	switch {
	case report && async:
		// OnDischarge promises the report is stored: it follows it.
		c.goRun(func() {
			c.statusReport(context.Background(), s, st)
			c.notifyDischarge(s, st)
		})
		return nil
	case report:
		c.statusReport(ctx, s, st)
	}
	c.notifyDischarge(s, st)
	return nil
}

func (c *Core) notifyDischarge(s *sm, st pms.State) {
	if c.onDischarge != nil {
		c.onDischarge(s.index, st.Disposition)
	}
}

// reportDue reports whether a discharged SM's state calls for a status
// report: SRR asks for one, and SRRFailureOnly (SMPP registered_delivery
// 2) withdraws it when the SM was delivered.
func reportDue(st pms.State) bool {
	if !st.SRR {
		return false
	}
	return !st.SRRFailureOnly || (st.Disposition != pms.Delivered && st.Disposition != pms.Stored)
}
