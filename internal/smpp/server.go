package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/acceptloop"
	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/smpp/pdu"
	"switchboard/internal/smpp/smdata"
	"switchboard/internal/smstext"
	"switchboard/internal/workpool"
)

// ServerConfig configures the SMPP server that downstream peers bind to.
type ServerConfig struct {
	// SystemID is what bind responses name us (default "switchboard").
	SystemID string
	// Session holds the per-session limits and timers.
	Session SessionConfig
	// BindTimeout closes a connection that has not bound in this time
	// (default 30s), so idle sockets cannot pile up.
	BindTimeout time.Duration
	// MaxSessions bounds the connections open at once (default 1000);
	// more are closed as they arrive.
	MaxSessions int
	// MaxUnboundPerIP bounds the connections from one address that have
	// not bound yet (default 8), so that one host cannot hold every slot
	// with idle sockets until their bind timeout.
	MaxUnboundPerIP int
	// AuthConcurrency bounds the password checks running at once
	// (default 2): each costs a deliberate PBKDF2 stretch, and a bind
	// flood must not take every core.
	AuthConcurrency int
	// MaxInFlight bounds the submits of one session that the core is
	// still working on (default 1000). An ESME that ignores its window
	// and sends more gets ESME_RTHROTTLED for the excess instead of
	// growing our memory without bound.
	MaxInFlight int
	// MaxParts bounds the records one message may become (default 16):
	// a 64 KiB message_payload would otherwise be 255 store writes.
	MaxParts int
	// DrainTimeout bounds how long an unbind (ours at shutdown, or the
	// peer's) waits for the answers still owed to the peer (default 10s).
	DrainTimeout time.Duration
	// Text says how stored text is put on the wire to peers.
	Text smdata.OutOptions
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.SystemID == "" {
		c.SystemID = "switchboard"
	}
	if c.BindTimeout <= 0 {
		c.BindTimeout = 30 * time.Second
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1000
	}
	if c.MaxUnboundPerIP <= 0 {
		c.MaxUnboundPerIP = 8
	}
	if c.AuthConcurrency <= 0 {
		c.AuthConcurrency = 2
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1000
	}
	if c.MaxParts <= 0 || c.MaxParts > 255 {
		c.MaxParts = 16
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Session.MaxPDUBeforeBind <= 0 {
		// A bind is about a hundred octets; nothing longer is legitimate
		// before one.
		c.Session.MaxPDUBeforeBind = 1024
	}
	c.Session = c.Session.withDefaults()
	return c
}

// Authenticator checks a bind's credentials and source address and names
// the downstream peer they belong to. The numbering table's AuthPeer is
// the production one.
type Authenticator func(systemID, password string, ip netip.Addr) (peer string, err error)

// Server is the SMPP server for downstream peers (seed 001 §1.2.1): peers
// bind to it, submit SMs into the core as peer-originated, and receive the
// SMs routed to them, status reports included, as deliver_sm.
//
// Lock order: peerLink.regMu, then Server.mu. Calls into the core are made
// holding at most regMu, never mu, because the core calls back into
// DeliverToPeer, which takes mu.
type Server struct {
	cfg  ServerConfig
	core Core
	auth Authenticator
	log  *slog.Logger
	m    *Metrics

	authSem  chan struct{}
	wg       sync.WaitGroup
	work     *workpool.Pool
	draining atomic.Bool   // Shutdown has begun: no new submits
	quit     chan struct{} // closed by Shutdown

	mu       sync.Mutex
	closing  bool
	lns      map[net.Listener]struct{}
	sessions map[*Session]struct{}
	unbound  map[netip.Addr]int // connections per address not bound yet
	peers    map[string]*peerLink
	gates    map[string]*answerGate
}

// NewServer prepares a server; Serve starts it on a listener.
func NewServer(cfg ServerConfig, c Core, auth Authenticator, log *slog.Logger, m *Metrics) *Server {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, core: c, auth: auth, log: log, m: m,
		authSem:  make(chan struct{}, cfg.AuthConcurrency),
		work:     workpool.New(),
		quit:     make(chan struct{}),
		lns:      map[net.Listener]struct{}{},
		sessions: map[*Session]struct{}{},
		unbound:  map[netip.Addr]int{},
		peers:    map[string]*peerLink{},
		gates:    map[string]*answerGate{},
	}
}

