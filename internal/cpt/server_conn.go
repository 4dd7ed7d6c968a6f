package cpt

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/chat"
	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/tokenbucket"
)

// conn is one client connection. The reader goroutine (run) owns the
// session, the rate budget and the connect tries; everything a store
// completion or a push touches is under mu.
//
// Replies keep the order of the commands they answer although SENDs are
// stored asynchronously: every reply takes a slot in pend, in command
// order, and a slot's line is written only when every earlier slot has
// been answered. Pushed MSG lines do not take slots; they go out as they
// come, except during a SYNC reply, where they are held back until after
// its ENDSYNC so that every MSG of the reply carries the requested group.
type conn struct {
	s  *Server
	nc net.Conn
	ip netip.Addr
	r  *Reader

	fd       int // the socket's descriptor for parking; -1 for TLS
	gone     atomic.Bool
	sess     *chat.Session
	tries    int
	budget   tokenbucket.Bucket
	floods   int
	stopping atomic.Bool

	mu       sync.Mutex
	cond     *sync.Cond // signalled when pend drains or out shrinks
	out      []byte
	flushing bool
	kickDue  bool // Deliver asked the chat service for a Flush
	dead     bool
	syncing  bool
	held     []*chat.Message
	heldSize int // bytes of text in held, counted against SendQueue
	pend     []slot
	pendBase uint64 // sequence number of pend[0]
	inflight int    // SENDs being stored
}

// slot is one reply in command order.
type slot struct {
	done   bool
	reason string // "" is ACK
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc}
	c.cond = sync.NewCond(&c.mu)
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.ip = ta.AddrPort().Addr().Unmap()
	}
	c.r = NewReader(nc, s.cfg.MaxLine)
	c.fd = -1
	if tc, ok := nc.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	return c
}

// stopReading makes the reader goroutine stop after the line it is on.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	if c.s.park.unpark(c) {
		go c.resume()
	}
}

func (c *conn) run() {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.ConnectTimeout))
	if c.stopping.Load() {
		c.finish()
		c.s.ended(c)
		return
	}
	c.serve()
}

// serve reads and serves lines until the connection ends, or until it is
// idle and parks (park_linux.go), in which case a new goroutine calls
// serve again when the socket is readable.
func (c *conn) serve() { c.serveFrom(false) }

// resume is serve for a connection coming back from the parker: the
// socket is readable, so it reads before it may park again.
func (c *conn) resume() { c.serveFrom(true) }

func (c *conn) serveFrom(woken bool) {
	// This loop's frame is kept small and the work is in handle: a parked
	// reader's stack is its frames plus this one.
	for {
		if woken {
			woken = false
		} else if c.sess != nil && c.r.Buffered() == 0 {
			c.r.Release()
			if c.s.park.park(c) {
				return
			}
		}
		line, err := c.r.ReadLine()
		if !c.handle(line, err) {
			break
		}
	}
	c.finish()
	c.s.ended(c)
}

// handle serves one line (or the read error in its place) and reports
// whether the connection stays open.
//
//go:noinline
func (c *conn) handle(line []byte, err error) bool {
	if err != nil {
		if errors.Is(err, ErrLineTooLong) {
			c.s.m.badInput(ReasonLineTooLong)
			c.decline(ReasonLineTooLong)
			return true
		}
		return false
	}
	c.s.m.lines.Inc()
	if !c.allow() {
		c.s.m.badInput(ReasonRateLimited)
		c.decline(ReasonRateLimited)
		if c.floods >= c.s.cfg.FloodLimit {
			c.s.log.Info("cpt client disconnected for flooding", "remote", c.ip.String())
			return false
		}
		return true
	}
	req, err := ParseRequest(line)
	if err != nil {
		reason := Reason(err)
		c.s.m.badInput(reason)
		c.decline(reason)
		return true
	}
	switch req.Verb {
	case VerbConnect:
		return c.connect(&req)
	case VerbSend:
		return c.send(&req)
	case VerbSync:
		return c.sync(&req)
	}
	c.decline(ReasonUnsupportedCommand)
	return true
}

