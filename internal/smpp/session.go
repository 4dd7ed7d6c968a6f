package smpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/smpp/pdu"
)

// Session errors. Callers test for them with errors.Is.
var (
	// ErrClosed: the session ended before the call was answered.
	ErrClosed = errors.New("smpp: session closed")
	// ErrTimeout: no response came within the response timeout.
	ErrTimeout = errors.New("smpp: response timeout")
	// ErrSlowConsumer: the far end did not read what we sent, and the
	// session was cut rather than let its queue grow without bound.
	ErrSlowConsumer = errors.New("smpp: slow consumer")
	// ErrInactive: nothing was received for the inactivity timeout.
	ErrInactive = errors.New("smpp: inactivity timeout")
)

// BindState is where a session is in the SMPP 3.4 §2.2 state machine.
type BindState uint32

const (
	StateOpen BindState = iota
	StateBoundTX
	StateBoundRX
	StateBoundTRX
	StateUnbinding
	StateClosed
)

func (b BindState) String() string {
	switch b {
	case StateOpen:
		return "open"
	case StateBoundTX:
		return "bound_tx"
	case StateBoundRX:
		return "bound_rx"
	case StateBoundTRX:
		return "bound_trx"
	case StateUnbinding:
		return "unbinding"
	}
	return "closed"
}

// CanTransmit reports whether an ESME in this state may send submit_sm
// and its kin (transmitter and transceiver binds).
func (b BindState) CanTransmit() bool { return b == StateBoundTX || b == StateBoundTRX }

// CanReceive reports whether the SMSC may send deliver_sm in this state
// (receiver and transceiver binds).
func (b BindState) CanReceive() bool { return b == StateBoundRX || b == StateBoundTRX }

// SessionConfig holds the limits and timers of one SMPP session. Zero
// values take the defaults given on each field.
type SessionConfig struct {
	// MaxPDU is the largest command_length accepted (default
	// pdu.DefaultMaxPDU). A larger one is answered generic_nack
	// ESME_RINVCMDLEN and the session is closed, since the stream cannot
	// be resynchronised.
	MaxPDU int
	// MaxPDUBeforeBind, if set, is the largest PDU accepted while the
	// session is not bound. The server sets it low (a bind is about a
	// hundred octets), so an unbound connection cannot make it allocate
	// MaxPDU; clients leave it 0.
	MaxPDUBeforeBind int
	// Window is how many requests this side may have outstanding
	// (default 100). Call waits for a free slot.
	Window int
	// EnquireLink is how long the link may be silent in both directions
	// before we send enquire_link (default 30s).
	EnquireLink time.Duration
	// Inactivity closes the session when nothing at all has been received
	// for this long (default 3 × EnquireLink). Our own enquire_link makes
	// a healthy peer answer well within it.
	Inactivity time.Duration
	// ResponseTimeout fails a call that got no response (default 30s).
	ResponseTimeout time.Duration
	// OutQueue is how many PDUs may wait for the writer (default 4096).
	// A peer that lets more pile up is not reading and is cut.
	OutQueue int
	// WriteTimeout bounds one write to the socket (default 10s).
	WriteTimeout time.Duration
}