// gate is the peer's answer gate (see answerGate).
func (s *Server) gate(peer string) *answerGate {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gates[peer]
	if g == nil {
		g = newAnswerGate()
		s.gates[peer] = g
	}
	return g
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smpp: server closed")

// Serve accepts connections on ln until Shutdown. A failing accept (no
// file descriptors left during a connection flood) is retried with backoff,
// as net/http does, rather than ending the listener.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	err := acceptloop.Run(ln, s.quit, s.start, func(err error, retryIn time.Duration) {
		s.m.bindFailed("accept_error")
		s.log.Warn("smpp accept failed; retrying", "listen", ln.Addr().String(), "error", err, "retry_in", retryIn)
	})
	if errors.Is(err, acceptloop.ErrStopped) {
		return ErrServerClosed
	}
	return fmt.Errorf("smpp accept: %w", err)
}

// serverSession is the server's state for one session.
type serverSession struct {
	ip        netip.Addr
	counted   bool // still counted in Server.unbound; guarded by Server.mu
	peer      string
	gate      *answerGate
	bindTimer *time.Timer
	owed      owed // answers still owed: submits the core is working on
}

func (s *Server) start(conn net.Conn) {
	sess := NewSession(conn, s.cfg.Session, s, s.log, s.m)
	ss := &serverSession{}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		ss.ip = ta.AddrPort().Addr().Unmap()
	}
	sess.Value = ss
	s.mu.Lock()
	if s.closing || len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		s.m.bindFailed("too_many_sessions")
		conn.Close()
		return
	}
	if s.unbound[ss.ip] >= s.cfg.MaxUnboundPerIP {
		s.mu.Unlock()
		s.m.bindFailed("too_many_unbound_from_address")
		conn.Close()
		return
	}
	s.unbound[ss.ip]++
	ss.counted = true
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	ss.bindTimer = time.AfterFunc(s.cfg.BindTimeout, func() {
		if sess.State() == StateOpen {
			s.m.bindFailed("bind_timeout")
			sess.Close()
		}
	})
	go func() {
		defer s.wg.Done()
		sess.Run()
		ss.bindTimer.Stop()
		s.detach(sess, ss)
		s.mu.Lock()
		delete(s.sessions, sess)
		s.uncountLocked(ss)
		s.mu.Unlock()
	}()
}

// uncountLocked takes a session out of the unbound count, once.
func (s *Server) uncountLocked(ss *serverSession) {
	if !ss.counted {
		return
	}
	ss.counted = false
	if s.unbound[ss.ip]--; s.unbound[ss.ip] <= 0 {
		delete(s.unbound, ss.ip)
	}
}

// Shutdown stops accepting, refuses new submits, lets every session's
// owed answers go out, unbinds it (waiting for the unbind_resp at most
// until ctx ends), and waits for the work in flight.
func (s *Server) Shutdown(ctx context.Context) {
	s.draining.Store(true)
	s.mu.Lock()
	if !s.closing {
		close(s.quit)
	}
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	sessions := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sess.State() == StateOpen {
				sess.Close()
				return
			}
			// An accepted message whose response is lost is sent again
			// by the peer: answer everything first.
			sess.Value.(*serverSession).owed.wait(ctx)
			sess.Unbind(ctx)
		}()
	}
	wg.Wait()
	s.wg.Wait()
	s.work.Close()
}

// DrainSession is called when the peer unbinds: the answers still owed go
// out before the unbind_resp.
func (s *Server) DrainSession(sess *Session) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	sess.Value.(*serverSession).owed.wait(ctx)
}

