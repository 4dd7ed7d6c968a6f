package sipcall

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"switchboard/internal/redact"
)

// Why the ringing phase was ended from our side.
var (
	errRingTimeout    = errors.New("ring timeout")
	errCallerCanceled = errors.New("caller canceled")
)

// Call places one call to number (1 to 32 digits, optional leading "+"),
// rings it for at most RingTimeout, plays the announcement once answered
// and hangs up. It blocks until the call has ended. nil means the call was
// answered and the announcement played: to its end, or until MaxDuration,
// or until the far end hung up (it has been heard, in part). Otherwise the
// error wraps one of the sentinels: ErrBusy, ErrNoAnswer, ErrRejected,
// ErrUnreachable, ErrMedia, ErrTooManyCalls, ErrClosed, ErrInvalidNumber;
// or ctx's error when ctx ended the call (a ringing call is cancelled with
// CANCEL, an answered one hung up with BYE).
func (d *Dialer) Call(ctx context.Context, number string) (err error) {
	if !validNumber(number) {
		// The text gives the length only: the number itself is personal data.
		err = fmt.Errorf("%w: %d characters, want 1-32 digits with an optional leading +", ErrInvalidNumber, len(number))
		d.metrics.calls.WithLabelValues(resultLabel(err)).Inc()
		return err
	}
	if err := d.begin(); err != nil {
		d.metrics.calls.WithLabelValues(resultLabel(err)).Inc()
		return err
	}
	defer d.end()
	d.metrics.active.Inc()
	defer d.metrics.active.Dec()

	c := &call{d: d, id: crand.Text(), number: number, start: time.Now()}
	c.log = d.log.With("call", c.id)
	defer func() {
		d.metrics.calls.WithLabelValues(resultLabel(err)).Inc()
		attrs := []any{"result", resultLabel(err), "duration", time.Since(c.start).Round(time.Millisecond), "rtp_packets", c.sent}
		if err != nil {
			attrs = append(attrs, "error", err)
		}
		c.log.Info("call ended", attrs...)
	}()
	// Every error of a call is redacted here, once, before it is logged
	// or returned: its text may quote the far end's reason phrase or a
	// SIP message, and so a phone number in any format.
	return c.redact(c.run(ctx))
}

// call is the state of one Call; only its own goroutine touches it, except
// for reason (set by the timers and context callbacks).
type call struct {
	d      *Dialer
	id     string // the SIP Call-ID, which is also what logs name
	number string // never logged
	log    *slog.Logger
	start  time.Time
	sent   int

	provisional atomic.Bool // a 1xx has arrived, so CANCEL may be sent
	reasonMu    sync.Mutex
	reason      error // why we ended the ringing, first one wins
}

// stopRinging records why the ringing ends and cancels ringCtx: with the
// reason when a provisional response has arrived (sipgo then sends CANCEL
// and waits for the 487), or forcibly when none has, because RFC 3261 §9.1
// forbids a CANCEL before one, and waiting for it could take 32 s.
func (c *call) stopRinging(cancel context.CancelCauseFunc, why error) {
	c.reasonMu.Lock()
	if c.reason == nil {
		c.reason = why
	}
	c.reasonMu.Unlock()
	if c.provisional.Load() {
		cancel(why)
	} else {
		cancel(sipgo.WaitAnswerForceCancelErr)
	}
}

func (c *call) stopReason() error {
	c.reasonMu.Lock()
	defer c.reasonMu.Unlock()
	return c.reason
}

