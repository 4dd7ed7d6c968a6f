package pager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"switchboard/internal/mmsg"
	"switchboard/internal/redact"
)

// Caller places the "table ready" phone call (options bit 3).
type Caller interface {
	Call(ctx context.Context, number string) error
}

// CallLimiter is a Caller that bounds its own calls (sipcall's Dialer:
// ring, announcement and hang-up). The pager's backstop, CallTimeout, is
// then made longer than that bound, so that the Caller's own outcome (no
// answer, say) is what ends a call, not the backstop's cancel.
type CallLimiter interface {
	CallLimit() time.Duration
}

// callMargin is how much longer than a CallLimiter's bound the backstop
// waits.
const callMargin = time.Second

// Notifier sends the "table ready" SMS. The server package implements it
// over the core as an ephemeral SM; number is E.164 digits.
type Notifier interface {
	NotifySMS(ctx context.Context, number, text string) error
}

// Config configures a pager server. Zero fields take the defaults.
type Config struct {
	// Secret is the shared secret of the server and its stations.
	Secret []byte
	// ReplayWindow is how far a datagram's timestamp may be from the
	// server's clock, and how long a request's answer is kept for its
	// retransmissions.
	ReplayWindow time.Duration
	MaxNumbers   int
	MaxClients   int
	// Retransmit is the first wait for a station's acknowledgement of a
	// push; it doubles up to RetransmitMax. PushGiveUp ends the attempts.
	Retransmit    time.Duration
	RetransmitMax time.Duration
	PushGiveUp    time.Duration
	// MaxPushQueue bounds the updates waiting for one station.
	MaxPushQueue int
	// MaxNonces bounds the replay window's memory.
	MaxNonces int
	// MaxInFlight bounds the SMS and calls in progress at once.
	MaxInFlight int
	// Greeting is the SMS text when a packet's greeting is empty.
	Greeting string
	// CallTimeout bounds one phone call, ringing included. It is a
	// backstop against a Caller that never returns: the Caller's own
	// bounds are what ought to end a call, so for a CallLimiter it is
	// raised above CallLimit.
	CallTimeout time.Duration
	// CallsOffReason is the NACK reason when Caller is nil.
	CallsOffReason string
	Logger         *slog.Logger
	Metrics        *Metrics
	// Now is the clock (tests).
	Now func() time.Time
}

// DefaultGreeting is the SMS text when none is configured or sent.
const DefaultGreeting = "Your table is ready. Party {n}, please come to the host stand."