// HandleRequest dispatches a request from a peer by bind state.
func (s *Server) HandleRequest(sess *Session, p pdu.PDU) {
	ss := sess.Value.(*serverSession)
	hd := p.Header
	switch b := p.Body.(type) {
	case *pdu.Bind:
		s.bind(sess, ss, hd, b)
		return
	case *pdu.OutbindBody, *pdu.AlertNotificationBody:
		// SMSC-to-ESME operations: not for a server to receive.
		sess.Respond(hd.Sequence, pdu.StatusInvCmdID, &pdu.GenericNackBody{})
		return
	}
	st := sess.State()
	if !st.CanTransmit() {
		// Before a bind, and on a receiver bind, nothing but bind,
		// enquire_link and unbind is allowed (§2.3).
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusInvBndSts)
		return
	}
	if s.draining.Load() {
		// Shutting down: the peer should try again elsewhere or later.
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusSysErr)
		return
	}
	switch b := p.Body.(type) {
	case *pdu.SM:
		if b.Cmd != pdu.SubmitSM {
			sess.Respond(hd.Sequence, pdu.StatusInvBndSts, &pdu.SMResp{Cmd: b.Cmd.Response()})
			return
		}
		in := inboundSM(b)
		s.submit(sess, ss, hd.Sequence, &in, func(id string, st pdu.Status) {
			sess.Respond(hd.Sequence, st, &pdu.SMResp{Cmd: pdu.SubmitSMResp, MessageID: id})
		})
	case *pdu.DataSMBody:
		in := inboundDataSM(b)
		s.submit(sess, ss, hd.Sequence, &in, func(id string, st pdu.Status) {
			sess.Respond(hd.Sequence, st, &pdu.DataSMRespBody{MessageID: id})
		})
	case *pdu.SubmitMultiBody:
		s.submitMulti(sess, ss, hd.Sequence, b)
	case *pdu.QuerySMBody:
		s.later(ss, func() {
			st, body := s.query(ss.peer, b)
			sess.Respond(hd.Sequence, st, body)
		}, func() { sess.Respond(hd.Sequence, pdu.StatusThrottled, &pdu.QuerySMRespBody{}) })
	case *pdu.CancelSMBody:
		s.later(ss, func() {
			sess.Respond(hd.Sequence, s.cancel(ss.peer, b), &pdu.CancelSMRespBody{})
		}, func() { sess.Respond(hd.Sequence, pdu.StatusThrottled, &pdu.CancelSMRespBody{}) })
	case *pdu.ReplaceSMBody:
		s.later(ss, func() {
			sess.Respond(hd.Sequence, s.replace(ss.peer, b), &pdu.ReplaceSMRespBody{})
		}, func() { sess.Respond(hd.Sequence, pdu.StatusThrottled, &pdu.ReplaceSMRespBody{}) })
	default:
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusInvCmdID)
	}
}

// bind authenticates a bind request. It runs on the session's reader,
// which has nothing else to do until the bind is answered; the semaphore
// keeps a flood of binds from taking more than AuthConcurrency cores.
func (s *Server) bind(sess *Session, ss *serverSession, hd pdu.Header, b *pdu.Bind) {
	resp := &pdu.BindResp{Cmd: b.Cmd.Response(), SystemID: s.cfg.SystemID}
	if sess.State() != StateOpen {
		sess.Respond(hd.Sequence, pdu.StatusAlyBnd, resp)
		return
	}
	select {
	case s.authSem <- struct{}{}:
	case <-sess.Done():
		return
	}
	peer, err := s.auth(b.SystemID, b.Password, ss.ip)
	<-s.authSem
	if err != nil {
		// One status for every reason, so a prober learns nothing about
		// which system IDs exist; the log and the metric say which.
		s.m.bindFailed("credentials")
		s.log.Info("smpp bind refused", "remote", sess.RemoteAddr().String(), "system_id", b.SystemID, "reason", err.Error())
		sess.Respond(hd.Sequence, pdu.StatusBindFail, resp)
		// No second guess on this connection: each costs a password
		// hash, and a pipelined burst of binds must not buy many.
		sess.drainAndClose(errBindFailed)
		return
	}
	var state BindState
	switch b.Cmd {
	case pdu.BindTransmitter:
		state = StateBoundTX
	case pdu.BindReceiver:
		state = StateBoundRX
	default:
		state = StateBoundTRX
	}
	ss.bindTimer.Stop()
	ss.peer = peer
	ss.gate = s.gate(peer)
	if !sess.SetState(state) {
		return // closed meanwhile (the bind timer, a shutdown)
	}
	s.mu.Lock()
	s.uncountLocked(ss)
	s.mu.Unlock()
	resp.TLVs = pdu.TLVs{pdu.TLVUint8(pdu.TagSCInterfaceVersion, 0x34)}
	sess.Respond(hd.Sequence, pdu.StatusOK, resp)
	s.log.Info("smpp peer bound", "peer", peer, "remote", sess.RemoteAddr().String(), "bind", state.String())
	s.attach(sess, peer, state.CanReceive())
}