func (c SessionConfig) withDefaults() SessionConfig {
	if c.MaxPDU <= 0 {
		c.MaxPDU = pdu.DefaultMaxPDU
	}
	if c.Window <= 0 {
		c.Window = 100
	}
	if c.EnquireLink <= 0 {
		c.EnquireLink = 30 * time.Second
	}
	if c.Inactivity <= 0 {
		c.Inactivity = 3 * c.EnquireLink
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = 30 * time.Second
	}
	if c.OutQueue <= 0 {
		c.OutQueue = 4096
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	return c
}

// RequestHandler receives the requests the far end sends. HandleRequest
// runs on the session's reader goroutine, in arrival order, so it must not
// block: it answers at once with Respond or hands the work to a goroutine
// that answers later. enquire_link, unbind and stray responses are handled
// by the session itself and never reach it.
type RequestHandler interface {
	HandleRequest(s *Session, p pdu.PDU)
}

// Drainer is implemented by a RequestHandler that answers requests
// asynchronously. When the far end unbinds, the session calls DrainSession
// before it sends unbind_resp and closes, so that the answers still owed
// (a submit the core is writing right now) go out first; an accepted
// message whose response is lost would be sent again. DrainSession bounds
// its own wait.
type Drainer interface {
	DrainSession(s *Session)
}

// call is one request of ours waiting for its response.
type call struct {
	cmd      pdu.CommandID // the request's command: only its response (or generic_nack) completes it
	done     chan struct{} // Call: closed when settled
	cb       func(pdu.PDU, error)
	resp     pdu.PDU
	err      error
	deadline time.Time
}

// settle ends a call that has just been taken out of pending: Call's
// waiter is woken, or a Go call gives back its window slot and runs its
// callback. Whoever removes a call from pending (under mu) settles it, so
// each call is settled exactly once.
func (s *Session) settle(c *call) {
	if c.cb == nil {
		close(c.done)
		return
	}
	<-s.window
	c.cb(c.resp, c.err)
}

// Session is one SMPP connection, either side. It owns the socket: a
// reader goroutine decodes PDUs and dispatches them, a writer goroutine
// batches queued PDUs into as few writes as the load allows, and a timer
// goroutine runs enquire_link, inactivity and response timeouts.
type Session struct {
	conn net.Conn
	cfg  SessionConfig
	h    RequestHandler
	log  *slog.Logger
	m    *Metrics

	out    chan outItem
	closed chan struct{}
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error // written once, before closed is closed

	state    atomic.Uint32
	lastRecv atomic.Int64 // unix nanos
	lastSend atomic.Int64
	window   chan struct{}

	mu      sync.Mutex // guards seq and pending
	seq     uint32
	pending map[uint32]*call

	// Value is free for the owner (server or uplink) to hang its own
	// per-session state on; the session never looks at it.
	Value any
}

// bufPool recycles encode buffers between the encoding goroutine and the
// writer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// NewSession wraps conn. Nothing runs until Run.
func NewSession(conn net.Conn, cfg SessionConfig, h RequestHandler, log *slog.Logger, m *Metrics) *Session {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		conn:    conn,
		cfg:     cfg,
		h:       h,
		log:     log,
		m:       m,
		out:     make(chan outItem, cfg.OutQueue),
		closed:  make(chan struct{}),
		window:  make(chan struct{}, cfg.Window),
		pending: make(map[uint32]*call),
	}
	now := time.Now().UnixNano()
	s.lastRecv.Store(now)
	s.lastSend.Store(now)
	return s
}

// RemoteAddr is the far end's address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// State returns the bind state.
func (s *Session) State() BindState { return BindState(s.state.Load()) }

// SetState moves the session to a new bind state; the bind logic of the
// server and the uplink decides when. A closed session stays closed: the
// result says whether the state was set.
func (s *Session) SetState(b BindState) bool {
	for {
		cur := s.state.Load()
		if BindState(cur) == StateClosed {
			return b == StateClosed
		}
		if s.state.CompareAndSwap(cur, uint32(b)) {
			return true
		}
	}
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.closed }

// Err says why the session ended; nil while it runs, or for a clean
// unbind.
func (s *Session) Err() error {
	select {
	case <-s.closed:
		return s.closeErr
	default:
		return nil
	}
}

// Run starts the session's goroutines and returns when all of them have
// ended: after Close, an unbind, a fatal protocol error or a broken socket.
func (s *Session) Run() {
	s.m.sessionOpened()
	s.wg.Add(2)
	go s.writeLoop()
	go s.timerLoop()
	s.readLoop()
	s.wg.Wait()
	s.m.sessionClosed()
}

// Close ends the session at once; calls in flight fail with ErrClosed.
func (s *Session) Close() { s.closeWith(nil) }

func (s *Session) closeWith(err error) {
	var pend map[uint32]*call
	s.closeOnce.Do(func() {
		s.closeErr = err
		s.SetState(StateClosed)
		close(s.closed)
		s.conn.Close()
		s.mu.Lock()
		pend = s.pending
		s.pending = map[uint32]*call{}
		s.mu.Unlock()
	})
	// Settled outside the Once, so that a callback may close the session
	// itself without waiting for itself.
	for _, c := range pend {
		c.err = ErrClosed
		s.settle(c)
	}
}

// Unbind sends unbind, waits for unbind_resp (or the context, or the
// response timeout), and closes the session: the clean end of §4.2.
func (s *Session) Unbind(ctx context.Context) {
	if s.State() == StateClosed {
		return
	}
	s.SetState(StateUnbinding)
	_, _ = s.Call(ctx, &pdu.UnbindBody{})
	s.drainAndClose(nil)
}

