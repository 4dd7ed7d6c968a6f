package smpp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/smpp/pdu"
	"switchboard/internal/smpp/smdata"
	"switchboard/internal/workpool"
)

// UplinkConfig configures the one upstream SMSC link (seed 001 §1.2.1).
type UplinkConfig struct {
	// Addr is the upstream's host:port.
	Addr string
	// SystemID, Password and SystemType go into bind_transceiver.
	SystemID, Password, SystemType string
	// TLS, when set, wraps the connection.
	TLS *tls.Config
	// Session holds the window (submit_sm outstanding at once) and the
	// timers.
	Session SessionConfig
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts (defaults 1s and 60s); it doubles after each failure and
	// starts again from the minimum after a successful bind.
	ReconnectMin, ReconnectMax time.Duration
	// ThrottleMin and ThrottleMax bound the pause after the upstream
	// answers ESME_RTHROTTLED or ESME_RMSGQFUL (defaults 100ms and 10s):
	// every submit waits it out, it doubles while the answers continue and
	// resets on the first accepted submit.
	ThrottleMin, ThrottleMax time.Duration
	// MaxInFlight bounds the MOs being admitted at once (default 1000);
	// more are answered ESME_RTHROTTLED.
	MaxInFlight int
	// MaxParts bounds the records one MO may become (default 16).
	MaxParts int
	// Text says how stored text is put on the wire.
	Text smdata.OutOptions
}

func (c UplinkConfig) withDefaults() UplinkConfig {
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = time.Minute
	}
	if c.ThrottleMin <= 0 {
		c.ThrottleMin = 100 * time.Millisecond
	}
	if c.ThrottleMax <= 0 {
		c.ThrottleMax = 10 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1000
	}
	if c.MaxParts <= 0 || c.MaxParts > 255 {
		c.MaxParts = 16
	}
	c.Session = c.Session.withDefaults()
	return c
}

// Uplink is the SMPP client to the upstream SMSC. It is the core's
// peer-delivery role handler for "" (the upstream): SMs routed upstream
// leave as submit_sm; deliver_sm from the upstream becomes an SM from the
// outside world, or, for receipts, discharges our SM.
type Uplink struct {
	notMT
	cfg  UplinkConfig
	core Core
	log  *slog.Logger
	m    *Metrics
	wg   sync.WaitGroup
	work *workpool.Pool

	mu        sync.Mutex
	sess      *Session // the bound session, nil while down
	pauseTill time.Time
	pauseStep time.Duration
	bound     chan struct{} // closed and replaced at every bind
}

// NewUplink prepares the uplink; Run connects it.
func NewUplink(cfg UplinkConfig, c Core, log *slog.Logger, m *Metrics) *Uplink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Uplink{cfg: cfg.withDefaults(), core: c, log: log, m: m, bound: make(chan struct{}), work: workpool.New()}
}