// allow spends one command from the token bucket.
func (c *conn) allow() bool {
	if !c.budget.Take(time.Now(), c.s.cfg.Rate, float64(c.s.cfg.Burst)) {
		c.floods++
		return false
	}
	c.floods = 0
	return true
}

func (c *conn) connect(req *Request) bool {
	if c.sess != nil {
		c.decline(ReasonAlreadyLoggedIn)
		return true
	}
	name := string(req.Name)
	if reason := c.login(name, req.Secret); reason != "" {
		c.decline(reason)
		c.tries++
		return c.tries < c.s.cfg.MaxConnectTries
	}
	c.s.m.logins.Inc()
	c.release(AppendAccept(nil))
	_ = c.nc.SetReadDeadline(time.Time{})
	if c.stopping.Load() {
		c.stopReading()
	}
	return true
}

// login checks a CONNECT and claims the name; it returns the DECLINE
// reason, or "".
func (c *conn) login(name string, secret []byte) string {
	if !chat.ValidUsername([]byte(name)) {
		return ReasonUsernameInvalid
	}
	registered := false
	if auth := c.s.cfg.Auth; auth != nil {
		// Password checks are deliberately slow; bound how many run at
		// once so that a login flood cannot take every core.
		c.s.authSem <- struct{}{}
		reason, reg := auth(name, secret, c.ip)
		<-c.s.authSem
		if reason != "" {
			return reason
		}
		registered = reg
	}
	if !registered && !c.s.cfg.AllowUnregistered {
		return ReasonBadCredentials
	}
	// Pushes to the new session wait until ACCEPT has been queued: a
	// client expects ACCEPT as the first answer to its CONNECT.
	c.mu.Lock()
	c.syncing = true
	c.mu.Unlock()
	sess, err := c.s.chat.Login(name, c)
	if err != nil {
		c.mu.Lock()
		c.syncing = false
		c.mu.Unlock()
	}
	switch {
	case errors.Is(err, chat.ErrNameTaken):
		return ReasonUsernameTaken
	case errors.Is(err, chat.ErrNameReserved):
		return ReasonUsernameInvalid
	case err != nil:
		return ReasonServerBusy
	}
	c.sess = sess
	return ""
}

func (c *conn) send(req *Request) bool {
	if c.sess == nil {
		c.decline(ReasonNotConnected)
		return true
	}
	c.mu.Lock()
	for c.inflight >= c.s.cfg.Pipeline && !c.dead {
		c.cond.Wait()
	}
	if c.dead {
		c.mu.Unlock()
		return false
	}
	seq := c.pendBase + uint64(len(c.pend))
	c.pend = append(c.pend, slot{})
	c.inflight++
	c.mu.Unlock()
	c.s.m.sends.Inc()
	c.sess.Post(context.Background(), string(req.Name), req.Text, func(_ uint64, err error) {
		reason := ""
		if err != nil {
			reason = sendReason(err)
			c.s.m.sendRefused(reason)
		}
		c.resolve(seq, reason, true)
	})
	return true
}

// sendReason maps a refused SEND to its DECLINE reason.
func sendReason(err error) string {
	var ce *core.Error
	switch {
	case errors.Is(err, chat.ErrTooLong):
		return ReasonTooLong
	case errors.Is(err, chat.ErrNoNumber):
		return ReasonNotPermitted
	case errors.As(err, &ce):
		switch ce.Status {
		case coresock.StatusUpstreamNotPermitted, coresock.StatusSourceNotAllowed:
			return ReasonNotPermitted
		case coresock.StatusInvalidNumber, coresock.StatusUnroutable, coresock.StatusNotSMSCapable:
			return ReasonUnknownTarget
		case coresock.StatusBadLength:
			return ReasonTooLong
		}
	}
	return ReasonServerBusy
}

func (c *conn) sync(req *Request) bool {
	if c.sess == nil {
		c.decline(ReasonNotConnected)
		return true
	}
	c.mu.Lock()
	// Answer every SEND before the SYNC, so that the replies stay in
	// order and the SYNC sees the client's own messages.
	for len(c.pend) > 0 && !c.dead {
		c.cond.Wait()
	}
	if c.dead {
		c.mu.Unlock()
		return false
	}
	c.syncing = true
	c.mu.Unlock()
	target := ""
	if req.HasGroup {
		target = string(req.Name)
	}
	c.s.m.syncs.Inc()
	err := c.sess.History(target, time.Unix(req.After, 0), func(m *chat.Message) error {
		return c.queueWait(appendMsg(nil, m))
	})
	if err != nil {
		return false
	}
	c.release(AppendEndSync(nil))
	return true
}