var errBindFailed = errors.New("smpp: bind refused")

// submit admits one message from a peer. The core's durable write takes a
// group commit, so the reader does not wait for it: a one-record message
// is answered from the store's callback, a longer one from a worker that
// admits its parts in order. The response is sent when the last record is
// on disk; responses may overtake each other, which SMPP allows.
func (s *Server) submit(sess *Session, ss *serverSession, seq uint32, in *inbound, answer func(id string, st pdu.Status)) {
	recs, st := in.records(pms.ClassDownstream, ss.peer, s.cfg.MaxParts, time.Now())
	if st == pdu.StatusOK && !ss.owed.add(len(recs), s.cfg.MaxInFlight) {
		st = pdu.StatusThrottled
	}
	if st != pdu.StatusOK {
		s.m.submitted(st)
		answer("", st)
		return
	}
	s.wg.Add(1)
	tk := ss.gate.enter()
	finish := func(id string, st pdu.Status) {
		s.m.submitted(st)
		answer(id, st)
		tk.leave()
		ss.owed.done(len(recs))
		s.wg.Done()
	}
	if len(recs) == 1 {
		s.core.SubmitAsync(recs[0], false, func(idx uint64, _ bool, err error) {
			if err != nil {
				finish("", coreStatus(err))
				return
			}
			finish(FormatID(idx), pdu.StatusOK)
		})
		return
	}
	s.work.Go(func() { finish(s.admit(recs)) })
}

// admit hands records to the core in order and returns the first one's id.
// A rejection of a later part leaves the earlier parts admitted: they are
// durable and will be delivered, and the ESME's retry of the whole message
// is recognised as a duplicate of them, since a split message's
// concatenation reference is derived from its content (concatRef).
func (s *Server) admit(recs []*pms.Record) (string, pdu.Status) {
	var first uint64
	for i, r := range recs {
		idx, _, err := s.core.Submit(context.Background(), r, false)
		if err != nil {
			return "", coreStatus(err)
		}
		if i == 0 {
			first = idx
		}
	}
	return FormatID(first), pdu.StatusOK
}

// submitMulti admits one copy of the message per SME destination.
// Distribution lists do not exist here: each is reported unsuccessful.
func (s *Server) submitMulti(sess *Session, ss *serverSession, seq uint32, b *pdu.SubmitMultiBody) {
	if len(b.Dests) == 0 || len(b.Dests) > 254 {
		sess.Respond(seq, pdu.StatusInvNumDests, &pdu.SubmitMultiRespBody{})
		return
	}
	type job struct {
		dst  pdu.Address
		recs []*pms.Record
	}
	var jobs []job
	var failed []pdu.UnsuccessSME
	weight := 0
	now := time.Now()
	for _, d := range b.Dests {
		if d.IsDistList {
			failed = append(failed, pdu.UnsuccessSME{Addr: pdu.Address{Addr: d.DistList}, Status: pdu.StatusInvDLName})
			continue
		}
		in := inbound{src: b.Source, dst: d.Addr, esm: b.ESMClass, pid: b.ProtocolID, regDelivery: b.RegisteredDelivery,
			dataCoding: b.DataCoding, validity: b.ValidityPeriod, shortMessage: b.ShortMessage, tlvs: b.TLVs}
		recs, st := in.records(pms.ClassDownstream, ss.peer, s.cfg.MaxParts, now)
		if st != pdu.StatusOK {
			failed = append(failed, pdu.UnsuccessSME{Addr: d.Addr, Status: st})
			continue
		}
		jobs = append(jobs, job{d.Addr, recs})
		weight += len(recs)
	}
	// Every record counts against the session's bound, so a
	// submit_multi of 254 destinations weighs what 254 submits do.
	if !ss.owed.add(weight, s.cfg.MaxInFlight) {
		sess.Respond(seq, pdu.StatusThrottled, &pdu.SubmitMultiRespBody{})
		return
	}
	s.wg.Add(1)
	tk := ss.gate.enter()
	s.work.Go(func() {
		defer s.wg.Done()
		defer ss.owed.done(weight)
		defer tk.leave()
		var id string
		for _, j := range jobs {
			jid, st := s.admit(j.recs)
			s.m.submitted(st)
			if st != pdu.StatusOK {
				failed = append(failed, pdu.UnsuccessSME{Addr: j.dst, Status: st})
				continue
			}
			if id == "" {
				id = jid
			}
		}
		st := pdu.StatusOK
		if id == "" {
			st = pdu.StatusSubmitFail
		}
		sess.Respond(seq, st, &pdu.SubmitMultiRespBody{MessageID: id, Unsuccess: failed})
	})
}

