package coresock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/mmsg"
)

// Handler receives the requests that the other end of a connection sends.
//
// HandleRequest runs on the peer's reader goroutine, one request at a time in
// arrival order, so it must not block: it either answers at once with
// p.Reply or hands the work to another goroutine that answers later. Every
// request must get exactly one Reply (the other end has a call waiting for
// it). body is owned by the handler from then on.
type Handler interface {
	HandleRequest(p *Peer, h Header, body Body)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(p *Peer, h Header, body Body)

// HandleRequest calls f.
func (f HandlerFunc) HandleRequest(p *Peer, h Header, body Body) { f(p, h, body) }

// CloseHandler is implemented by a Handler that wants to know when its
// connection is gone. PeerClosed is called once, after the reader and writer
// goroutines have exited, so no HandleRequest call can follow it; the core
// uses it to take back the messages a role handler had in custody. err says
// why the connection ended.
type CloseHandler interface {
	PeerClosed(p *Peer, err error)
}

// Config sets up a Peer. The zero value is usable.
type Config struct {
	// Handler answers requests from the other end; nil answers every
	// request UNKNOWN_TYPE, which suits pure clients.
	Handler Handler
	// OnClose, if set, is called once when the connection is gone, after
	// the Handler's PeerClosed.
	OnClose func(p *Peer, err error)
	// MaxMessage is the largest message sent or accepted; 0 keeps the
	// connection's own limit (MaxMessage unless the Listener or DialConn
	// set another).
	MaxMessage int
	// MaxInFlight bounds the Calls outstanding on this peer at once
	// (default 1024); further Calls wait for a slot.
	MaxInFlight int
	// ReplyQueue is how many replies may wait for the writer (default
	// 1024). A peer that lets more pile up is not reading: it is a slow
	// consumer and is disconnected.
	ReplyQueue int
	// WriteTimeout is how long one packet may wait for room in the other
	// end's receive queue before the peer counts as a slow consumer and is
	// disconnected (default 5s).
	WriteTimeout time.Duration
	// Metrics, if set, counts traffic.
	Metrics *Metrics
}

const (
	defaultMaxInFlight  = 1024
	defaultReplyQueue   = 1024
	defaultWriteTimeout = 5 * time.Second
)

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.MaxInFlight <= 0 {
		out.MaxInFlight = defaultMaxInFlight
	}
	if out.ReplyQueue <= 0 {
		out.ReplyQueue = defaultReplyQueue
	}
	if out.WriteTimeout <= 0 {
		out.WriteTimeout = defaultWriteTimeout
	}
	return out
}

// Errors of a Peer. Every outstanding Call fails with an error that matches
// ErrClosed when the connection ends; the cause is wrapped along with it.
var (
	// ErrSlowConsumer is the cause recorded for a peer cut because it did
	// not read what was sent to it.
	ErrSlowConsumer = errors.New("coresock: slow consumer")
	// ErrLocalClose is the cause recorded for a peer closed by Close.
	ErrLocalClose = errors.New("coresock: closed locally")
	// ErrBadResponse is returned by Call when the response could not be
	// decoded or answers a different request type.
	ErrBadResponse = errors.New("coresock: bad response")
)

// Peer is one end of a connection, the same type on the core's side (one per
// accepted client) and in a client. Both ends may send requests at any time,
// many in flight at once: Call sends one and waits for its response, which
// is matched by id; requests from the other end go to the Handler.
//
// A Peer runs two goroutines: a reader, which decodes packets, completes
// calls and dispatches requests, and a writer, which is the only one to
// write to the socket. Messages reach the writer through a bounded queue, so
// that a Reply never blocks the goroutine that makes it (in the core, the
// goroutine that owns all state), and a peer that does not keep up is cut
// off instead of holding the core back.
type Peer struct {
	conn    *Conn
	cfg     Config
	handler Handler
	metrics *Metrics

	nextID atomic.Uint32
	// slots bounds outstanding Calls. The write queue has room for all of
	// them plus ReplyQueue replies, so a Call never finds the queue full
	// and only piled-up replies can trip the slow consumer rule.
	slots chan struct{}
	wq    chan *[]byte

	mu      sync.Mutex
	pending map[uint32]*call
	closed  bool
	cause   error

	closeOnce sync.Once
	flush     bool          // written once under closeOnce, read by the writer after closing
	closing   chan struct{} // closed when the peer starts to close
	done      chan struct{} // closed when both goroutines are gone and OnClose returned
	running   atomic.Int32
}

