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
	// MaxBatch is the largest BATCH packet (several messages in one
	// packet, docs/core-socket.md) this end reads and sends: 0 means
	// 16 KiB, a negative value turns BATCH off, so that this end neither
	// offers it in HELLO nor sends it. Messages go in batches only to a
	// peer that said in HELLO that it reads them.
	MaxBatch int
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
	switch {
	case out.MaxBatch == 0:
		out.MaxBatch = defaultMaxBatch
	case out.MaxBatch < 0:
		out.MaxBatch = 0
	case out.MaxBatch > maxBatchLimit:
		out.MaxBatch = maxBatchLimit
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

	// Batching (HELLO and BATCH, docs/core-socket.md). offer is set on the
	// end that connected: it sends HELLO the first time messages come or
	// go several at a time. sendBatch is the largest BATCH the other end
	// reads, 0 until its HELLO or HELLO response said it reads them.
	offer     bool
	helloSent atomic.Bool
	sendBatch atomic.Int32
	batching  chan struct{} // closed when sendBatch is first set, for tests
	// grow asks the reader, which alone touches it, for receive buffers
	// that hold a BATCH before its next read.
	grow bool
	// woken counts the calls the reader has completed since the writer
	// last looked: their callers are runnable and often about to call
	// again, which is worth a yield before writing.
	woken atomic.Int32

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
	// cb, for a call made with Go, gets the outcome instead of ch.
	cb func(Body, Status, error)
	// hello marks the transport's own HELLO call, which nobody waits
	// for: its response is applied by the reader.
	hello bool
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

// NewPeer takes over conn and starts the peer's goroutines. It is the
// connecting end's constructor (Dial uses it): this end offers BATCH in a
// HELLO once it has several messages to move at a time. The accepting end
// (a Server's peers) only answers HELLO, so that a client that predates it
// never sees a request it does not know.
func NewPeer(conn *Conn, cfg *Config) *Peer {
	p := newPeer(conn, cfg)
	p.offer = p.cfg.MaxBatch > 0
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
		// One more than calls and replies: the HELLO.
		wq:       make(chan *[]byte, c.MaxInFlight+c.ReplyQueue+1),
		pending:  make(map[uint32]*call),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		batching: make(chan struct{}),
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
	bp, err := p.prepare(ctx, req)
	if err != nil {
		return Header{}, nil, err
	}
	defer func() { <-p.slots }()
	buf := *bp
	c := callPool.Get().(*call)
	c.reqType = req.Type()
	id, ok := p.register(c, buf)
	if !ok {
		putBuf(bp)
		callPool.Put(c)
		return Header{}, nil, p.closedErr()
	}

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

// Go sends a request without waiting for its response: once one of the
// MaxInFlight slots that Call waits for is free, it queues the request and
// returns. cb then gets what Call would have returned, exactly once, on
// the peer's reader (or on the goroutine that closes the peer), and must
// not block. If Go returns an error, cb is not called. A callback may call
// Go again (its own slot is free by then) only where nothing else competes
// for slots, as in a load generator's chains fewer than MaxInFlight: else
// it could wait for a slot on the reader, which is what frees them.
func (p *Peer) Go(ctx context.Context, req Body, cb func(Body, Status, error)) error {
	bp, err := p.prepare(ctx, req)
	if err != nil {
		return err
	}
	c := &call{reqType: req.Type(), cb: cb}
	if _, ok := p.register(c, *bp); !ok {
		putBuf(bp)
		<-p.slots
		return p.closedErr()
	}
	// A full queue closes the peer, which settles the call through
	// pending.
	_ = p.enqueue(bp)
	return nil
}

// prepare takes a slot for a call and marshals its request. The caller
// gives the slot back once the call is over; on an error none is held.
func (p *Peer) prepare(ctx context.Context, req Body) (*[]byte, error) {
	if req == nil || req.Type().IsResponse() {
		return nil, fmt.Errorf("coresock: call needs a request body")
	}
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.closing:
			return nil, p.closedErr()
		}
	}
	bp := getBuf()
	buf, err := Marshal((*bp)[:0], Header{Type: req.Type()}, req)
	if err == nil && len(buf) > p.cfg.MaxMessage {
		err = fmt.Errorf("%w: %s of %d bytes", ErrOversize, req.Type(), len(buf))
	}
	if err != nil {
		putBuf(bp)
		<-p.slots
		return nil, err
	}
	*bp = buf
	return bp, nil
}