// release ends a stretch in which pushes were held back (a SYNC reply, or
// a login until its ACCEPT): line, then the held messages in order, all in
// one critical section so that no newer push can come between them.
func (c *conn) release(line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncing = false
	held := c.held
	c.held, c.heldSize = nil, 0
	if !c.appendLocked(line) {
		return
	}
	for _, m := range held {
		if !c.appendLocked(m.Wire(chat.WireCPT, encodeMsg)) {
			return
		}
	}
	c.kickLocked()
}

// decline queues a DECLINE in command order: behind SENDs still being
// stored it waits in a slot.
func (c *conn) decline(reason string) {
	c.s.m.declines(reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pend) == 0 {
		c.queueLocked(AppendDecline(nil, reason))
		return
	}
	c.pend = append(c.pend, slot{done: true, reason: reason})
}

// resolve answers the SEND in slot seq and writes every answer that no
// longer waits for an earlier one.
func (c *conn) resolve(seq uint64, reason string, isSend bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isSend {
		c.inflight--
	}
	i := int(seq - c.pendBase)
	if i < 0 || i >= len(c.pend) {
		return
	}
	c.pend[i] = slot{done: true, reason: reason}
	n := 0
	for n < len(c.pend) && c.pend[n].done {
		if r := c.pend[n].reason; r == "" {
			c.queueLocked(AppendAck(nil))
		} else {
			c.queueLocked(AppendDecline(nil, r))
		}
		n++
	}
	if n > 0 {
		c.pend = c.pend[n:]
		c.pendBase += uint64(n)
		if len(c.pend) == 0 {
			c.pend = nil
		}
	}
	c.cond.Broadcast()
}

// Deliver is chat.Endpoint: a message pushed to this user. It queues
// without starting a write; the chat service calls Flush after its batch.
func (c *conn) Deliver(m *chat.Message) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	if c.syncing {
		// Held pushes count against the send queue like queued ones, so
		// that a client that SYNCs a long history and reads slowly cannot
		// make us hold a busy group's traffic without bound.
		c.heldSize += len(m.Text) + 64
		if len(c.out)+c.heldSize > c.s.cfg.SendQueue {
			c.cutSlowLocked(len(c.out) + c.heldSize)
			return false
		}
		c.held = append(c.held, m)
		return false
	}
	if !c.appendLocked(m.Wire(chat.WireCPT, encodeMsg)) || c.flushing || c.kickDue {
		return false
	}
	c.kickDue = true
	return true
}

// Flush is chat.Endpoint: start writing what Deliver queued.
func (c *conn) Flush() {
	c.mu.Lock()
	c.kickDue = false
	c.kickLocked()
	c.mu.Unlock()
}

func encodeMsg(m *chat.Message) []byte { return appendMsg(nil, m) }

// appendMsg encodes a message as MSG. Text from the chat front-ends never
// holds line breaks, but one from anywhere would end the line early and
// let its rest be read as a command, so they are made spaces here too.
func appendMsg(dst []byte, m *chat.Message) []byte {
	text := m.Text
	if bytes.IndexByte(text, '\n') >= 0 || bytes.IndexByte(text, '\r') >= 0 {
		text = bytes.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, text)
	}
	return AppendMsg(dst, m.Target, m.Sender, m.Time.Unix(), text)
}

// queueLocked adds bytes to the send queue and makes sure a flusher runs.
func (c *conn) queueLocked(b []byte) {
	if c.appendLocked(b) {
		c.kickLocked()
	}
}

// appendLocked adds bytes to the send queue. Beyond SendQueue the client
// is a slow consumer and is cut off; it reports whether the bytes were
// queued.
func (c *conn) appendLocked(b []byte) bool {
	if c.dead {
		return false
	}
	if len(c.out)+len(b) > c.s.cfg.SendQueue {
		c.cutSlowLocked(len(c.out))
		return false
	}
	if c.out == nil {
		c.out = getBuf()
	}
	c.out = append(c.out, b...)
	return true
}