func (c *call) run(ctx context.Context) error {
	d, cfg := c.d, &c.d.cfg
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sipcall: call cancelled before dialling: %w", err)
	}
	rtpConn, err := listenRTP(cfg.localIP, cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return fmt.Errorf("sipcall: RTP socket: %w", err)
	}
	defer rtpConn.Close()
	rtpPort := rtpConn.LocalAddr().(*net.UDPAddr).Port

	req := c.invite(sdpOffer(cfg.localIP, rtpPort, rand.Uint64()>>2))

	ringCtx, cancelRing := context.WithCancelCause(context.Background())
	defer cancelRing(nil)
	stopCaller := context.AfterFunc(ctx, func() { c.stopRinging(cancelRing, errCallerCanceled) })
	timer := time.AfterFunc(cfg.RingTimeout, func() { c.stopRinging(cancelRing, errRingTimeout) })
	ringOver := make(chan struct{})
	closeWatch := make(chan struct{})
	go func() {
		defer close(closeWatch)
		select {
		case <-d.done:
			c.stopRinging(cancelRing, ErrClosed)
		case <-ringOver:
		}
	}()
	// ringing ends the watchers of the ringing phase; the Close watcher is
	// waited for, so that no goroutine outlives the call.
	ringing := func() {
		stopCaller()
		timer.Stop()
		close(ringOver)
		<-closeWatch
	}

	c.log.Debug("INVITE", "rtp_port", rtpPort)
	dlg, err := d.dialogs.WriteInvite(ringCtx, req)
	if err != nil {
		ringing()
		if why := c.stopReason(); why != nil {
			return c.stopped(ctx, why)
		}
		return fmt.Errorf("%w: sending INVITE: %w", ErrUnreachable, err)
	}
	defer dlg.Close()
	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{
		OnResponse: c.onResponse,
		Username:   cfg.AuthUser,
		Password:   cfg.AuthPassword,
	})
	ringing()
	if err != nil {
		return c.unanswered(ctx, dlg, err)
	}

	// Answered. The ACK goes first whatever the SDP says: an unanswered 200
	// would be retransmitted at us for 32 s.
	ans, sdpErr := parseSDPAnswer(dlg.InviteResponse.Body())
	if err := dlg.Ack(context.Background()); err != nil {
		c.log.Warn("ACK not sent", "error", c.redact(err))
	}
	if sdpErr != nil {
		d.metrics.badSDP.Inc()
		c.hangup(dlg)
		return fmt.Errorf("%w: %w", ErrMedia, sdpErr)
	}
	c.log.Info("call answered", "codec", ans.Codec.String(), "media", ans.Addr.String())
	return c.play(ctx, dlg, rtpConn, ans)
}

// invite builds the INVITE: Request-URI and To sip:NUMBER@proxy, From
// sip:From@FromDomain, our Call-ID, and the SDP offer.
func (c *call) invite(offer []byte) *sip.Request {
	cfg := &c.d.cfg
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: c.number, Host: cfg.proxyHost, Port: cfg.proxyPort})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: cfg.From, Host: cfg.FromDomain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: c.number, Host: cfg.proxyHost}, Params: sip.NewParams()}
	callID := sip.CallIDHeader(c.id)
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("User-Agent", "switchboard"))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	req.SetBody(offer)
	return req
}

// onResponse sees every response to the INVITE while it rings.
func (c *call) onResponse(r *sip.Response) error {
	if r.StatusCode >= 100 && r.StatusCode < 700 {
		c.d.metrics.responses.WithLabelValues(fmt.Sprintf("%dxx", r.StatusCode/100)).Inc()
	}
	if r.IsProvisional() {
		c.provisional.Store(true)
		if r.StatusCode != sip.StatusTrying {
			c.log.Debug("ringing", "status", r.StatusCode)
		}
	}
	return nil
}

// unanswered turns WaitAnswer's error into ours.
func (c *call) unanswered(ctx context.Context, dlg *sipgo.DialogClientSession, err error) error {
	var res *sipgo.ErrDialogResponse
	if errors.As(err, &res) {
		return statusError(res.Res)
	}
	var resv sipgo.ErrDialogResponse
	if errors.As(err, &resv) {
		return statusError(resv.Res)
	}
	why := c.stopReason()
	if why != nil {
		// A 200 can cross our CANCEL; RFC 3261 §9.1 says the call is then
		// up and must be hung up with BYE.
		if r := dlg.InviteResponse; r != nil && r.IsSuccess() {
			c.log.Info("answered while being cancelled; hanging up")
			if err := dlg.Ack(context.Background()); err == nil {
				c.hangup(dlg)
			}
		}
		return c.stopped(ctx, why)
	}
	if !c.provisional.Load() {
		return fmt.Errorf("%w: no response to the INVITE: %w", ErrUnreachable, err)
	}
	return fmt.Errorf("sipcall: INVITE failed: %w", err)
}

// stopped is the error of a call whose ringing we ended, by why.
func (c *call) stopped(ctx context.Context, why error) error {
	switch why {
	case errRingTimeout:
		if !c.provisional.Load() {
			return fmt.Errorf("%w: no response to the INVITE within %v", ErrUnreachable, c.d.cfg.RingTimeout)
		}
		return fmt.Errorf("%w: not answered within %v (cancelled)", ErrNoAnswer, c.d.cfg.RingTimeout)
	case ErrClosed:
		return fmt.Errorf("%w: while ringing", ErrClosed)
	default:
		return fmt.Errorf("sipcall: call cancelled while ringing: %w", ctx.Err())
	}
}