// settle hands a call its outcome: to Call's waiter, or, for Go, to the
// callback once the call's slot is given back. Whoever takes a call out of
// pending settles it.
func (p *Peer) settle(c *call, r result) {
	if c.cb == nil {
		c.ch <- r
		return
	}
	<-p.slots
	c.cb(r.body, r.h.Status, r.err)
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

// helloMessage makes this end's HELLO the first time it is asked for,
// registered as an outstanding call, or returns nil. It is asked for when
// messages come or go several at a time, since only then is there
// anything to batch; a client that makes one call at a time never sends it.
func (p *Peer) helloMessage() *[]byte {
	if !p.offer || p.helloSent.Load() || !p.helloSent.CompareAndSwap(false, true) {
		return nil
	}
	bp := getBuf()
	*bp, _ = Marshal((*bp)[:0], Header{Type: TypeHello}, &hello{caps: capBatch, maxBatch: uint32(p.cfg.MaxBatch)})
	// Not pooled: if the connection closes first, the close path leaves a
	// result in its channel that nobody takes.
	c := &call{reqType: TypeHello, ch: make(chan result, 1), hello: true}
	if _, ok := p.register(c, *bp); !ok {
		putBuf(bp)
		return nil
	}
	return bp
}

// register gives c a request id, writes it into the request's header in
// msg, lists c as pending and returns the id, or reports false if the
// peer has closed.
// Ids come from a counter; skipping ids still outstanding keeps matching
// exact even after the counter wraps.
func (p *Peer) register(c *call, msg []byte) (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, false
	}
	id := p.nextID.Add(1)
	for _, busy := p.pending[id]; busy; _, busy = p.pending[id] {
		id = p.nextID.Add(1)
	}
	p.pending[id] = c
	binary.BigEndian.PutUint32(msg[4:], id)
	return id, true
}

// answerHello answers the other end's HELLO with this end's capabilities
// and starts sending it batches if it reads them. It runs on the reader,
// which also makes its receive buffers large enough for a BATCH before it
// reads again: the other end sends none before it has this answer.
func (p *Peer) answerHello(h Header, m *hello) {
	resp := &helloResp{}
	if p.cfg.MaxBatch > 0 {
		resp.caps, resp.maxBatch = capBatch, uint32(p.cfg.MaxBatch)
		p.grow = true
	}
	p.startBatching(batchLimit(m.caps, m.maxBatch, p.cfg.MaxBatch))
	_ = p.Reply(h, StatusOK, 0, resp)
}

// startBatching lets the writer send BATCH packets of up to n bytes (n > 0)
// from now on. It runs on the reader only, so batching is closed once.
func (p *Peer) startBatching(n int) {
	if n > 0 && p.sendBatch.Swap(int32(n)) == 0 {
		close(p.batching)
	}
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
	var pending map[uint32]*call
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.cause = cause
		pending = p.pending
		p.pending = nil
		p.mu.Unlock()
		p.flush = flush
		close(p.closing)
		if !flush {
			p.conn.Close()
		}
	})
	// Settled outside the Once, so that a Go callback may close the peer
	// without waiting for itself.
	if len(pending) > 0 {
		err := p.closedErr()
		for _, c := range pending {
			p.settle(c, result{err: err})
		}
	}
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

// batchSlots is how many packets the reader takes per system call once its
// buffers hold a BATCH each: a packet then carries many messages, so a few
// slots move as much as batchSize did, with less memory per connection.
const batchSlots = 4

// newReader makes the reader's receive buffers: batchSize slots of a
// message, or batchSlots slots of a BATCH once batches may come. Each slot
// holds one byte more than the largest valid packet so that truncation (an
// oversize packet) is detectable.
func (p *Peer) newReader(batches bool) (*mmsg.Reader, int, error) {
	slots, size := batchSize, p.cfg.MaxMessage
	if batches {
		slots, size = batchSlots, max(p.cfg.MaxBatch, p.cfg.MaxMessage)
	}
	br, err := mmsg.NewReader(p.conn.c, slots, size+1, false)
	return br, size, err
}

