package cpt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Message is one MSG line, copied out of the connection's buffer.
type Message struct {
	Group, Sender string
	Time          int64 // UNIX seconds; 0 when unknown or timeless
	Text          string
}

// DeclineError is a DECLINE answer to a command.
type DeclineError struct{ Reason string }

func (e *DeclineError) Error() string { return "cpt: declined: " + e.Reason }

// ErrClosed is returned by commands on a connection that has ended, wrapped
// together with why it ended (io.EOF, a network error, the DECLINE the
// server sent before closing).
var ErrClosed = errors.New("cpt: connection closed")

// ErrProtocol is a server reply that does not fit the command outstanding;
// the client closes the connection, since it can no longer tell which
// reply answers what.
var ErrProtocol = errors.New("cpt: protocol error")

const (
	// PushBuffer is the capacity of the Messages channel.
	PushBuffer = 1024
	// clientMaxLine bounds one server line. It is far above any server's
	// input limit, because a MSG carries a whole SEND text plus a group, a
	// sender and a timestamp.
	clientMaxLine = 64 << 10
	// replyBuffer lets the reader run ahead of a pipelining sender.
	replyBuffer = 256
)

// Client is one CPT connection. Commands are serialized, as the spec wants
// (a client waits for ACK or ENDSYNC before its next interaction); they may
// be called from several goroutines, and one runs at a time.
//
// One reader goroutine reads every server line. Replies go to the command
// waiting for them; a MSG goes to the outstanding SYNC if there is one,
// otherwise to Messages. A push is indistinguishable from a SYNC result by
// its syntax, so the rule is positional: while a SYNC is outstanding, every
// MSG before its ENDSYNC is part of its reply. The spec allows that (a SYNC
// "MAY provide messages sent during the transmission").
//
// Cancelling the context of a command closes the connection: the command
// may be half written or half answered, so the client could not tell which
// later reply is whose.
type Client struct {
	conn net.Conn

	turn chan struct{} // holds the right to issue a command; a channel so waiting obeys ctx
	wbuf []byte        // owned by the holder of turn

	replies chan clientEvent // answers to commands, and the MSGs of a SYNC
	pushes  chan Message     // MSGs outside a SYNC; closed when the reader exits
	done    chan struct{}    // closed when the reader goroutine has exited
	closed  chan struct{}    // closed by shutdown

	closeOnce sync.Once
	closeErr  error // the conn.Close result of the first shutdown
	cause     error // why the connection ended; written before closed is closed

	mu          sync.Mutex // guards the fields below, shared by the reader and commands
	owed        int        // replies owed for commands written
	inSync      bool       // a SYNC is outstanding
	unsolicited *DeclineError
}

// clientEvent is what the reader hands a waiting command.
type clientEvent struct {
	verb   Verb
	reason string  // DECLINE
	msg    Message // MSG
}

// Dial connects to a CPT server, over TLS when tlsConfig is not nil (its
// ServerName defaults to the host of addr).
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config) (*Client, error) {
	var d net.Dialer
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		td := tls.Dialer{NetDialer: &d, Config: tlsConfig}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("cpt: dial %s: %w", addr, err)
	}
	return NewClient(conn), nil
}