// call is one outstanding Call. Calls are pooled: a round trip allocates
// nothing but the decoded response.
type call struct {
	reqType Type
	ch      chan result
}

type result struct {
	h    Header
	body Body
	err  error
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

// bufPool holds outgoing message buffers: a buffer goes from the goroutine
// that marshals into it, through the write queue, to the writer, which
// returns it after the write. Nothing is copied on the way.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, MaxMessage); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 4*MaxMessage {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// NewPeer takes over conn and starts the peer's goroutines.
func NewPeer(conn *Conn, cfg *Config) *Peer {
	p := newPeer(conn, cfg)
	p.start(p.cfg.Handler)
	return p
}

func newPeer(conn *Conn, cfg *Config) *Peer {
	c := cfg.withDefaults()
	if c.MaxMessage > 0 {
		conn.maxMessage = c.MaxMessage
	}
	c.MaxMessage = conn.maxMessage
	p := &Peer{
		conn:    conn,
		cfg:     c,
		metrics: c.Metrics,
		slots:   make(chan struct{}, c.MaxInFlight),
		wq:      make(chan *[]byte, c.MaxInFlight+c.ReplyQueue),
		pending: make(map[uint32]*call),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	return p
}

// start is separate from newPeer so that a server can build the Handler
// from the Peer before any request can arrive.
func (p *Peer) start(h Handler) {
	p.handler = h
	p.metrics.opened()
	p.running.Store(2)
	go p.reader()
	go p.writer()
}

// Conn returns the underlying connection, e.g. for PeerCred.
func (p *Peer) Conn() *Conn { return p.conn }

// Done is closed once the peer has closed and its OnClose callbacks returned.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the peer closed, or nil while it is open.
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

// Call sends a request and waits for its response. It returns the response
// body (nil for types whose responses have no fields and for every non-OK
// status) and the status. err is set only when no response was obtained:
// ctx ended, the connection closed (errors.Is(err, ErrClosed)), or the
// response was unusable (ErrBadResponse). Calls may be made from any number
// of goroutines at once.
func (p *Peer) Call(ctx context.Context, req Body) (Body, Status, error) {
	h, body, err := p.call(ctx, req)
	return body, h.Status, err
}

// CallReason is Call that also returns the response's reason detail, such as
// the SMPP error a peer delivery handler reports with a failure.
func (p *Peer) CallReason(ctx context.Context, req Body) (Body, Status, uint16, error) {
	h, body, err := p.call(ctx, req)
	return body, h.Status, h.Reason, err
}

func (p *Peer) call(ctx context.Context, req Body) (Header, Body, error) {
	if req == nil || req.Type().IsResponse() {
		return Header{}, nil, fmt.Errorf("coresock: call needs a request body")
	}
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return Header{}, nil, ctx.Err()
		case <-p.closing:
			return Header{}, nil, p.closedErr()
		}
	}
	defer func() { <-p.slots }()

	bp := getBuf()
	buf, err := Marshal((*bp)[:0], Header{Type: req.Type()}, req)
	if err != nil {
		putBuf(bp)
		return Header{}, nil, err
	}
	*bp = buf
	if len(buf) > p.cfg.MaxMessage {
		putBuf(bp)
		return Header{}, nil, fmt.Errorf("%w: %s of %d bytes", ErrOversize, req.Type(), len(buf))
	}

	c := callPool.Get().(*call)
	c.reqType = req.Type()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		putBuf(bp)
		callPool.Put(c)
		return Header{}, nil, p.closedErr()
	}
	// Ids come from a counter; skipping ids still outstanding keeps
	// matching exact even after the counter wraps.
	id := p.nextID.Add(1)
	for _, busy := p.pending[id]; busy; _, busy = p.pending[id] {
		id = p.nextID.Add(1)
	}
	p.pending[id] = c
	p.mu.Unlock()
	binary.BigEndian.PutUint32(buf[4:], id)

	// A full queue here can only be replies piling up: enqueue then
	// closes the peer, which fails this call through pending.
	_ = p.enqueue(bp)

	var r result
	select {
	case r = <-c.ch:
	case <-ctx.Done():
		p.mu.Lock()
		if p.pending[id] == c {
			delete(p.pending, id)
			p.mu.Unlock()
			callPool.Put(c)
			return Header{}, nil, ctx.Err()
		}
		p.mu.Unlock()
		// The reader or the close path took the call out of pending
		// and is about to deliver its result; take it so the call can
		// be reused.
		r = <-c.ch
	}
	callPool.Put(c)
	return r.h, r.body, r.err
}