// WaitBound waits until the uplink is bound or ctx ends.
func (u *Uplink) WaitBound(ctx context.Context) error {
	for {
		u.mu.Lock()
		ok, ch := u.sess != nil, u.bound
		u.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run registers with the core and keeps the link bound until ctx ends,
// then unbinds and unregisters. It returns an error only if the role
// cannot be registered.
func (u *Uplink) Run(ctx context.Context) error {
	reg, err := u.core.Register(u, core.RolePeer, "")
	if err != nil {
		return err
	}
	defer u.core.Unregister(reg)
	backoff := u.cfg.ReconnectMin
	wait := func() {
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		backoff = min(backoff*2, u.cfg.ReconnectMax)
	}
	for ctx.Err() == nil {
		sess, err := u.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			u.log.Warn("smpp uplink not bound", "addr", u.cfg.Addr, "error", err, "retry_in", backoff)
			wait()
			continue
		}
		boundAt := time.Now()
		u.mu.Lock()
		u.sess = sess
		close(u.bound)
		u.bound = make(chan struct{})
		u.mu.Unlock()
		u.m.setUplinkBound(true)
		u.core.SetServiceState(reg, true)
		u.log.Info("smpp uplink bound", "addr", u.cfg.Addr)
		select {
		case <-sess.Done():
			u.log.Warn("smpp uplink lost", "addr", u.cfg.Addr, "error", sess.Err())
		case <-ctx.Done():
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// MOs on disk must get their deliver_sm_resp before we go,
			// or the upstream delivers them again.
			sess.Value.(*owed).wait(uctx)
			sess.Unbind(uctx)
			cancel()
		}
		u.core.SetServiceState(reg, false)
		u.m.setUplinkBound(false)
		u.mu.Lock()
		u.sess = nil
		u.mu.Unlock()
		<-sess.Done()
		// The backoff starts again only after a session that lasted: an
		// upstream that takes the bind and drops us at once must not be
		// hammered.
		if time.Since(boundAt) >= u.cfg.ReconnectMax {
			backoff = u.cfg.ReconnectMin
		}
		if ctx.Err() == nil {
			wait()
		}
	}
	u.wg.Wait()
	u.work.Close()
	return nil
}

// connect dials and binds as a transceiver. The session runs on its own
// goroutine (tracked by u.wg) from the dial on.
func (u *Uplink) connect(ctx context.Context) (*Session, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if u.cfg.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: u.cfg.TLS}
		conn, err = td.DialContext(ctx, "tcp", u.cfg.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", u.cfg.Addr)
	}
	if err != nil {
		return nil, err
	}
	sess := NewSession(conn, u.cfg.Session, u, u.log, u.m)
	sess.Value = &owed{}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		sess.Run()
	}()
	bctx, cancel := context.WithTimeout(ctx, u.cfg.Session.ResponseTimeout)
	defer cancel()
	// The bound state is set on the reader, by the bind_resp's callback,
	// so that a deliver_sm right behind the bind_resp is already seen as
	// bound, and one before it is not (HandleRequest).
	bound := make(chan error, 1)
	err = sess.Go(bctx, &pdu.Bind{
		Cmd: pdu.BindTransceiver, SystemID: u.cfg.SystemID, Password: u.cfg.Password,
		SystemType: u.cfg.SystemType, InterfaceVersion: 0x34,
	}, func(resp pdu.PDU, err error) {
		switch {
		case err != nil:
		case resp.Header.Status != pdu.StatusOK:
			err = resp.Header.Status
		case !sess.SetState(StateBoundTRX):
			err = ErrClosed
		}
		bound <- err
	})
	if err == nil {
		err = <-bound
	}
	if err != nil {
		sess.Close()
		<-sess.Done()
		return nil, err
	}
	return sess, nil
}

// current returns the bound session, or nil.
func (u *Uplink) current() *Session {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sess
}

// DeliverToPeer sends one SM upstream as submit_sm. Throttling answers are
// waited out here (the whole link pauses) and the submit repeated, until
// the core's call deadline; the upstream's message id comes back to the
// core, which keeps it for matching the receipt.
func (u *Uplink) DeliverToPeer(ctx context.Context, index uint64, raw *[pms.RecordSize]byte) (string, core.Status, error) {
	sm := u.submitFor(index, raw)
	if sm == nil {
		return "", coresock.StatusPermanentFailure, nil
	}
	for {
		if err := u.waitPause(ctx); err != nil {
			return "", 0, err
		}
		sess := u.current()
		if sess == nil {
			return "", coresock.StatusTemporaryFailure, nil
		}
		resp, err := sess.Call(ctx, sm)
		if err != nil {
			u.m.delivered("no_response")
			return "", 0, err
		}
		id, cst, throttled := u.result(resp)
		if !throttled {
			return id, cst, nil
		}
	}
}

// TryDeliverToPeer is DeliverToPeer without a goroutine waiting for the
// answer (core.AsyncPeerDeliverer). It declines while the link is down or
// paused and when the session's window is full; a throttling answer sends
// the SM back to the core's queue (core.ErrRequeue), whose next attempt
// then waits out the pause in DeliverToPeer.
func (u *Uplink) TryDeliverToPeer(index uint64, raw *[pms.RecordSize]byte, done func(string, core.Status, error)) bool {
	u.mu.Lock()
	sess, paused := u.sess, time.Now().Before(u.pauseTill)
	u.mu.Unlock()
	if sess == nil || paused {
		return false
	}
	sm := u.submitFor(index, raw)
	if sm == nil {
		done("", coresock.StatusPermanentFailure, nil)
		return true
	}
	err := sess.TryGo(sm, func(resp pdu.PDU, err error) {
		if err != nil {
			u.m.delivered("no_response")
			done("", 0, err)
			return
		}
		id, cst, throttled := u.result(resp)
		if throttled {
			done("", 0, core.ErrRequeue)
			return
		}
		done(id, cst, nil)
	})
	return err == nil
}

