package sipcall

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/internal/redact"
)

// Dialer places calls through one SIP trunk. It owns one SIP user agent on
// a UDP socket of LocalIP; Call may be used from many goroutines at once.
type Dialer struct {
	cfg     settings
	log     *slog.Logger
	metrics *metrics
	audio   *encoded

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs *sipgo.DialogClientCache
	conn    net.PacketConn
	contact sip.ContactHeader
	served  chan struct{} // closed when the SIP server loop has returned

	// slots holds one token per call in progress (MaxCalls in all).
	slots chan struct{}
	// done is closed by Close; calls in progress end on it.
	done chan struct{}

	// mu guards closed and the Add side of calls, so that Close's Wait
	// cannot race a Call that is just starting.
	mu        sync.Mutex
	closed    bool
	calls     sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, binds the SIP socket and starts the user agent that
// receives responses and the far end's BYE. Invalid configs fail with
// ErrInvalidConfig.
func New(cfg Config) (*Dialer, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(s.Registerer)
	if err != nil {
		return nil, err
	}
	// Only what MaxDuration lets a call play is encoded: a call sends at
	// most that many whole frames, whatever the WAV's length. The WAV and
	// its decoded samples are then dropped, since the dialer lives as long
	// as the server and they can be megabytes.
	playable := int(s.MaxDuration/(frameMillis*time.Millisecond)) * frameSamples
	audio := encode(s.samples[:min(len(s.samples), playable)])
	s.Announcement, s.samples = nil, nil
	d := &Dialer{
		cfg:     s,
		log:     s.Logger.With("component", "sipcall"),
		metrics: m,
		audio:   audio,
		served:  make(chan struct{}),
		slots:   make(chan struct{}, s.MaxCalls),
		done:    make(chan struct{}),
	}

	libLog := slog.New(redactHandler{next: s.Logger.Handler(), problems: m.libProblems})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("switchboard"),
		sipgo.WithUserAgentHostname(s.FromDomain),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(libLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(libLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) { m.unmatched.Inc() }),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sipcall: user agent: %w", err)
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(s.localIP.String(), strconv.Itoa(s.SIPPort)))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("%w: SIP socket on %s port %d: %w", ErrInvalidConfig, s.localIP, s.SIPPort, err)
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(libLog))
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, fmt.Errorf("sipcall: server: %w", err)
	}
	cli, err := sipgo.NewClient(ua,
		sipgo.WithClientLogger(libLog),
		sipgo.WithClientConnectionAddr(local.String()),
	)
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, fmt.Errorf("sipcall: client: %w", err)
	}
	d.ua, d.srv, d.conn = ua, srv, conn
	d.contact = sip.ContactHeader{Address: sip.Uri{
		Scheme: "sip", User: s.From, Host: s.localIP.String(), Port: local.Port,
	}}
	d.dialogs = sipgo.NewDialogClientCache(cli, d.contact)

	srv.OnBye(d.onBye)
	// This user agent only calls out: an INVITE to it is declined, and an
	// OPTIONS (the keepalive many trunks send) is answered.
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusGlobalDecline, "Decline", nil))
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	go func() {
		defer close(d.served)
		srv.ServeUDP(conn)
	}()
	if err := d.waitListening(local.String()); err != nil {
		d.closed = true
		conn.Close()
		ua.Close()
		<-d.served
		return nil, err
	}
	d.log.Info("SIP user agent started", "listen", local.String(), "proxy", s.Proxy)
	return d, nil
}

// waitListening waits until the server loop has put the socket into the
// transport's connection pool: requests sent before that would try to bind
// the same address again. sipgo offers no signal for a socket passed to
// ServeUDP, so this polls, under a deadline.
func (d *Dialer) waitListening(addr string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if c, err := d.ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return nil
		}
		select {
		case <-d.served:
			return fmt.Errorf("sipcall: SIP server on %s stopped at once", addr)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sipcall: SIP server on %s not ready after 2s", addr)
		}
	}
}

// onBye answers the far end's BYE. A BYE that matches a call in progress
// ends its dialog, which the call's announcement loop watches; any other
// (unknown dialog, or no tags at all) gets 481 as RFC 3261 §15.1.2 asks.
func (d *Dialer) onBye(req *sip.Request, tx sip.ServerTransaction) {
	err := d.dialogs.ReadBye(req, tx)
	switch {
	case err == nil:
	case errors.Is(err, sipgo.ErrDialogDoesNotExists), errors.Is(err, sipgo.ErrDialogOutsideDialog):
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	default:
		// The dialog matched and ended; only the 200 could not be sent.
		// The text may quote the far end's BYE, and so a number.
		d.log.Debug("answering BYE failed", "error", redact.Numbers(err.Error()))
	}
}

// CallLimit is the sum of the dialer's bounds on the phases of a call:
// RingTimeout, MaxDuration and HangupTimeout. A deadline on Call's ctx
// that comes sooner can end a call before these bounds do: an unanswered
// call then fails as cancelled instead of with ErrNoAnswer, and one
// answered late is hung up in the middle of its announcement. (Ending a
// ringing call can take longer, while the SIP timers wait for the
// answers to the CANCEL, but ctx does not shorten that wait either.)
func (d *Dialer) CallLimit() time.Duration {
	return d.cfg.RingTimeout + d.cfg.MaxDuration + d.cfg.HangupTimeout
}

// Addr is the local SIP address (LocalIP and the bound port).
func (d *Dialer) Addr() netip.AddrPort {
	return d.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close ends the calls in progress (each hangs up or cancels, bounded by
// HangupTimeout), then stops the user agent and closes its socket. Calls
// made after Close fail with ErrClosed. Close is safe to call more than
// once.
func (d *Dialer) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.done)
		d.calls.Wait()
		d.closeErr = d.conn.Close()
		d.ua.Close()
		<-d.served
		d.log.Info("SIP user agent stopped")
	})
	return d.closeErr
}

// begin admits one call, or says why not.
func (d *Dialer) begin() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	select {
	case d.slots <- struct{}{}:
	default:
		return fmt.Errorf("%w: %d", ErrTooManyCalls, d.cfg.MaxCalls)
	}
	d.calls.Add(1)
	return nil
}

// end releases what begin admitted.
func (d *Dialer) end() {
	<-d.slots
	d.calls.Done()
}