// Reply answers the request whose header is req. With a status other than
// StatusOK the body is dropped: an error response carries no fields. Reply
// never blocks; if the reply cannot even be queued the other end is not
// reading, and it is disconnected as a slow consumer.
func (p *Peer) Reply(req Header, st Status, reason uint16, body Body) error {
	if st != StatusOK {
		body = nil
	}
	bp := getBuf()
	buf, err := Marshal((*bp)[:0], Header{Type: req.Type.Response(), ID: req.ID, Status: st, Reason: reason}, body)
	if err != nil {
		putBuf(bp)
		return err
	}
	*bp = buf
	if len(buf) > p.cfg.MaxMessage {
		putBuf(bp)
		return fmt.Errorf("%w: %s of %d bytes", ErrOversize, req.Type.Response(), len(buf))
	}
	return p.enqueue(bp)
}

// replyStatus answers a request that could not be decoded.
func (p *Peer) replyStatus(req Header, st Status) {
	bp := getBuf()
	*bp = AppendHeader((*bp)[:0], Header{Type: req.Type.Response(), ID: req.ID, Status: st})
	_ = p.enqueue(bp)
}

func (p *Peer) enqueue(bp *[]byte) error {
	select {
	case <-p.closing:
		putBuf(bp)
		return p.closedErr()
	default:
	}
	select {
	case p.wq <- bp:
		return nil
	default:
		putBuf(bp)
		p.metrics.slow()
		p.shutdown(ErrSlowConsumer, false)
		return p.closedErr()
	}
}

func (p *Peer) closedErr() error {
	p.mu.Lock()
	cause := p.cause
	p.mu.Unlock()
	if cause == nil || errors.Is(cause, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

// Close closes the connection after sending what is already queued, and
// waits until both goroutines have exited and the close callbacks have
// returned. It must not be called from HandleRequest or a close callback,
// which would wait for themselves; use Disconnect there.
func (p *Peer) Close() error {
	p.shutdown(ErrLocalClose, true)
	<-p.done
	return nil
}

// Disconnect starts closing the connection at once, dropping whatever is
// still queued, and returns without waiting. cause is what Err and failed
// calls report.
func (p *Peer) Disconnect(cause error) {
	if cause == nil {
		cause = ErrLocalClose
	}
	p.shutdown(cause, false)
}

// shutdown begins closing: it records the cause, fails every outstanding
// call and wakes the goroutines. With flush the writer first sends what is
// queued (a core shutting down still delivers the replies it made);
// otherwise the socket is closed right away, which also unblocks a writer
// stuck on a peer that does not read.
func (p *Peer) shutdown(cause error, flush bool) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.cause = cause
		pending := p.pending
		p.pending = nil
		p.mu.Unlock()
		p.flush = flush
		close(p.closing)
		if !flush {
			p.conn.Close()
		}
		err := p.closedErr()
		for _, c := range pending {
			c.ch <- result{err: err}
		}
	})
}

// exit is called by each goroutine as it ends; the last one out runs the
// close callbacks, so that they see a peer on which nothing runs any more.
func (p *Peer) exit() {
	if p.running.Add(-1) != 0 {
		return
	}
	p.conn.Close()
	p.metrics.closed()
	cause := p.Err()
	if ch, ok := p.handler.(CloseHandler); ok {
		ch.PeerClosed(p, cause)
	}
	if p.cfg.OnClose != nil {
		p.cfg.OnClose(p, cause)
	}
	close(p.done)
}

// batchSize is how many packets the reader and the writer move per system
// call at most.
const batchSize = 32

func (p *Peer) reader() {
	defer p.exit()
	// Each slot holds MaxMessage+1 bytes so that truncation (an oversize
	// packet) is detectable.
	br, err := mmsg.NewReader(p.conn.c, batchSize, p.conn.maxMessage+1, false)
	if err != nil {
		p.shutdown(err, false)
		return
	}
	last := 0
	for {
		if last > 1 {
			// Give the goroutines readied by the last batch a turn
			// first: what they send back arrives meanwhile, and one
			// recvmmsg takes it instead of a read that finds nothing and
			// parks. After a single packet there is nothing to gain and
			// a round trip to lose.
			runtime.Gosched()
		}
		n, err := br.Read()
		last = n
		if err != nil {
			// A read fails when shutdown closed the socket; the peer
			// is done.
			p.shutdown(err, false)
			return
		}
		for i := range n {
			l := len(br.Packet(i))
			if l == 0 {
				// On a SOCK_SEQPACKET socket a zero-length read is
				// how the kernel reports that the other end hung
				// up (an empty packet is indistinguishable and no
				// valid message is empty).
				p.shutdown(io.EOF, false)
				return
			}
			p.metrics.in()
			if l > p.cfg.MaxMessage {
				p.metrics.big()
				p.oversize(br.Packet(i))
				continue
			}
			p.dispatch(br.Packet(i))
		}
	}
}