func (c *Config) setDefaults() {
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 30 * time.Second
	}
	if c.MaxNumbers <= 0 {
		c.MaxNumbers = 1000
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 64
	}
	if c.Retransmit <= 0 {
		c.Retransmit = 250 * time.Millisecond
	}
	if c.RetransmitMax <= 0 {
		c.RetransmitMax = 8 * time.Second
	}
	if c.PushGiveUp <= 0 {
		c.PushGiveUp = 5 * time.Minute
	}
	if c.MaxPushQueue <= 0 {
		c.MaxPushQueue = 1024
	}
	if c.MaxNonces <= 0 {
		c.MaxNonces = 1 << 20
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.Greeting == "" {
		c.Greeting = DefaultGreeting
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 60 * time.Second
	}
	if c.CallsOffReason == "" {
		c.CallsOffReason = "calls disabled: pager.sip_proxy is not set"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Entry is one waitlist entry as stations see it.
type Entry struct {
	Number uint64
	Added  time.Time
}

// Server is a running pager server. Locking: mu guards the waitlist, the
// stations and the request cache; it is never held while sending, calling
// the Notifier or the Caller. The replay window belongs to the receive
// loop alone.
type Server struct {
	cfg    Config
	keys   *Keys
	sms    Notifier
	caller Caller
	log    *slog.Logger
	m      *Metrics
	sem    chan struct{}

	conn *net.UDPConn
	wg   sync.WaitGroup
	quit chan struct{}
	kick chan struct{}
	work context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	numbers  map[uint64]time.Time
	parties  map[uint64]Party
	order    []uint64
	stations map[uint32]*station
	requests map[reqKey]*request
	// reqOrder[reqHead:] are the keys of requests, oldest first; the
	// prefix before reqHead is dead, kept until it is worth compacting.
	reqOrder []reqKey
	reqHead  int
	watchers map[chan struct{}]struct{}
}

// station is a registered host station: where it last spoke from and the
// updates it has not acknowledged yet, oldest first. Only the oldest is
// in flight (stop and wait), so that a station applies the updates in
// the order they happened even when retransmissions cross.
type station struct {
	id      uint32
	addr    netip.AddrPort
	seq     uint16
	pending []*push
}

type push struct {
	seq      uint16
	pkt      []byte
	next     time.Time
	interval time.Duration
	giveUp   time.Time
}

// reqKey names a request for its retransmissions: the same sequence
// number from the same sender within the replay window is the same
// request when its content is the same.
type reqKey struct {
	client uint32
	addr   netip.AddrPort
	seq    uint16
}

type request struct {
	plain  string
	at     time.Time
	answer []byte // nil while in progress
}

// New creates a pager server. caller may be nil: calls are then refused
// with cfg.CallsOffReason.
func New(cfg Config, sms Notifier, caller Caller) (*Server, error) {
	cfg.setDefaults()
	if l, ok := caller.(CallLimiter); ok {
		cfg.CallTimeout = max(cfg.CallTimeout, l.CallLimit()+callMargin)
	}
	keys, err := NewKeys(cfg.Secret)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, keys: keys, sms: sms, caller: caller,
		log: cfg.Logger, m: cfg.Metrics,
		sem:      make(chan struct{}, cfg.MaxInFlight),
		quit:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		work:     ctx,
		stop:     cancel,
		numbers:  map[uint64]time.Time{},
		parties:  map[uint64]Party{},
		stations: map[uint32]*station{},
		requests: map[reqKey]*request{},
		watchers: map[chan struct{}]struct{}{},
	}, nil
}

// Serve answers datagrams on conn until Shutdown. It returns nil after
// Shutdown, or the read error that ended it.
func (s *Server) Serve(conn *net.UDPConn) error {
	// Under mu against Shutdown: either Shutdown sees the socket (and
	// unblocks its read) or Serve sees that Shutdown came first.
	s.mu.Lock()
	select {
	case <-s.quit:
		s.mu.Unlock()
		return nil
	default:
	}
	s.conn = conn
	// Serve counts itself too, so that the SMS and call goroutines it
	// adds never race Shutdown's Wait on a zero count.
	s.wg.Add(2)
	s.mu.Unlock()
	defer s.wg.Done()
	go func() {
		defer s.wg.Done()
		s.retransmitLoop()
	}()
	replay := newReplayWindow(s.cfg.ReplayWindow, s.cfg.MaxNonces)
	// One byte more than the longest datagram, so that a longer one
	// shows as too long instead of being cut to a valid-looking length.
	br, err := mmsg.NewReader(conn, batchSize, MaxDatagram+1, true)
	if err != nil {
		return fmt.Errorf("pager: %w", err)
	}
	plain := make([]byte, MaxDatagram)
	for {
		n, err := br.Read()
		for i := range n {
			b, addr := br.Packet(i), br.Source(i)
			s.handle(b, plain, addr, replay)
		}
		if err != nil {
			select {
			case <-s.quit:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("pager: read: %w", err)
		}
	}
}

// batchSize is how many datagrams one receive system call may take.
const batchSize = 64

// Shutdown stops Serve, cancels SMS and calls in progress and waits for
// them. The waitlist is gone with the server: it was never written down.
func (s *Server) Shutdown() {
	s.mu.Lock()
	close(s.quit)
	s.stop()
	if s.conn != nil {
		s.conn.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// handle is one datagram's path: the cheap checks and the AEAD first, so
// that garbage costs nothing more; then the replay window; then the
// request.
func (s *Server) handle(b, plainBuf []byte, addr netip.AddrPort, replay *replayWindow) {
	h, ts, pt, err := s.keys.Open(plainBuf, b, MagicToServer)
	switch {
	case errors.Is(err, ErrShort):
		s.m.dropShort.Inc()
		return
	case errors.Is(err, ErrMagic):
		s.m.dropMagic.Inc()
		return
	case err != nil:
		s.m.dropAuth.Inc()
		return
	}
	now := s.cfg.Now()
	if err := replay.check(&h.Nonce, ts, now); err != nil {
		if errors.Is(err, ErrStale) {
			s.m.drop(dropStale)
		} else {
			s.m.drop(dropReplay)
		}
		return
	}
	p, err := Parse(pt)
	if err != nil {
		s.m.drop(dropMalformed)
		return
	}
	if p.Kind() == KindClient {
		// A copy, so that only this rare path pays for the escape.
		nonce := h.Nonce
		if !s.keys.CheckProof(p.ClientID, p.Options, nonce[:], &p.Proof) {
			s.m.drop(dropProof)
			return
		}
	} else if h.ClientID != 0 && !s.known(h.ClientID, addr) {
		s.m.drop(dropUnknown)
		return
	}
	s.m.accepted.Inc()
	if p.Options&OptAck != 0 {
		s.acked(h.ClientID, p.Seq)
		return
	}
	s.request(h.ClientID, addr, &p, pt, now)
}

// known reports whether id is a registered station, and learns where it
// speaks from: pushes go to the address a station last used.
func (s *Server) known(id uint32, addr netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stations[id]
	if st == nil {
		return false
	}
	if st.addr != addr {
		st.addr = addr
		if len(st.pending) > 0 {
			st.pending[0].next = s.cfg.Now()
			s.wakeRetransmit()
		}
	}
	return true
}

func (s *Server) acked(id uint32, seq uint16) {
	s.mu.Lock()
	st := s.stations[id]
	ok := st != nil && len(st.pending) > 0 && st.pending[0].seq == seq
	if ok {
		st.pending[0] = nil
		st.pending = st.pending[1:]
		if len(st.pending) > 0 {
			st.pending[0].next = s.cfg.Now()
			s.wakeRetransmit()
		}
	}
	s.mu.Unlock()
	if ok {
		s.m.pushes.WithLabelValues("acked").Inc()
	} else {
		s.m.drop(dropStrayAck)
	}
}

// request runs a request once and answers each of its retransmissions
// with the same answer.
func (s *Server) request(client uint32, addr netip.AddrPort, p *Packet, pt []byte, now time.Time) {
	key := reqKey{client, addr, p.Seq}
	s.mu.Lock()
	s.expireRequestsLocked(now)
	if r := s.requests[key]; r != nil && r.plain == string(pt) {
		answer := r.answer
		s.mu.Unlock()
		if answer != nil {
			s.send(client, addr, answer)
		}
		return
	}
	r := &request{plain: string(pt), at: now}
	if _, ok := s.requests[key]; !ok {
		s.reqOrder = append(s.reqOrder, key)
	}
	s.requests[key] = r
	s.mu.Unlock()

	finish := func(ans *Packet, op string) {
		b, err := ans.Marshal(nil)
		if err != nil {
			s.log.Error("pager answer not encoded", "error", err)
			return
		}
		s.mu.Lock()
		r.answer = b
		// The replay window counts from the answer: a call that rang for
		// longer than the window must not be placed again when the
		// station's next retransmission comes.
		r.at = s.cfg.Now()
		s.mu.Unlock()
		s.m.requests.WithLabelValues(op, statusName(ans.Status)).Inc()
		s.send(client, addr, b)
	}
	ans, op, async := s.decide(client, p)
	if async == nil {
		finish(ans, op)
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		finish(nack(p, StatusBusy, "too many notifications in progress"), op)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		finish(async(s.work), op)
	}()
}

// expireRequestsLocked forgets the answered requests older than the
// replay window, oldest first, and any beyond the cache's bound. It runs
// for every request, so it works in place: the keys it forgets are
// dropped by moving reqHead, not by copying the queue.
func (s *Server) expireRequestsLocked(now time.Time) {
	cut := now.Add(-s.cfg.ReplayWindow)
	q := s.reqOrder
	inProgress := 0
	i := s.reqHead
	for ; i < len(q); i++ {
		r := s.requests[q[i]]
		if r != nil && r.answer == nil {
			// Still running (an SMS or a call): never forgotten, or
			// its retransmissions would run it again. There are at
			// most MaxInFlight of them.
			inProgress++
			continue
		}
		if r != nil && r.at.After(cut) && len(q)-i <= 4*s.cfg.MaxNumbers+4096 {
			break
		}
		delete(s.requests, q[i])
	}
	// The requests in progress that were passed over move, in their
	// order, to just before q[i], over the slots of the forgotten ones
	// (whose keys are no longer in the map), so that the queue stays one
	// run from reqHead.
	w := i
	for j := i - 1; w > i-inProgress; j-- {
		if r := s.requests[q[j]]; r != nil && r.answer == nil {
			w--
			q[w] = q[j]
		}
	}
	s.reqHead = w
	// Once the dead prefix is over half the array, the live keys move to
	// its start, so that append reuses the space instead of growing the
	// array for ever. Each move copies at most as many keys as were
	// forgotten since the last one.
	if s.reqHead > cap(q)/2 {
		n := copy(q, q[s.reqHead:])
		clear(q[n:])
		s.reqOrder, s.reqHead = q[:n], 0
	}
}

// ack is the answer to p: its own fields, Ack set, status OK.
func ack(p *Packet) *Packet {
	a := *p
	a.Options |= OptAck
	a.Options &^= OptExt
	a.HasStatus, a.Status, a.Reason = true, StatusOK, ""
	a.HasList, a.List = false, nil
	return &a
}

func nack(p *Packet, st Status, reason string) *Packet {
	a := ack(p)
	a.Status, a.Reason = st, reason
	if st == StatusBadGreeting {
		// The refused greeting is not echoed: with the status item an
		// overlong one would not fit a datagram, and the NACK would be
		// lost.
		a.Greeting = nil
	}
	return a
}

// decide applies a request. It returns the answer at once, or work to do
// off the receive loop (SMS, call) that returns the answer.
func (s *Server) decide(client uint32, p *Packet) (*Packet, string, func(context.Context) *Packet) {
	opt := p.Options &^ (OptExt | OptAck)
	switch p.Kind() {
	case KindClient:
		if opt&OptAddClient != 0 && opt&OptRemoveClient != 0 {
			return nack(p, StatusBadRequest, "add and remove client both set"), "client", nil
		}
		if opt&OptAddClient != 0 {
			return s.addClient(p), "add_client", nil
		}
		s.removeClient(p.ClientID)
		return ack(p), "remove_client", nil
	case KindNumber:
		if opt == 0 && p.HasList {
			return s.list(p), "list", nil
		}
		if opt == 0 {
			return ack(p), "hello", nil
		}
		if opt&^(OptAdd|OptRemove|OptCall) != 0 {
			return nack(p, StatusBadRequest, "option bits 4-5 mixed with number operations"), "number", nil
		}
	case KindSMS:
		if opt&(OptAddClient|OptRemoveClient) != 0 {
			return nack(p, StatusBadRequest, "option bits 4-5 mixed with number operations"), "sms", nil
		}
	}
	op := opName(opt)
	if opt&OptAdd != 0 && opt&OptRemove != 0 {
		return nack(p, StatusBadRequest, "add and remove both set"), op, nil
	}
	if !ValidNumber(p.Number) {
		return nack(p, StatusBadNumber, "not an E.164 number of 8 to 15 digits"), op, nil
	}
	var text string
	if opt&OptSMS != 0 {
		if !ValidGreeting(p.Greeting) {
			return nack(p, StatusBadGreeting, "greeting over 64 bytes or not UTF-8"), op, nil
		}
		text = Greeting(string(p.Greeting), s.cfg.Greeting, p.Party)
		if s.sms == nil {
			return nack(p, StatusSMSRefused, "SMS disabled"), op, nil
		}
	}
	if opt&OptCall != 0 && s.caller == nil {
		return nack(p, StatusCallsOff, s.cfg.CallsOffReason), op, nil
	}
	if opt&OptAdd != 0 {
		if !s.addNumber(client, p.Number) {
			return nack(p, StatusListFull, "waitlist is full"), op, nil
		}
	}
	if opt&(OptSMS|OptCall) == 0 {
		if opt&OptRemove != 0 {
			s.removeNumber(client, p.Number)
		}
		return ack(p), op, nil
	}
	number := NumberString(p.Number)
	return nil, op, func(ctx context.Context) *Packet {
		if opt&OptSMS != 0 {
			if err := s.sms.NotifySMS(ctx, number, text); err != nil {
				return nack(p, StatusSMSRefused, reasonOf(err))
			}
		}
		if opt&OptCall != 0 {
			cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
			err := s.caller.Call(cctx, number)
			cancel()
			if err != nil {
				return nack(p, StatusCallFailed, reasonOf(err))
			}
		}
		if opt&OptRemove != 0 {
			s.removeNumber(client, p.Number)
		}
		return ack(p)
	}
}

// reasonOf is an error as a NACK reason: short, and never the number
// (callers' errors must not carry it; this is a second guard).
func reasonOf(err error) string {
	// A far end's reason phrase may quote the number in any format: every
	// run of four digits or more becomes "#". Reasons are ASCII
	// (docs/pager-protocol.md).
	r := strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e {
			return '?'
		}
		return c
	}, redact.Numbers(err.Error()))
	if len(r) > 120 {
		r = r[:120]
	}
	return r
}

// Greeting makes the SMS text: greeting (or def when empty) with every
// "{n}" replaced by the party number. A greeting without "{n}" gets
// " (party N)" appended when the party number is not 0.
func Greeting(greeting, def string, party uint16) string {
	if greeting == "" {
		greeting = def
	}
	n := fmt.Sprint(party)
	if strings.Contains(greeting, "{n}") {
		return strings.ReplaceAll(greeting, "{n}", n)
	}
	if party != 0 {
		return greeting + " (party " + n + ")"
	}
	return greeting
}

func opName(opt uint8) string {
	switch {
	case opt&OptSMS != 0:
		return "sms"
	case opt&OptCall != 0:
		return "call"
	case opt&OptAdd != 0:
		return "add"
	case opt&OptRemove != 0:
		return "remove"
	}
	return "other"
}

// StatusName is the status as a word (metrics labels, answers).
func StatusName(st Status) string { return statusName(st) }

func statusName(st Status) string {
	switch st {
	case StatusOK:
		return "ok"
	case StatusBadNumber:
		return "bad_number"
	case StatusBadGreeting:
		return "bad_greeting"
	case StatusBadRequest:
		return "bad_request"
	case StatusSMSRefused:
		return "sms_refused"
	case StatusCallsOff:
		return "calls_off"
	case StatusCallFailed:
		return "call_failed"
	case StatusListFull:
		return "list_full"
	case StatusBusy:
		return "busy"
	case StatusClientsFull:
		return "clients_full"
	}
	return "other"
}

func (s *Server) addClient(p *Packet) *Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stations[p.ClientID] == nil {
		if p.ClientID == 0 {
			return nack(p, StatusBadRequest, "client id 0 is the host tool's")
		}
		if len(s.stations) >= s.cfg.MaxClients {
			return nack(p, StatusClientsFull, "pager.max_clients stations registered")
		}
		s.stations[p.ClientID] = &station{id: p.ClientID, seq: uint16(NewNonce()[0]) << 8}
		s.m.stations.Set(float64(len(s.stations)))
		s.log.Info("pager station added", "client", p.ClientID)
	}
	return ack(p)
}

func (s *Server) removeClient(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stations[id] != nil {
		delete(s.stations, id)
		s.m.stations.Set(float64(len(s.stations)))
		s.log.Info("pager station removed", "client", id)
	}
}

// addNumber puts n on the waitlist (already there is fine) and pushes
// the change to every station but the one that made it. It returns
// false when the list is full.
func (s *Server) addNumber(from uint32, n uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.numbers[n]; ok {
		return true
	}
	if len(s.numbers) >= s.cfg.MaxNumbers {
		return false
	}
	s.numbers[n] = s.cfg.Now()
	s.order = append(s.order, n)
	s.m.waitlist.Set(float64(len(s.numbers)))
	s.pushLocked(from, &Packet{Options: OptAdd, Number: n})
	return true
}

func (s *Server) removeNumber(from uint32, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.numbers[n]; !ok {
		return
	}
	delete(s.numbers, n)
	delete(s.parties, n)
	for i, x := range s.order {
		if x == n {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.m.waitlist.Set(float64(len(s.numbers)))
	s.pushLocked(from, &Packet{Options: OptRemove, Number: n})
}

// pushLocked queues the update for every station but from, each with its
// own next sequence number, and wakes the in-process watchers.
func (s *Server) pushLocked(from uint32, p *Packet) {
	now := s.cfg.Now()
	for id, st := range s.stations {
		if id == from {
			continue
		}
		st.seq++
		q := *p
		q.Seq = st.seq
		b, err := q.Marshal(nil)
		if err != nil {
			continue
		}
		if len(st.pending) >= s.cfg.MaxPushQueue {
			// The station has been silent for a long time: it loses
			// its oldest update and must list to catch up.
			st.pending = st.pending[1:]
			if len(st.pending) > 0 {
				st.pending[0].next = now
			}
			s.m.pushes.WithLabelValues("overflow").Inc()
		}
		st.pending = append(st.pending, &push{seq: q.Seq, pkt: b, next: now, interval: s.cfg.Retransmit, giveUp: now.Add(s.cfg.PushGiveUp)})
	}
	s.notifyWatchersLocked()
	s.wakeRetransmit()
}

func (s *Server) list(p *Packet) *Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := ack(p)
	a.HasList = true
	a.ListFrom = p.ListFrom
	a.ListTotal = uint16(min(len(s.order), 0xFFFF))
	if int(p.ListFrom) < len(s.order) {
		end := min(len(s.order), int(p.ListFrom)+MaxListPerPacket)
		a.List = append([]uint64(nil), s.order[p.ListFrom:end]...)
	}
	return a
}

// Waitlist is a copy of the list, oldest first.
func (s *Server) Waitlist() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, len(s.order))
	for i, n := range s.order {
		out[i] = Entry{Number: n, Added: s.numbers[n]}
	}
	return out
}

// Watch returns a channel that gets a value (coalesced) after each change
// of the waitlist, and a function to stop watching.
func (s *Server) Watch() (<-chan struct{}, func(), error) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if len(s.watchers) >= MaxWatchers {
		s.mu.Unlock()
		return nil, nil, ErrTooManyWatchers
	}
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	}, nil
}

// MaxWatchers bounds the watchers at once (the host-stand pages open):
// each change is signalled to every one under the server's lock, which
// the receive path takes too.
const MaxWatchers = 64

// ErrTooManyWatchers: Watch refused, MaxWatchers are watching.
var ErrTooManyWatchers = errors.New("pager: too many watchers")

// send seals and sends one packet to a station or the host tool.
func (s *Server) send(client uint32, addr netip.AddrPort, pkt []byte) {
	h := Header{Magic: MagicToStation, ClientID: client, Nonce: NewNonce()}
	b, err := s.keys.Seal(make([]byte, 0, MaxDatagram), &h, s.cfg.Now(), pkt)
	if err != nil {
		s.log.Error("pager answer not sealed", "error", err)
		return
	}
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.WriteToUDPAddrPort(b, addr)
	}
}