// NewClient runs the protocol over an established connection, which the
// Client then owns.
func NewClient(conn net.Conn) *Client {
	c := &Client{
		conn:    conn,
		turn:    make(chan struct{}, 1),
		replies: make(chan clientEvent, replyBuffer),
		pushes:  make(chan Message, PushBuffer),
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// Messages returns the MSG lines the server pushes outside a SYNC reply.
// The channel holds PushBuffer messages; when it is full the reader
// goroutine waits, so the connection stops being read and TCP pushes back
// on the server, rather than the client dropping messages or growing
// without bound. The consequence: a caller that issues commands must also
// drain Messages, or its commands stall (their replies queue behind the
// unread pushes) once PushBuffer pushes are waiting. The channel is closed
// when the connection ends.
func (c *Client) Messages() <-chan Message { return c.pushes }

// Close closes the connection and waits for the reader goroutine to exit.
func (c *Client) Close() error {
	err := c.shutdown(nil)
	<-c.done
	return err
}

// shutdown ends the connection once, recording the first cause.
func (c *Client) shutdown(cause error) error {
	c.closeOnce.Do(func() {
		c.cause = cause
		close(c.closed)
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

// endedErr is what a command returns on a connection that has ended.
func (c *Client) endedErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	decline := c.unsolicited
	c.mu.Unlock()
	switch {
	case decline != nil:
		return fmt.Errorf("%w: %w", ErrClosed, decline)
	case c.cause != nil:
		return fmt.Errorf("%w: %w", ErrClosed, c.cause)
	}
	return ErrClosed
}

// readLoop is the reader goroutine.
func (c *Client) readLoop() {
	defer close(c.done)
	defer close(c.pushes)
	r := NewReader(c.conn, clientMaxLine)
	for {
		line, err := r.ReadLine()
		if err != nil {
			c.shutdown(err)
			return
		}
		rep, err := ParseReply(line)
		if err != nil {
			c.shutdown(fmt.Errorf("%w: bad line from the server: %w", ErrProtocol, err))
			return
		}
		if err := c.dispatch(rep); err != nil {
			c.shutdown(err)
			return
		}
	}
}

// dispatch routes one reply. It returns an error to end the connection.
func (c *Client) dispatch(rep Reply) error {
	ev := clientEvent{verb: rep.Verb}
	c.mu.Lock()
	switch rep.Verb {
	case VerbMsg:
		ev.msg = Message{Group: string(rep.Group), Sender: string(rep.Sender), Time: rep.Time, Text: string(rep.Text)}
		if !c.inSync {
			c.mu.Unlock()
			select {
			case c.pushes <- ev.msg:
				return nil
			case <-c.closed:
				return ErrClosed
			}
		}
	case VerbDecline:
		ev.reason = string(rep.Reason)
		if c.owed == 0 {
			// Sent on the server's own initiative, typically just
			// before it closes (server_busy, an idle timeout): kept to
			// tell the next command why the connection ended.
			c.unsolicited = &DeclineError{Reason: ev.reason}
			c.mu.Unlock()
			return nil
		}
		c.owed--
		c.inSync = false
	case VerbEndSync:
		if !c.inSync {
			c.mu.Unlock()
			return fmt.Errorf("%w: ENDSYNC without a SYNC", ErrProtocol)
		}
		c.inSync = false
		c.owed--
	default: // ACCEPT, ACK
		if c.owed == 0 || c.inSync {
			c.mu.Unlock()
			return fmt.Errorf("%w: unexpected %v", ErrProtocol, rep.Verb)
		}
		c.owed--
	}
	c.mu.Unlock()
	select {
	case c.replies <- ev:
		return nil
	case <-c.closed:
		return ErrClosed
	}
}

// begin takes the turn to issue a command and arms ctx to close the
// connection, which unblocks a write stuck on a full socket as well as a
// wait for a reply. The returned func gives the turn back.
func (c *Client) begin(ctx context.Context) (func(), error) {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, c.endedErr(ctx)
	}
	stop := context.AfterFunc(ctx, func() { c.shutdown(context.Cause(ctx)) })
	return func() {
		stop()
		<-c.turn
	}, nil
}

// write sends b after recording that it is owed n replies (before writing,
// so the reader already knows when the first reply arrives), isSync telling
// whether b is a SYNC.
func (c *Client) write(ctx context.Context, b []byte, n int, isSync bool) error {
	c.mu.Lock()
	c.owed += n
	c.inSync = isSync
	c.mu.Unlock()
	if _, err := c.conn.Write(b); err != nil {
		c.shutdown(err)
		return c.endedErr(ctx)
	}
	return nil
}

// await returns the next reply, preferring one already delivered over the
// news that the connection has since ended.
func (c *Client) await(ctx context.Context) (clientEvent, error) {
	select {
	case ev := <-c.replies:
		return ev, nil
	case <-ctx.Done():
		c.shutdown(ctx.Err())
		return clientEvent{}, ctx.Err()
	case <-c.closed:
		select {
		case ev := <-c.replies:
			return ev, nil
		default:
			return clientEvent{}, c.endedErr(ctx)
		}
	}
}

// answer turns the reply to a CONNECT or SEND into an error: nil for ok, a
// *DeclineError for DECLINE, and for anything else a protocol error that
// ends the connection.
func (c *Client) answer(ev clientEvent, ok Verb, cmd string) error {
	switch ev.verb {
	case ok:
		return nil
	case VerbDecline:
		return &DeclineError{Reason: ev.reason}
	}
	err := fmt.Errorf("%w: %v in answer to %s", ErrProtocol, ev.verb, cmd)
	c.shutdown(err)
	return err
}

// Connect sends CONNECT with the username and, unless secret is empty, the
// password as a second token. A DECLINE returns *DeclineError; the spec
// says the client should then close the connection, which is the caller's
// to do.
func (c *Client) Connect(ctx context.Context, name, secret string) error {
	if err := ValidName([]byte(name)); err != nil {
		return err
	}
	if secret != "" {
		if err := validSecret([]byte(secret)); err != nil {
			return err
		}
	}
	release, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	c.wbuf = AppendConnect(c.wbuf[:0], name, secret)
	if err := c.write(ctx, c.wbuf, 1, false); err != nil {
		return err
	}
	ev, err := c.await(ctx)
	if err != nil {
		return err
	}
	return c.answer(ev, VerbAccept, "CONNECT")
}

// Send sends one message and waits for its ACK. The target and text are
// checked first (ValidName, ValidText), so a newline in text returns
// ErrBadFormat instead of injecting a second command.
func (c *Client) Send(ctx context.Context, target, text string) error {
	if err := checkSend(target, []byte(text)); err != nil {
		return err
	}
	release, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	c.wbuf = AppendSend(c.wbuf[:0], target, []byte(text))
	if err := c.write(ctx, c.wbuf, 1, false); err != nil {
		return err
	}
	ev, err := c.await(ctx)
	if err != nil {
		return err
	}
	return c.answer(ev, VerbAck, "SEND")
}

func checkSend(target string, text []byte) error {
	if err := ValidName([]byte(target)); err != nil {
		return err
	}
	return ValidText(text)
}

// SendPipelined sends every text to target with up to window SENDs written
// ahead of their ACKs: the server answers each SEND in order, so the client
// needs no ids to match them. It is for load generators; a chat client uses
// Send. Every SEND is answered even when some are declined; the error is
// the first DECLINE, wrapped with its index.
func (c *Client) SendPipelined(ctx context.Context, target string, texts [][]byte, window int) error {
	for _, t := range texts {
		if err := checkSend(target, t); err != nil {
			return err
		}
	}
	window = max(window, 1)
	release, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	var firstDecline error
	sent, answered := 0, 0
	take := func(ev clientEvent) error {
		if err := c.answer(ev, VerbAck, "SEND"); err != nil {
			var d *DeclineError
			if !errors.As(err, &d) {
				return err
			}
			if firstDecline == nil {
				firstDecline = fmt.Errorf("cpt: SEND %d of %d: %w", answered+1, len(texts), err)
			}
		}
		answered++
		return nil
	}
	for answered < len(texts) {
		// Write as many as the window allows in one write, so that
		// pipelining saves system calls as well as round trips.
		if n := min(window-(sent-answered), len(texts)-sent); n > 0 {
			c.wbuf = c.wbuf[:0]
			for _, t := range texts[sent : sent+n] {
				c.wbuf = AppendSend(c.wbuf, target, t)
			}
			if err := c.write(ctx, c.wbuf, n, false); err != nil {
				return err
			}
			sent += n
		}
		ev, err := c.await(ctx)
		if err != nil {
			return err
		}
		if err := take(ev); err != nil {
			return err
		}
		// Take the replies already here before writing again.
	drain:
		for answered < sent {
			select {
			case ev := <-c.replies:
				if err := take(ev); err != nil {
					return err
				}
			default:
				break drain
			}
		}
	}
	return firstDecline
}

// Sync sends "SYNC <group> <after>", or the bare SYNC (the messages sent to
// me) when group is empty, and returns the MSGs up to ENDSYNC.
func (c *Client) Sync(ctx context.Context, group string, after int64) ([]Message, error) {
	if group != "" {
		if err := ValidName([]byte(group)); err != nil {
			return nil, err
		}
	}
	if after < 0 {
		return nil, errTimestamp
	}
	release, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	c.wbuf = AppendSync(c.wbuf[:0], group, after)
	if err := c.write(ctx, c.wbuf, 1, true); err != nil {
		return nil, err
	}
	var msgs []Message
	for {
		ev, err := c.await(ctx)
		if err != nil {
			return nil, err
		}
		switch ev.verb {
		case VerbMsg:
			msgs = append(msgs, ev.msg)
		case VerbEndSync:
			return msgs, nil
		case VerbDecline:
			return nil, &DeclineError{Reason: ev.reason}
		default:
			err := fmt.Errorf("%w: %v in answer to SYNC", ErrProtocol, ev.verb)
			c.shutdown(err)
			return nil, err
		}
	}
}