func (p *Peer) reader() {
	defer p.exit()
	// The connecting end offers BATCH, so it reads batches from the start;
	// the accepting end grows its buffers when it answers a HELLO.
	big := p.offer
	br, limit, err := p.newReader(big)
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
		if err != nil {
			// A read fails when shutdown closed the socket; the peer
			// is done.
			p.shutdown(err, false)
			return
		}
		last = 0
		p.metrics.packetsInN(n)
		for i := range n {
			b := br.Packet(i)
			l := len(b)
			if l == 0 {
				// On a SOCK_SEQPACKET socket a zero-length read is
				// how the kernel reports that the other end hung
				// up (an empty packet is indistinguishable and no
				// valid message is empty).
				p.shutdown(io.EOF, false)
				return
			}
			if isBatch(b) {
				last += p.unbatch(b, l > limit)
				continue
			}
			last++
			p.metrics.in()
			if l > p.cfg.MaxMessage {
				p.metrics.big()
				p.oversize(b)
				continue
			}
			p.dispatch(b)
		}
		if last > 1 {
			// Messages come several at a time: batches would pay.
			if bp := p.helloMessage(); bp != nil {
				_ = p.enqueue(bp)
			}
		}
		if p.grow {
			p.grow = false
			if !big {
				// Only now: the packets of the last read live in
				// the old buffers until they are all handled.
				big = true
				if br, limit, err = p.newReader(true); err != nil {
					p.shutdown(err, false)
					return
				}
			}
		}
	}
}

// unbatch handles a BATCH packet and returns how many messages it held.
// truncated says the packet filled the receive buffer, so the kernel cut
// it. A well-framed BATCH is taken apart and each member handled as if it
// had come on its own; any other is refused as a whole.
func (p *Peer) unbatch(b []byte, truncated bool) int {
	if truncated || checkBatch(b) != nil {
		p.metrics.in()
		p.metrics.bad()
		if truncated {
			p.metrics.big()
		}
		p.refuseBatch(b)
		return 1
	}
	n := 0
	for rest := b[HeaderSize:]; len(rest) > 0; n++ {
		var m []byte
		m, rest, _ = nextMember(rest)
		p.metrics.in()
		if len(m) > p.cfg.MaxMessage {
			p.metrics.big()
			p.oversize(m)
			continue
		}
		// A member that is itself a BATCH is refused by Unmarshal,
		// which answers it MALFORMED: batches do not nest.
		p.dispatch(m)
	}
	return n
}