// Flush waits until everything queued so far is written to the socket.
func (s *Session) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case s.out <- outItem{flushed: done}:
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// outItem is one entry of the writer's queue: an encoded PDU, or a flush
// marker whose channel the writer closes once everything queued before it
// is on the socket.
type outItem struct {
	b       []byte
	flushed chan struct{}
}

// drainAndClose lets the writer put out what is queued (an unbind_resp, a
// final generic_nack) before the socket closes, waiting at most the write
// timeout.
func (s *Session) drainAndClose(err error) {
	done := make(chan struct{})
	select {
	case s.out <- outItem{flushed: done}:
		t := time.NewTimer(s.cfg.WriteTimeout)
		select {
		case <-done:
		case <-s.closed:
		case <-t.C:
		}
		t.Stop()
	default:
		// The queue is full: the far end is not reading anyway.
	}
	s.closeWith(err)
}

func (s *Session) nextSeq() uint32 {
	s.seq++
	if s.seq == 0 || s.seq > 0x7FFFFFFF {
		s.seq = 1
	}
	return s.seq
}

// Call sends a request and waits for its response. The returned PDU may be
// a generic_nack or carry an error command_status: the caller judges it.
func (s *Session) Call(ctx context.Context, body pdu.Body) (pdu.PDU, error) {
	select {
	case s.window <- struct{}{}:
	case <-s.closed:
		return pdu.PDU{}, ErrClosed
	case <-ctx.Done():
		return pdu.PDU{}, ctx.Err()
	}
	defer func() { <-s.window }()
	c, seq, err := s.register(body.CommandID(), nil)
	if err != nil {
		return pdu.PDU{}, err
	}
	if err := s.send(pdu.PDU{Header: pdu.Header{Sequence: seq}, Body: body}); err != nil {
		s.forget(seq)
		return pdu.PDU{}, err
	}
	select {
	case <-c.done:
		return c.resp, c.err
	case <-ctx.Done():
		s.forget(seq)
		return pdu.PDU{}, ctx.Err()
	}
}

// ErrWindowFull: TryGo found every window slot taken.
var ErrWindowFull = errors.New("smpp: window full")