// later runs f off the reader, as an answer the session owes; past the
// session's in-flight bound, busy answers at once instead.
func (s *Server) later(ss *serverSession, f, busy func()) {
	if !ss.owed.add(1, s.cfg.MaxInFlight) {
		busy()
		return
	}
	s.wg.Add(1)
	s.work.Go(func() {
		defer s.wg.Done()
		defer ss.owed.done(1)
		f()
	})
}

// own finds an SM by SMPP message id for the peer that submitted it. Any
// other peer's SM, or an id that names nothing, is the same "invalid
// message id": a peer learns nothing about others' traffic.
func (s *Server) own(peer, id string, src pdu.Address) (core.SMInfo, bool) {
	idx, ok := ParseID(id)
	if !ok {
		return core.SMInfo{}, false
	}
	info, err := s.core.Lookup(context.Background(), idx)
	if err != nil || info.SrcClass != pms.ClassDownstream || info.SrcPeer != peer {
		return core.SMInfo{}, false
	}
	if src.Addr != "" {
		if a, ok := addrFromSMPP(src); !ok || a.Digits != info.Src.Digits {
			return core.SMInfo{}, false
		}
	}
	return info, true
}

// query answers query_sm (§4.8) from the core's view of the SM the id
// names: its first record, for a message stored as several.
func (s *Server) query(peer string, b *pdu.QuerySMBody) (pdu.Status, pdu.Body) {
	info, ok := s.own(peer, b.MessageID, b.Source)
	if !ok {
		return pdu.StatusInvMsgID, &pdu.QuerySMRespBody{}
	}
	resp := &pdu.QuerySMRespBody{MessageID: b.MessageID, MessageState: pdu.StateEnroute, ErrorCode: info.Reason}
	if !info.Active {
		_, resp.MessageState = receiptStat(info.Disposition)
		resp.FinalDate = pdu.FormatAbsolute(info.Discharged)
	}
	return pdu.StatusOK, resp
}

// cancel answers cancel_sm (§4.9) for one message id. Cancel by service
// type and addresses alone is not offered (ESME_RCANCELFAIL).
func (s *Server) cancel(peer string, b *pdu.CancelSMBody) pdu.Status {
	if b.MessageID == "" {
		return pdu.StatusCancelFail
	}
	info, ok := s.own(peer, b.MessageID, b.Source)
	if !ok {
		return pdu.StatusInvMsgID
	}
	if b.Dest.Addr != "" {
		if a, ok := addrFromSMPP(b.Dest); !ok || a.Digits != info.Dst.Digits {
			return pdu.StatusInvMsgID
		}
	}
	if err := s.core.Cancel(context.Background(), core.Selector{ByIndex: true, Index: info.Index}); err != nil {
		// Already final, or in a handler's hands right now.
		return pdu.StatusCancelFail
	}
	return pdu.StatusOK
}