// submitFor makes the submit_sm for a stored SM, or returns nil for one
// that cannot go upstream (a permanent failure).
func (u *Uplink) submitFor(index uint64, raw *[pms.RecordSize]byte) *pdu.SM {
	r, sm, err := storedSM(pdu.SubmitSM, raw, u.cfg.Text)
	if err != nil {
		u.log.Warn("stored SM cannot be put into a submit_sm", "index", index, "error", err)
		return nil
	}
	if r.StatusReport {
		// A status report on an SM from the upstream would travel as a
		// submit_sm with a receipt's esm_class, which SMSCs refuse; mo()
		// asks for none, so this is a record from elsewhere.
		return nil
	}
	return sm
}

// result reads the upstream's answer to a submit_sm: the message id and
// the core's status, or throttled (the link is paused, and the SM is to be
// sent again).
func (u *Uplink) result(resp pdu.PDU) (id string, st core.Status, throttled bool) {
	pst := resp.Header.Status
	if pst == pdu.StatusThrottled || pst == pdu.StatusMsgQFul {
		u.m.delivered(pst.String())
		u.throttled()
		return "", 0, true
	}
	u.unthrottled()
	st = peerStatus(pst)
	u.m.delivered(st.String())
	if st != coresock.StatusOK {
		return "", st, false
	}
	if b, ok := resp.Body.(*pdu.SMResp); ok {
		id = b.MessageID
	}
	return id, coresock.StatusOK, false
}

// waitPause waits until the throttle pause is over.
func (u *Uplink) waitPause(ctx context.Context) error {
	u.mu.Lock()
	d := time.Until(u.pauseTill)
	u.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *Uplink) throttled() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pauseStep == 0 {
		u.pauseStep = u.cfg.ThrottleMin
	} else if time.Now().After(u.pauseTill) {
		// A throttle answer after the pause ended: pause longer.
		u.pauseStep = min(u.pauseStep*2, u.cfg.ThrottleMax)
	}
	u.pauseTill = time.Now().Add(u.pauseStep)
}

func (u *Uplink) unthrottled() {
	u.mu.Lock()
	u.pauseStep = 0
	u.mu.Unlock()
}

// DrainSession lets the deliver_sm_resp still owed go out before we answer
// the upstream's unbind.
func (u *Uplink) DrainSession(sess *Session) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess.Value.(*owed).wait(ctx)
}

// HandleRequest takes what the upstream sends us: MO messages and
// receipts as deliver_sm or data_sm.
func (u *Uplink) HandleRequest(sess *Session, p pdu.PDU) {
	hd := p.Header
	switch sess.State() {
	case StateBoundTRX:
	case StateUnbinding:
		// Sent before the upstream saw our unbind: a temporary refusal,
		// so that it sends the message again on the next session rather
		// than drop it.
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusThrottled)
		return
	default:
		// Before our bind is answered there is no session to take
		// messages on (SMPP 3.4 §2.3).
		u.m.malformed("before_bind")
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusInvBndSts)
		return
	}
	switch b := p.Body.(type) {
	case *pdu.SM:
		if b.Cmd != pdu.DeliverSM {
			sess.Respond(hd.Sequence, pdu.StatusInvCmdID, &pdu.SMResp{Cmd: b.Cmd.Response()})
			return
		}
		if b.ESMClass&0x3C != 0 {
			u.takeReceipt(sess, b.TLVs, b.ShortMessage, func(st pdu.Status) {
				sess.Respond(hd.Sequence, st, &pdu.SMResp{Cmd: pdu.DeliverSMResp})
			})
			return
		}
		in := inboundSM(b)
		u.mo(sess, &in, func(st pdu.Status) {
			sess.Respond(hd.Sequence, st, &pdu.SMResp{Cmd: pdu.DeliverSMResp})
		})
	case *pdu.DataSMBody:
		if b.ESMClass&0x3C != 0 {
			// SMPP 3.4 §4.7.1 lets an SMSC send receipts as data_sm,
			// the text (if any) in message_payload.
			text, _ := b.TLVs.Get(pdu.TagMessagePayload)
			u.takeReceipt(sess, b.TLVs, text, func(st pdu.Status) {
				sess.Respond(hd.Sequence, st, &pdu.DataSMRespBody{})
			})
			return
		}
		in := inboundDataSM(b)
		u.mo(sess, &in, func(st pdu.Status) {
			sess.Respond(hd.Sequence, st, &pdu.DataSMRespBody{})
		})
	case *pdu.AlertNotificationBody:
		// No response exists for alert_notification; we keep no
		// subscriber presence to update.
	default:
		sess.RespondError(hd.Sequence, hd.Command, pdu.StatusInvCmdID)
	}
}