// statusBusyEverywhere is 600, which sipgo has no name for.
const statusBusyEverywhere = 600

// statusError maps a final failure response to a sentinel error, with the
// status line in the text (docs/sipcall.md, "Failures"). The reason phrase
// is the far end's text and may quote the number. It is redacted on its
// own, before it follows the status code: redacting the whole line would
// take a number right after the code for one run with it, and the code
// would be lost.
func statusError(r *sip.Response) error {
	status := fmt.Sprintf("%d %s", r.StatusCode, redact.Numbers(clip(r.Reason)))
	switch r.StatusCode {
	case sip.StatusBusyHere, statusBusyEverywhere:
		return fmt.Errorf("%w: %s", ErrBusy, status)
	case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
		return fmt.Errorf("%w: %s", ErrNoAnswer, status)
	case sip.StatusUnauthorized, sip.StatusProxyAuthRequired:
		return fmt.Errorf("%w: %s (credentials missing or refused)", ErrRejected, status)
	}
	return fmt.Errorf("%w: %s", ErrRejected, status)
}

// play sends the announcement as RTP, one 20 ms frame per tick, and hangs
// up after it (or at MaxDuration). It returns early, without a BYE, when
// the far end hangs up, and with a BYE when ctx or Close end the call.
func (c *call) play(ctx context.Context, dlg *sipgo.DialogClientSession, conn *net.UDPConn, m media) error {
	d := c.d
	frames := min(d.audio.frames(), int(d.cfg.MaxDuration/(frameMillis*time.Millisecond)))
	// Random initial sequence number, timestamp and SSRC (RFC 3550 §5.1).
	seq, ts, ssrc := uint16(rand.Uint32()), rand.Uint32(), rand.Uint32()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: m.PayloadType, SSRC: ssrc}}
	buf := make([]byte, pkt.Header.MarshalSize()+frameSamples)
	dst := m.Addr

	ticker := time.NewTicker(frameMillis * time.Millisecond)
	defer ticker.Stop()
	for i := range frames {
		pkt.SequenceNumber = seq + uint16(i)
		pkt.Timestamp = ts + uint32(i*frameSamples)
		// The marker starts the talkspurt (RFC 3551 §4.1).
		pkt.Marker = i == 0
		pkt.Payload = d.audio.frame(m.Codec, i)
		n, err := pkt.MarshalTo(buf)
		if err == nil {
			_, err = conn.WriteToUDPAddrPort(buf[:n], dst)
		}
		if err != nil {
			d.metrics.rtpErrors.Inc()
		} else {
			d.metrics.rtpPackets.Inc()
			c.sent++
		}
		// Every frame, the last one too, is followed by its 20 ms.
		select {
		case <-ticker.C:
		case <-dlg.Context().Done():
			d.metrics.farEndHangs.Inc()
			c.log.Info("far end hung up during the announcement", "frames", i+1, "of", frames)
			return nil
		case <-ctx.Done():
			c.hangup(dlg)
			return fmt.Errorf("sipcall: call cancelled during the announcement: %w", ctx.Err())
		case <-d.done:
			c.hangup(dlg)
			return fmt.Errorf("%w: during the announcement", ErrClosed)
		}
	}
	c.hangup(dlg)
	return nil
}

// hangup sends BYE and waits up to HangupTimeout for its answer. A BYE
// that goes unanswered is logged, not returned: the announcement has been
// played, and the far end ends the call by its own timers.
func (c *call) hangup(dlg *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), c.d.cfg.HangupTimeout)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		c.log.Warn("BYE not answered", "error", c.redact(err))
	}
}

// redact hides phone numbers in an error's text, keeping errors.Is: the
// dialled number as "[number]" (the SIP library may quote the
// Request-URI), then every other run of four digits or more as "#" (a far
// end's reason phrase may write a number in any format, such as
// "(619) 555-0123").
func (c *call) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := redact.Numbers(strings.ReplaceAll(msg, c.number, "[number]"))
	if out == msg {
		return err
	}
	return redactedError{msg: out, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