// refuseBatch answers a BATCH that cannot be taken apart: nothing in it
// is acted on, but every member whose header can be read is answered
// MALFORMED (a request) or fails its call (a response), so that nothing
// waits for an answer that will not come, and the BATCH itself is answered
// MALFORMED.
func (p *Peer) refuseBatch(b []byte) {
	for rest := b[HeaderSize:]; len(rest) > 0; {
		m, next, ok := nextMember(rest)
		if h, err := PeekHeader(m); err == nil {
			if h.Type.IsResponse() {
				p.complete(h, nil, fmt.Errorf("%w: %w: in a broken BATCH", ErrBadResponse, ErrMalformed))
			} else {
				p.replyStatus(h, StatusMalformed)
			}
		}
		if !ok {
			break
		}
		rest = next
	}
	h, _ := PeekHeader(b)
	p.replyStatus(h, StatusMalformed)
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
	if m, ok := body.(*hello); ok {
		// The transport's own: handlers never see HELLO.
		p.answerHello(h, m)
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
	if h.Type.Request() == TypeBatch {
		// The answer to a broken BATCH of ours: there is no call to
		// fail (its members were answered one by one), and its id
		// must not complete a call that happens to have it.
		p.metrics.stray()
		return
	}
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
	if c.hello {
		// An end that predates HELLO answers UNKNOWN_TYPE: it gets no
		// batches.
		if m, ok := body.(*helloResp); ok && err == nil && h.Status == StatusOK {
			p.startBatching(batchLimit(m.caps, m.maxBatch, p.cfg.MaxBatch))
		}
		return
	}
	if err == nil && h.Type != c.reqType.Response() {
		p.metrics.bad()
		err = fmt.Errorf("%w: %s to a %s request", ErrBadResponse, h.Type, c.reqType)
		body = nil
	}
	p.settle(c, result{h: h, body: body, err: err})
	p.woken.Add(1)
}

// maxGather is how many queued messages the writer takes at once when it
// may pack them into batches; without batches it takes one sendmmsg's
// worth (batchSize).
const maxGather = 8 * batchSize

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
	msgs := make([]*[]byte, 0, maxGather)
	var pk packer
	last := 0 // messages in the previous write
	// send writes the first message and whatever else is queued behind
	// it, packed into as few packets as the other end allows, with as few
	// system calls as the socket allows.
	send := func(first *[]byte) bool {
		msgs = append(msgs[:0], first)
		limit := int(p.sendBatch.Load())
		gather := batchSize
		if limit > 0 {
			gather = maxGather
		}
		if woken := p.woken.Swap(0); (last > 1 || woken > 1) && len(p.wq) < batchSize-1 {
			// Let the goroutines that are runnable now (callers woken
			// by one batch of replies, replies made by one group commit)
			// queue theirs too, so that one packet or one sendmmsg
			// carries them all. Only while messages come several at a
			// time: a lone message would just wait.
			runtime.Gosched()
		}
	fill:
		for len(msgs) < gather {
			select {
			case bp := <-p.wq:
				msgs = append(msgs, bp)
			default:
				break fill
			}
		}
		if len(msgs) > 1 {
			// Several at a time: the moment to offer batches.
			if bp := p.helloMessage(); bp != nil {
				msgs = append(msgs, bp)
			}
		}
		pk.start(limit)
		for _, bp := range msgs {
			pk.add(bp)
		}
		now := time.Now()
		if deadline.Sub(now) < timeout/2 {
			deadline = now.Add(timeout)
			p.conn.SetWriteDeadline(deadline)
		}
		var err error
		for out := pk.out; len(out) > 0 && err == nil; {
			n := min(len(out), batchSize)
			err = bw.Write(out[:n])
			out = out[n:]
		}
		packets := len(pk.out)
		pk.done()
		for i, bp := range msgs {
			putBuf(bp)
			msgs[i] = nil
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
		p.metrics.outN(len(msgs), packets)
		last = len(msgs)
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

// packer turns the writer's queued messages into packets: runs of
// messages that fit together within the other end's BATCH limit become one
// BATCH, and a message that stays alone is sent as it is, so a BATCH
// always holds at least two. The BATCH buffers are the writer's own and
// kept from round to round; they grow to what is needed, not to the limit.
type packer struct {
	limit int       // largest BATCH to build; 0 builds none
	out   []*[]byte // this round's packets, in order
	cur   bool      // the last of out is a BATCH that may still grow
	free  []*[]byte // BATCH buffers, the first used of them in out
	used  int
}

func (k *packer) start(limit int) {
	k.limit, k.out, k.cur, k.used = limit, k.out[:0], false, 0
}

// add appends message bp to the packets. Messages are copied into a
// BATCH, so bp itself is not kept beyond the round either way.
func (k *packer) add(bp *[]byte) {
	n := len(k.out)
	if k.limit > 0 && n > 0 {
		prev := k.out[n-1]
		switch {
		case k.cur && len(*prev)+batchPrefix+len(*bp) <= k.limit:
			*prev = appendMember(*prev, *bp)
			return
		case !k.cur && HeaderSize+2*batchPrefix+len(*prev)+len(*bp) <= k.limit:
			b := k.buf()
			*b = appendBatchHeader((*b)[:0])
			*b = appendMember(*b, *prev)
			*b = appendMember(*b, *bp)
			k.out[n-1], k.cur = b, true
			return
		}
	}
	k.out, k.cur = append(k.out, bp), false
}

func (k *packer) buf() *[]byte {
	if k.used == len(k.free) {
		b := make([]byte, 0, 4096)
		k.free = append(k.free, &b)
	}
	k.used++
	return k.free[k.used-1]
}

// done forgets this round's packets once they are written.
func (k *packer) done() {
	clear(k.out)
	k.out = k.out[:0]
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