// Go sends a request without a goroutine waiting for its answer: it waits
// for a window slot as Call does, then returns once the request is queued.
// cb gets what Call would have returned, exactly once, on the goroutine
// that settles the call (the reader for a response, the timer for a
// timeout, the closer for ErrClosed), so it must not block: a callback
// that sends again uses TryGo, since waiting for a slot on the reader
// would wait for itself. If Go returns an error, cb is not called. The
// session may report itself done before the callbacks of a close made by
// another goroutine have all run.
func (s *Session) Go(ctx context.Context, body pdu.Body, cb func(pdu.PDU, error)) error {
	select {
	case s.window <- struct{}{}:
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.start(body, cb)
}

// TryGo is Go that does not wait: with no window slot free it returns
// ErrWindowFull.
func (s *Session) TryGo(body pdu.Body, cb func(pdu.PDU, error)) error {
	select {
	case s.window <- struct{}{}:
	default:
		return ErrWindowFull
	}
	return s.start(body, cb)
}

// start sends a request of Go's or TryGo's, whose window slot is held.
func (s *Session) start(body pdu.Body, cb func(pdu.PDU, error)) error {
	_, seq, err := s.register(body.CommandID(), cb)
	if err != nil {
		<-s.window
		return err
	}
	if err := s.send(pdu.PDU{Header: pdu.Header{Sequence: seq}, Body: body}); err != nil {
		// A failed send closes the session, whose closer may have taken
		// the call already: then it has been settled (cb called), and
		// the caller must not also see an error.
		if !s.forget(seq) {
			return nil
		}
		<-s.window
		return err
	}
	return nil
}

// register enters a call for a request of type cmd in pending under the
// next sequence number: a Go call if cb is set, else one Call waits for.
func (s *Session) register(cmd pdu.CommandID, cb func(pdu.PDU, error)) (*call, uint32, error) {
	c := &call{cmd: cmd, cb: cb, deadline: time.Now().Add(s.cfg.ResponseTimeout)}
	if cb == nil {
		c.done = make(chan struct{})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.State(); st == StateClosed || st == StateUnbinding && cmd != pdu.Unbind {
		// Nothing new once an unbind has started (§4.2).
		return nil, 0, ErrClosed
	}
	seq := s.nextSeq()
	s.pending[seq] = c
	return c, seq, nil
}

// forget takes a call out of pending, and reports whether it was still
// there (not settled by the closer meanwhile).
func (s *Session) forget(seq uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, mine := s.pending[seq]
	delete(s.pending, seq)
	return mine
}

// Respond answers the request with sequence number seq. It never blocks:
// if the far end is not reading, the session is cut instead.
func (s *Session) Respond(seq uint32, st pdu.Status, body pdu.Body) {
	_ = s.send(pdu.PDU{Header: pdu.Header{Status: st, Sequence: seq}, Body: body})
}

// send encodes p and queues it for the writer.
func (s *Session) send(p pdu.PDU) error {
	bp := bufPool.Get().(*[]byte)
	b, err := pdu.Append((*bp)[:0], p)
	if err != nil {
		bufPool.Put(bp)
		return fmt.Errorf("encode %v: %w", p.Body.CommandID(), err)
	}
	*bp = b
	select {
	case <-s.closed:
		bufPool.Put(bp)
		return ErrClosed
	default:
	}
	select {
	case s.out <- outItem{b: b}:
		s.m.pduOut(p.Body.CommandID())
		return nil
	default:
		bufPool.Put(bp)
		s.m.slowConsumer()
		s.log.Warn("smpp peer not reading: session cut", "remote", s.conn.RemoteAddr().String())
		s.closeWith(ErrSlowConsumer)
		return ErrSlowConsumer
	}
}

// writeLoop batches queued PDUs: it writes everything that is waiting
// before it flushes, so a busy session costs one write per batch rather
// than one per PDU.
func (s *Session) writeLoop() {
	defer s.wg.Done()
	w := bufio.NewWriterSize(s.conn, 16*1024)
	var markers []chan struct{}
	for {
		var it outItem
		select {
		case it = <-s.out:
		case <-s.closed:
			return
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		var err error
		markers = markers[:0]
		yielded := false
		for {
			if it.flushed != nil {
				markers = append(markers, it.flushed)
			} else {
				_, err = w.Write(it.b)
				putBuf(it.b)
			}
			if err != nil {
				break
			}
			select {
			case it = <-s.out:
				continue
			default:
			}
			// The queue is empty. Under load the goroutines that answer
			// requests are about to queue more: yield once to let them,
			// so one write carries many PDUs instead of one each.
			if !yielded && w.Buffered() < w.Size()/2 {
				yielded = true
				runtime.Gosched()
				select {
				case it = <-s.out:
					continue
				default:
				}
			}
			break
		}
		if err == nil {
			err = w.Flush()
		}
		for _, m := range markers {
			close(m)
		}
		if err != nil {
			s.closeWith(fmt.Errorf("write: %w", err))
			return
		}
		s.lastSend.Store(time.Now().UnixNano())
	}
}

func putBuf(b []byte) {
	b = b[:0]
	bufPool.Put(&b)
}

// readLoop reads the stream, frames and decodes PDUs and dispatches them.
func (s *Session) readLoop() {
	defer func() {
		// Whatever ended the read loop ends the session; the far end
		// closing after an unbind is the clean end.
		var err error = ErrClosed
		if s.State() == StateUnbinding {
			err = nil
		}
		s.closeWith(err)
	}()
	// buf[start:end] holds bytes read but not yet framed. Complete PDUs
	// are decoded in place (Decode copies what it keeps) and the partial
	// tail is moved to the front before the next read, so the buffer is
	// reused rather than reallocated. It starts small, since a connection
	// that never binds should cost little, and grows to what the PDUs
	// need.
	buf := make([]byte, 4096)
	start, end := 0, 0
	var rerr error
	for {
		for {
			maxPDU := s.cfg.MaxPDU
			if s.cfg.MaxPDUBeforeBind > 0 && s.State() == StateOpen {
				maxPDU = min(maxPDU, s.cfg.MaxPDUBeforeBind)
			}
			n, err := pdu.Frame(buf[start:end], maxPDU)
			if err != nil {
				s.m.malformed("command_length")
				s.log.Warn("smpp framing error: session closed", "remote", s.conn.RemoteAddr().String(), "error", err)
				s.Respond(0, pdu.StatusInvCmdLen, &pdu.GenericNackBody{})
				s.drainAndClose(err)
				return
			}
			if n == 0 {
				break
			}
			s.dispatch(buf[start : start+n])
			if s.State() == StateClosed {
				return
			}
			start += n
		}
		// Bytes that came with an error (TLS returns data and EOF
		// together) have been handled above; now the error counts.
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) {
				s.closeWith(fmt.Errorf("read: %w", rerr))
			}
			return
		}
		if start == end {
			start, end = 0, 0
		} else if start > 0 {
			end = copy(buf, buf[start:end])
			start = 0
		}
		need := len(buf)
		if end == len(buf) {
			need = 2 * len(buf)
		}
		if n, ok := peekLength(buf[:end]); ok && n > need {
			need = n // Frame has checked it against the maximum.
		}
		if need > len(buf) {
			nb := make([]byte, max(need, min(2*len(buf), readBufMax)))
			copy(nb, buf[:end])
			buf = nb
		}
		var n int
		n, rerr = s.conn.Read(buf[end:])
		if n > 0 {
			// Once per read rather than per PDU: the inactivity timer
			// needs to know that bytes came, not when each PDU did.
			s.lastRecv.Store(time.Now().UnixNano())
		}
		end += n
	}
}

const (
	// readBufMax is how far the read buffer grows for batching alone; a
	// larger PDU grows it to its own size.
	readBufMax = 64 * 1024
)

// peekLength returns the command_length at the start of buf, if readable.
func peekLength(buf []byte) (int, bool) {
	if len(buf) < 4 {
		return 0, false
	}
	return int(uint32(buf[0])<<24 | uint32(buf[1])<<16 | uint32(buf[2])<<8 | uint32(buf[3])), true
}

// dispatch handles one framed PDU.
func (s *Session) dispatch(b []byte) {
	p, err := pdu.Decode(b)
	if err != nil {
		s.decodeError(err)
		return
	}
	s.m.pduIn(p.Header.Command)
	cmd := p.Header.Command
	if cmd.IsResponse() {
		s.m.responseIn(p.Header.Status)
		s.complete(p)
		return
	}
	switch cmd {
	case pdu.EnquireLink:
		s.Respond(p.Header.Sequence, pdu.StatusOK, &pdu.EnquireLinkRespBody{})
	case pdu.Unbind:
		s.SetState(StateUnbinding)
		if d, ok := s.h.(Drainer); ok {
			d.DrainSession(s)
		}
		s.Respond(p.Header.Sequence, pdu.StatusOK, &pdu.UnbindRespBody{})
		// On the reader goroutine: the writer puts the response out,
		// then the session ends and the read loop with it.
		s.drainAndClose(nil)
	default:
		if s.h == nil {
			s.Respond(p.Header.Sequence, pdu.StatusInvCmdID, &pdu.GenericNackBody{})
			return
		}
		s.h.HandleRequest(s, p)
	}
}

// decodeError answers a PDU that framed but did not decode. A request gets
// its own response type with the status the decoder chose, an unknown
// command generic_nack; a broken response is dropped (answering a response
// is not allowed).
func (s *Session) decodeError(err error) {
	var de *pdu.Error
	if !errors.As(err, &de) {
		s.m.malformed("other")
		return
	}
	hd := de.Header
	s.m.malformed(statusLabel(de.Status))
	s.log.Debug("smpp PDU rejected", "remote", s.conn.RemoteAddr().String(), "command", hd.Command.String(), "status", de.Status.String())
	switch {
	case hd.Command == pdu.GenericNack:
		// A generic_nack is never answered; a broken one still ends the
		// call it names.
		s.complete(pdu.PDU{Header: pdu.Header{Command: pdu.GenericNack, Status: pdu.StatusSysErr, Sequence: hd.Sequence}, Body: &pdu.GenericNackBody{}})
	case !hd.Command.Known():
		s.Respond(hd.Sequence, de.Status, &pdu.GenericNackBody{})
	case hd.Command.IsResponse():
		// A response we cannot read still completes the call, as a
		// failure, so the caller is not left waiting for the timeout.
		s.complete(pdu.PDU{Header: pdu.Header{Command: hd.Command, Status: pdu.StatusSysErr, Sequence: hd.Sequence}, Body: &pdu.GenericNackBody{}})
	default:
		s.RespondError(hd.Sequence, hd.Command, de.Status)
	}
}

// RespondError refuses the request cmd with status st, in the request's
// own (empty) response type, or as generic_nack for a command that has
// none.
func (s *Session) RespondError(seq uint32, cmd pdu.CommandID, st pdu.Status) {
	if body := errorResponse(cmd); body != nil {
		s.Respond(seq, st, body)
		return
	}
	s.Respond(seq, st, &pdu.GenericNackBody{})
}

// errorResponse returns the (empty) response body for a request command, so
// a rejected request is answered in its own type as §3.3 asks.
func errorResponse(cmd pdu.CommandID) pdu.Body {
	switch cmd {
	case pdu.BindReceiver, pdu.BindTransmitter, pdu.BindTransceiver:
		return &pdu.BindResp{Cmd: cmd.Response()}
	case pdu.SubmitSM, pdu.DeliverSM:
		return &pdu.SMResp{Cmd: cmd.Response()}
	case pdu.DataSM:
		return &pdu.DataSMRespBody{}
	case pdu.SubmitMulti:
		return &pdu.SubmitMultiRespBody{}
	case pdu.QuerySM:
		return &pdu.QuerySMRespBody{}
	case pdu.CancelSM:
		return &pdu.CancelSMRespBody{}
	case pdu.ReplaceSM:
		return &pdu.ReplaceSMRespBody{}
	case pdu.Unbind:
		return &pdu.UnbindRespBody{}
	case pdu.EnquireLink:
		return &pdu.EnquireLinkRespBody{}
	}
	return nil
}

// complete hands a response to the call waiting for it.
// Only the request's own response type or a generic_nack completes it:
// an enquire_link_resp that happens to carry a deliver_sm's sequence
// number must not count as that deliver_sm's success. A generic_nack is a
// failure even if its status says 0.
func (s *Session) complete(p pdu.PDU) {
	seq := p.Header.Sequence
	s.mu.Lock()
	c := s.pending[seq]
	if c == nil || p.Header.Command != c.cmd.Response() && p.Header.Command != pdu.GenericNack {
		s.mu.Unlock()
		s.m.unmatched()
		return
	}
	delete(s.pending, seq)
	s.mu.Unlock()
	if p.Header.Command == pdu.GenericNack && p.Header.Status == pdu.StatusOK {
		p.Header.Status = pdu.StatusSysErr
	}
	c.resp = p
	s.settle(c)
}

// timerLoop runs enquire_link, the inactivity timeout and response
// timeouts. One goroutine and one ticker serve all three; the tick is a
// fraction of the shortest timer.
func (s *Session) timerLoop() {
	defer s.wg.Done()
	tick := min(s.cfg.EnquireLink, s.cfg.Inactivity, s.cfg.ResponseTimeout) / 4
	tick = max(min(tick, time.Second), 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var probing atomic.Bool
	for {
		select {
		case <-s.closed:
			return
		case now := <-t.C:
			recvNs := s.lastRecv.Load()
			recv := time.Unix(0, recvNs)
			if now.Sub(recv) > s.cfg.Inactivity {
				s.log.Info("smpp session inactive: closed", "remote", s.conn.RemoteAddr().String())
				s.closeWith(ErrInactive)
				return
			}
			idle := now.Sub(time.Unix(0, max(recvNs, s.lastSend.Load())))
			if idle > s.cfg.EnquireLink && s.State() != StateUnbinding && probing.CompareAndSwap(false, true) {
				s.wg.Add(1) // safe: this goroutine's own count is held
				go func() {
					defer s.wg.Done()
					defer probing.Store(false)
					ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ResponseTimeout)
					defer cancel()
					if _, err := s.Call(ctx, &pdu.EnquireLinkBody{}); err != nil && !errors.Is(err, ErrClosed) {
						s.closeWith(fmt.Errorf("enquire_link: %w", err))
					}
				}()
			}
			s.expire(now)
		}
	}
}

// expire fails every call past its deadline.
func (s *Session) expire(now time.Time) {
	var late []*call
	s.mu.Lock()
	for seq, c := range s.pending {
		if now.After(c.deadline) {
			delete(s.pending, seq)
			late = append(late, c)
		}
	}
	s.mu.Unlock()
	for _, c := range late {
		s.m.timeout()
		c.err = ErrTimeout
		s.settle(c)
	}
}