// mo admits an SM from the outside world (§2.4: source class upstream).
func (u *Uplink) mo(sess *Session, in *inbound, answer func(pdu.Status)) {
	// registered_delivery on a deliver_sm asks for an SME acknowledgement,
	// which we do not send: we make no status report toward the upstream.
	in.regDelivery = 0
	recs, st := in.records(pms.ClassUpstream, "", u.cfg.MaxParts, time.Now())
	if st == pdu.StatusSubmitFail {
		// Toward an SMSC, "we can never take this" is the permanent
		// application error.
		st = pdu.StatusPermAppErr
	}
	ow := sess.Value.(*owed)
	if st == pdu.StatusOK && !ow.add(len(recs), u.cfg.MaxInFlight) {
		st = pdu.StatusThrottled
	}
	if st != pdu.StatusOK {
		u.m.submitted(st)
		answer(st)
		return
	}
	u.wg.Add(1)
	u.work.Go(func() {
		defer u.wg.Done()
		defer ow.done(len(recs))
		for _, r := range recs {
			if _, _, err := u.core.Submit(context.Background(), r, false); err != nil {
				st = coreStatus(err)
				break
			}
		}
		u.m.submitted(st)
		answer(st)
	})
}

// takeReceipt applies a receipt (a deliver_sm or data_sm whose esm_class
// says so) off the reader, since it is a durable write, and answers it.
func (u *Uplink) takeReceipt(sess *Session, tlvs pdu.TLVs, text []byte, answer func(pdu.Status)) {
	ow := sess.Value.(*owed)
	if !ow.add(1, u.cfg.MaxInFlight) {
		answer(pdu.StatusThrottled)
		return
	}
	u.wg.Add(1)
	u.work.Go(func() {
		defer u.wg.Done()
		defer ow.done(1)
		answer(u.receipt(tlvs, text))
	})
}

// receipt handles a delivery receipt from the upstream. The receipted id
// comes from the receipted_message_id TLV, else from the Appendix B text.
func (u *Uplink) receipt(tlvs pdu.TLVs, text []byte) pdu.Status {
	id, _ := tlvs.CString(pdu.TagReceiptedMessageID)
	rc, perr := pdu.ParseReceipt(string(text))
	if id == "" && perr == nil {
		id = rc.ID
	}
	state, hasState := tlvs.Uint8(pdu.TagMessageState)
	disp, final := dispositionFromReceipt(rc.Stat, state, hasState)
	if id == "" {
		u.m.malformed("receipt_without_id")
		return pdu.StatusOK
	}
	if !final {
		return pdu.StatusOK
	}
	if err := u.applyReceipt(id, disp); err != nil {
		u.log.Debug("upstream receipt matched no SM", "upstream_id", id, "error", err)
		u.m.malformed("receipt_unmatched")
	}
	// A receipt we cannot match is still taken: refusing it would only
	// make the upstream send it again.
	return pdu.StatusOK
}

// applyReceipt discharges the SM the upstream knows by id.
func (u *Uplink) applyReceipt(id string, disp pms.Disposition) error {
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.Session.ResponseTimeout)
	defer cancel()
	return u.core.PeerReceipt(ctx, "", id, disp)
}