// oversize handles a packet the kernel truncated: only its header is
// trustworthy. A request is answered MALFORMED, a response fails its call.
func (p *Peer) oversize(b []byte) {
	h, err := PeekHeader(b)
	if err != nil {
		return
	}
	if h.Type.IsResponse() {
		p.complete(h, nil, fmt.Errorf("%w: %w", ErrBadResponse, ErrOversize))
		return
	}
	p.replyStatus(h, StatusMalformed)
}

func (p *Peer) dispatch(b []byte) {
	h, body, err := Unmarshal(b)
	if err != nil {
		p.metrics.bad()
		if !HeaderReadable(err) {
			// Without a header there is no id to answer: drop it.
			return
		}
		if h.Type.IsResponse() {
			p.complete(h, nil, fmt.Errorf("%w: %w", ErrBadResponse, err))
			return
		}
		p.replyStatus(h, StatusFor(err))
		return
	}
	if h.Type.IsResponse() {
		p.complete(h, body, nil)
		return
	}
	if p.handler == nil {
		p.replyStatus(h, StatusUnknownType)
		return
	}
	p.handler.HandleRequest(p, h, body)
}

// complete hands a response to the call waiting for it. A response is
// matched by id and must answer the request type that was sent.
func (p *Peer) complete(h Header, body Body, err error) {
	p.mu.Lock()
	c := p.pending[h.ID]
	if c != nil {
		delete(p.pending, h.ID)
	}
	p.mu.Unlock()
	if c == nil {
		p.metrics.stray()
		return
	}
	if err == nil && h.Type != c.reqType.Response() {
		p.metrics.bad()
		err = fmt.Errorf("%w: %s to a %s request", ErrBadResponse, h.Type, c.reqType)
		body = nil
	}
	c.ch <- result{h: h, body: body, err: err}
}

func (p *Peer) writer() {
	defer p.exit()
	// Closing the socket on every way out is what ends the reader, which
	// may be blocked in a read.
	defer p.conn.Close()
	bw, err := mmsg.NewWriter(p.conn.c, batchSize)
	if err != nil {
		p.shutdown(err, false)
		return
	}
	// The deadline is renewed only when less than half of WriteTimeout is
	// left, so a busy writer does not pay for a timer update per batch,
	// while a blocked write still gets between half and all of it.
	var deadline time.Time
	timeout := p.cfg.WriteTimeout
	batch := make([]*[]byte, 0, batchSize)
	last := 0 // messages in the previous write
	// send writes the first message and whatever else is queued behind
	// it, up to a batch, in one system call where the socket allows.
	send := func(first *[]byte) bool {
		batch = append(batch[:0], first)
		if last > 1 && len(p.wq) < cap(batch)-1 {
			// Let the goroutines that are runnable now (callers woken
			// by one batch of replies, replies made by one group commit)
			// queue theirs too, so that one sendmmsg carries them all.
			// Only while messages come several at a time: a lone
			// message would just wait.
			runtime.Gosched()
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case bp := <-p.wq:
				batch = append(batch, bp)
			default:
				break fill
			}
		}
		now := time.Now()
		if deadline.Sub(now) < timeout/2 {
			deadline = now.Add(timeout)
			p.conn.SetWriteDeadline(deadline)
		}
		err := bw.Write(batch)
		for i, bp := range batch {
			putBuf(bp)
			batch[i] = nil
		}
		if err != nil {
			if isTimeout(err) {
				p.metrics.slow()
				p.shutdown(ErrSlowConsumer, false)
			} else {
				p.shutdown(err, false)
			}
			return false
		}
		p.metrics.outN(len(batch))
		last = len(batch)
		return true
	}
	for {
		select {
		case bp := <-p.wq:
			if !send(bp) {
				return
			}
		case <-p.closing:
			if !p.flush {
				return
			}
			for {
				select {
				case bp := <-p.wq:
					if !send(bp) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