// replace answers replace_sm (§4.10): the peer's own active SM, matched by
// message id and source address as for query_sm, gets the new
// short_message, validity period and registered_delivery. replace_sm has
// no data_coding: the text is read in the coding the SM was stored with
// (data_coding as a deliver_sm of it would carry), and the SM keeps its
// TP-DCS and UDHI. schedule_delivery_time is ignored, as for submit_sm
// (delivery is immediate); there are no canned messages, so a non-zero
// sm_default_msg_id is ESME_RINVDFTMSGID.
func (s *Server) replace(peer string, b *pdu.ReplaceSMBody) pdu.Status {
	info, ok := s.own(peer, b.MessageID, b.Source)
	if !ok {
		return pdu.StatusInvMsgID
	}
	if !info.Active {
		return pdu.StatusReplaceFail
	}
	if b.SMDefaultMsgID != 0 {
		return pdu.StatusInvDftMsgID
	}
	var validity time.Duration
	if b.ValidityPeriod != "" {
		now := time.Now()
		t, _, err := pdu.ParseTime(b.ValidityPeriod, now)
		if err != nil {
			return pdu.StatusInvExpiry
		}
		if !t.IsZero() {
			if validity = t.Sub(now); validity <= 0 {
				return pdu.StatusInvExpiry
			}
			validity = max(validity, time.Second)
		}
	}
	dc, _, _, err := smdata.FromPart(info.DCS, 0, 0, nil, smdata.OutOptions{})
	if err != nil {
		return pdu.StatusReplaceFail
	}
	parts, err := smdata.ToParts(smdata.Message{DataCoding: dc, ESMClass: info.ESM & 0x40, ShortMessage: b.ShortMessage},
		smdata.Options{MaxParts: 1})
	if err != nil {
		if st := dataStatus(err); st != pdu.StatusSubmitFail {
			return st
		}
		return pdu.StatusReplaceFail
	}
	p := parts[0]
	if p.Total != 0 || smstext.CodingOf(p.DCS) != smstext.CodingOf(info.DCS) {
		// A UDH of its own that makes it a part of a longer message, or
		// text that did not stay in the SM's alphabet: the record could
		// not describe it truthfully.
		return pdu.StatusReplaceFail
	}
	srr, failureOnly := srrOf(b.RegisteredDelivery)
	_, err = s.core.Replace(context.Background(), info.Index, core.ReplaceChange{
		UDL: p.UDL, UD: p.UD, Validity: validity, SRR: srr, SRRFailureOnly: failureOnly,
	})
	return replaceStatus(err)
}

// replaceStatus maps the core's answer to a replacement.
func replaceStatus(err error) pdu.Status {
	if err == nil {
		return pdu.StatusOK
	}
	var ce *core.Error
	if !errors.As(err, &ce) {
		return pdu.StatusSysErr
	}
	switch ce.Status {
	case coresock.StatusNotFound:
		return pdu.StatusInvMsgID
	case coresock.StatusBadLength:
		return pdu.StatusInvMsgLen
	case coresock.StatusStoreFailed, coresock.StatusShuttingDown:
		return pdu.StatusSysErr
	}
	// NOT_ACTIVE (final meanwhile), TOO_BUSY (in a handler's hands),
	// MALFORMED (a part of a concatenated message), and the rest.
	return pdu.StatusReplaceFail
}

// peerLink is one downstream peer as a role handler of the core: the SMs
// routed to the peer go out on its receiver and transceiver sessions, in
// turn.
type peerLink struct {
	notMT
	srv  *Server
	name string

	regMu sync.Mutex // serializes Register/Unregister for this peer
	reg   *core.Registration

	// Guarded by srv.mu.
	all  []*Session // every bound session of the peer
	rx   []*Session // those that can receive
	next int
}

// attach adds a bound session to its peer; a receiving one makes sure the
// peer is registered with the core and up.
func (s *Server) attach(sess *Session, peer string, rx bool) {
	s.mu.Lock()
	l := s.peers[peer]
	if l == nil {
		l = &peerLink{srv: s, name: peer}
		s.peers[peer] = l
	}
	l.all = append(l.all, sess)
	if rx {
		l.rx = append(l.rx, sess)
	}
	s.mu.Unlock()
	if !rx {
		return
	}

	l.regMu.Lock()
	defer l.regMu.Unlock()
	if l.reg != nil {
		return
	}
	s.mu.Lock()
	still := len(l.rx) > 0
	s.mu.Unlock()
	if !still {
		return
	}
	reg, err := s.core.Register(l, core.RolePeer, peer)
	if err != nil {
		// Another handler (a separate process) holds the role: this
		// session can submit, but the core will not deliver through it.
		s.log.Warn("smpp peer cannot receive: role held elsewhere", "peer", peer, "error", err)
		return
	}
	l.reg = reg
	s.core.SetServiceState(reg, true)
}