// cutSlowLocked disconnects a client that fell too far behind.
func (c *conn) cutSlowLocked(queued int) {
	c.s.m.slowConsumers.Inc()
	c.s.log.Info("cpt slow consumer disconnected", "remote", c.ip.String(), "queued", queued)
	c.killLocked()
}

// kickLocked starts a flusher unless one runs or nothing is queued.
func (c *conn) kickLocked() {
	if !c.flushing && !c.dead && len(c.out) > 0 {
		c.flushing = true
		go c.flush()
	}
}

// queueWait is queueLocked for a SYNC reply, which may be much larger
// than the send queue: it waits for the queue to drain below half instead
// of cutting the client, whose own request this is.
func (c *conn) queueWait(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) > c.s.cfg.SendQueue/2 && !c.dead {
		c.cond.Wait()
	}
	if c.dead {
		return net.ErrClosed
	}
	c.queueLocked(b)
	return nil
}

// flush writes the send queue until it is empty; at most one runs per
// connection, started when the queue stops being empty, so an idle
// connection has no writer goroutine and no buffer.
func (c *conn) flush() {
	spare := getBuf()
	for {
		c.mu.Lock()
		if len(c.out) == 0 || c.dead {
			c.flushing = false
			// An idle connection keeps no buffer: both go back to the
			// pool for the next busy connection.
			putBuf(c.out)
			c.out = nil
			c.cond.Broadcast()
			c.mu.Unlock()
			putBuf(spare)
			return
		}
		buf := c.out
		c.out = spare[:0]
		c.cond.Broadcast()
		c.mu.Unlock()
		if err := c.writeAll(buf); err != nil {
			c.mu.Lock()
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.dead {
				c.cutSlowLocked(len(buf))
			}
			c.killLocked()
			c.flushing = false
			c.mu.Unlock()
			putBuf(buf)
			return
		}
		spare = buf
	}
}

// writeChunk is how much of the send queue one write with its own
// deadline carries: WriteTimeout bounds a client that takes nothing, not
// a slow one reading a large SYNC reply, which makes progress chunk by
// chunk.
const writeChunk = 64 << 10

// writeAll writes b, each writeChunk with a deadline of WriteTimeout.
func (c *conn) writeAll(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		if _, err := c.nc.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// sendBufSize is the capacity of pooled send buffers. Fan-out appends to
// a thousand queues at once; growing each from nothing by doubling, and
// dropping it when its connection went idle, was a quarter of the
// fan-out's CPU in allocation and garbage collection.
const sendBufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, sendBufSize); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

// putBuf returns a buffer to the pool unless it grew far beyond the usual
// size (one slow reader's megabyte should not stay around).
func putBuf(b []byte) {
	if cap(b) < sendBufSize || cap(b) > 8*sendBufSize {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}

// killLocked marks the connection dead and closes it, which also ends the
// reader goroutine.
func (c *conn) killLocked() {
	if c.dead {
		return
	}
	c.dead = true
	c.out = nil
	c.held = nil
	c.cond.Broadcast()
	// A parked connection has no goroutine to notice the close: take it
	// out of the set before its descriptor can be reused, and resume it
	// so that it finishes.
	c.gone.Store(true)
	if c.s.park.unpark(c) {
		go c.resume()
	}
	c.nc.Close()
}

// finish runs when the reader stops: the answers still owed are written
// (a stored message whose ACK is lost would be resent), then the
// connection closes and the name is free again.
func (c *conn) finish() {
	if c.sess != nil {
		// Leave the chat world first, so that nothing more is pushed.
		c.sess.Logout()
	}
	c.mu.Lock()
	deadline := time.AfterFunc(drainTimeout, func() {
		c.mu.Lock()
		c.killLocked()
		c.mu.Unlock()
	})
	for !c.dead && (len(c.pend) > 0 || c.flushing) {
		c.cond.Wait()
	}
	deadline.Stop()
	c.killLocked()
	c.mu.Unlock()
}

// drainTimeout bounds how long a closing connection waits for its owed
// answers to be written.
const drainTimeout = 5 * time.Second