func without(list []*Session, sess *Session) []*Session {
	for i, x := range list {
		if x == sess {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// detach removes a session from its peer; the last receiving session's
// end unregisters the peer, and the core takes back what was in flight.
func (s *Server) detach(sess *Session, ss *serverSession) {
	if ss.peer == "" {
		return
	}
	s.mu.Lock()
	l := s.peers[ss.peer]
	if l == nil {
		s.mu.Unlock()
		return
	}
	l.all = without(l.all, sess)
	l.rx = without(l.rx, sess)
	empty := len(l.rx) == 0
	s.mu.Unlock()
	if !empty {
		return
	}
	l.regMu.Lock()
	defer l.regMu.Unlock()
	s.mu.Lock()
	empty = len(l.rx) == 0
	s.mu.Unlock()
	if empty && l.reg != nil {
		s.core.Unregister(l.reg)
		l.reg = nil
	}
}

// pick chooses the next receiving session, round robin.
func (l *peerLink) pick() *Session {
	l.srv.mu.Lock()
	defer l.srv.mu.Unlock()
	for range len(l.rx) {
		sess := l.rx[l.next%len(l.rx)]
		l.next++
		if sess.State().CanReceive() {
			return sess
		}
	}
	return nil
}

// flushAll waits until every session of the peer has written what it has
// queued: a receipt must not reach the peer on one session before the
// submit_sm_resp it reports on, still queued on another, is out.
func (l *peerLink) flushAll(ctx context.Context) {
	l.srv.mu.Lock()
	all := append([]*Session(nil), l.all...)
	l.srv.mu.Unlock()
	for _, sess := range all {
		sess.Flush(ctx)
	}
}

// DeliverToPeer sends one SM to the peer as deliver_sm: an ordinary SM, or
// a delivery receipt when the record is one of the core's status reports.
func (l *peerLink) DeliverToPeer(ctx context.Context, index uint64, raw *[pms.RecordSize]byte) (string, core.Status, error) {
	r, sm, err := storedSM(pdu.DeliverSM, raw, l.srv.cfg.Text)
	if err != nil {
		l.srv.log.Warn("stored SM cannot be put into a deliver_sm", "index", index, "error", err)
		return "", coresock.StatusPermanentFailure, nil
	}
	if r.StatusReport {
		// Not before the peer has the message id it reports on.
		if err := l.srv.gate(l.name).wait(ctx); err != nil {
			return "", 0, err
		}
		l.flushAll(ctx)
	}
	// A session that ends under the call is no verdict on the SM: try the
	// peer's other receiving sessions before giving it back.
	for {
		sess := l.pick()
		if sess == nil {
			return "", coresock.StatusTemporaryFailure, nil
		}
		resp, err := sess.Call(ctx, sm)
		switch {
		case errors.Is(err, ErrClosed):
			continue
		case errors.Is(err, ErrTimeout):
			// A peer that does not answer a deliver_sm in the response
			// timeout is broken, and every further try would end the
			// same way: cut the session, and the core takes its SMs
			// back when it was the last.
			l.srv.m.delivered("no_response")
			l.srv.log.Warn("smpp peer did not answer a deliver_sm: session cut", "peer", l.name)
			sess.closeWith(err)
			return "", 0, err
		case err != nil:
			l.srv.m.delivered("no_response")
			return "", 0, err
		}
		st := peerStatus(resp.Header.Status)
		l.srv.m.delivered(st.String())
		return "", st, nil
	}
}

// peerStatus maps the far end's answer to a delivery into the core's
// terms: throttling and queue-full are temporary, as are the
// application errors SMPP calls temporary; everything else is final.
func peerStatus(st pdu.Status) core.Status {
	switch st {
	case pdu.StatusOK:
		return coresock.StatusOK
	case pdu.StatusThrottled, pdu.StatusMsgQFul, pdu.StatusTempAppErr, pdu.StatusSysErr:
		return coresock.StatusTemporaryFailure
	}
	return coresock.StatusPermanentFailure
}
