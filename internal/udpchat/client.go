package udpchat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client errors.
var (
	// ErrNoAnswer: the server answered none of the tries.
	ErrNoAnswer = errors.New("udpchat: no answer from the server")
	// ErrClientClosed: Close was called.
	ErrClientClosed = errors.New("udpchat: client closed")
)

// ServerError is an Error packet answering a request.
type ServerError struct{ Text string }

func (e *ServerError) Error() string { return "udpchat: server: " + e.Text }

// ClientConfig tunes a client.
type ClientConfig struct {
	// Retry is how long a request waits for its answer before it is sent
	// again; Tries how often it is sent. Retry × Tries should stay under
	// the server's duplicate window (2 s by default), so that a resent
	// message is recognised rather than posted twice.
	Retry time.Duration
	Tries int
	// ListQuiet is how long List waits after a 43 packet for another:
	// a long list comes in several, and the protocol does not say which
	// is the last.
	ListQuiet time.Duration
}

// Client speaks CHAT UDP to one server. Requests are sent one at a time
// and matched to answers by order, as the protocol, which has no request
// ids, allows; pushed messages (21, 23, unasked 43) arrive on Events.
type Client struct {
	cfg  ClientConfig
	conn *net.UDPConn
	name string

	events chan Packet
	// answers carries the packets that answer requests: OK, Error,
	// 41, and 43 or the sender's own 21 when a request waits for those.
	answers chan Packet

	reqMu sync.Mutex // one request at a time

	mu     sync.Mutex
	want   func(Packet) bool // an answer the current request waits for beyond OK/Error
	closed bool
	done   chan struct{}
}

// Dial opens a client socket toward addr.
func Dial(addr string, cfg ClientConfig) (*Client, error) {
	if cfg.Retry <= 0 {
		cfg.Retry = 300 * time.Millisecond
	}
	if cfg.Tries <= 0 {
		cfg.Tries = 5
	}
	if cfg.ListQuiet <= 0 {
		cfg.ListQuiet = 100 * time.Millisecond
	}
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udpchat: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, fmt.Errorf("udpchat: %w", err)
	}
	c := &Client{
		cfg:     cfg,
		conn:    conn,
		events:  make(chan Packet, 4096),
		answers: make(chan Packet, 64),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// LocalAddr is the client's address, which is its identity to the server.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// Events are the packets the server pushed: 21 broadcasts (other than
// the answer to our own), 23 private messages, unasked 43 lists, and
// Error packets that answered nothing. It is closed by Close. A client
// that does not read it loses pushes once 4096 are waiting.
func (c *Client) Events() <-chan Packet { return c.events }

// Close ends the client (without logging out).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := c.conn.Close()
	<-c.done
	return err
}

func (c *Client) read() {
	defer close(c.done)
	defer close(c.events)
	buf := make([]byte, MaxPacket+1)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error reported on a read: try again
		}
		p, err := Decode(buf[:n])
		if err != nil {
			continue
		}
		p.Data = bytes.Clone(p.Data)
		c.mu.Lock()
		want := c.want
		c.mu.Unlock()
		switch {
		case p.Op == OpOK || p.Op == OpError || p.Op == OpInfoReply || (want != nil && want(p)):
			select {
			case c.answers <- p:
			default:
			}
		default:
			select {
			case c.events <- p:
			default:
			}
		}
	}
}

// request sends pkt until an answer comes (OK, Error, or one that want
// accepts), and returns it.
func (c *Client) request(ctx context.Context, pkt []byte, want func(Packet) bool) (Packet, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	c.setWant(want)
	defer c.setWant(nil)
	return c.requestLocked(ctx, pkt)
}

// setWant sets the answers the current request waits for beyond
// OK/Error (nil: none).
func (c *Client) setWant(want func(Packet) bool) {
	c.mu.Lock()
	c.want = want
	c.mu.Unlock()
}

// requestLocked is request with reqMu held and c.want set by the caller.
// It leaves c.want alone, so that a caller that waits for more answers
// after the first (List) keeps them coming to c.answers without a gap.
func (c *Client) requestLocked(ctx context.Context, pkt []byte) (Packet, error) {
	// Answers left over from an earlier request that gave up are not
	// this one's.
	for len(c.answers) > 0 {
		<-c.answers
	}
	t := time.NewTimer(c.cfg.Retry)
	defer t.Stop()
	for try := 0; try < c.cfg.Tries; try++ {
		if _, err := c.conn.Write(pkt); err != nil {
			return Packet{}, fmt.Errorf("udpchat: %w", err)
		}
		t.Reset(c.cfg.Retry)
		select {
		case p := <-c.answers:
			return p, nil
		case <-t.C:
		case <-ctx.Done():
			return Packet{}, ctx.Err()
		case <-c.done:
			return Packet{}, ErrClientClosed
		}
	}
	return Packet{}, ErrNoAnswer
}

// okOrError turns an OK/Error answer into nil or a *ServerError.
func okOrError(p Packet, err error) error {
	if err != nil {
		return err
	}
	switch p.Op {
	case OpOK:
		return nil
	case OpError:
		return &ServerError{Text: string(p.Data)}
	}
	return fmt.Errorf("udpchat: unexpected answer opcode %d", p.Op)
}

// Register claims name for this address.
func (c *Client) Register(ctx context.Context, name string) error {
	err := okOrError(c.request(ctx, AppendPacket(nil, OpRegister, []byte(name)), nil))
	if err == nil {
		c.name = name
	}
	return err
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) error {
	return okOrError(c.request(ctx, AppendPacket(nil, OpLogout), nil))
}

// Info asks for the server's date and version.
func (c *Client) Info(ctx context.Context) (string, error) {
	p, err := c.request(ctx, AppendPacket(nil, OpInfo), nil)
	if err != nil {
		return "", err
	}
	if p.Op != OpInfoReply {
		return "", okOrError(p, nil)
	}
	return string(p.Data), nil
}

// List asks for the user list, gathering the 43 packets it comes in
// until ListQuiet passes without one (at most ten times that in all: a
// periodic list arriving meanwhile looks the same). Names are reported
// once each.
func (c *Client) List(ctx context.Context) ([]string, error) {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	// The 43 packets are wanted from the request until the last one: a
	// moment without the want between the first and the rest would send
	// those arriving in it to Events.
	c.setWant(func(p Packet) bool { return p.Op == OpListReply })
	defer c.setWant(nil)
	p, err := c.requestLocked(ctx, AppendPacket(nil, OpList))
	if err != nil {
		return nil, err
	}
	if p.Op != OpListReply {
		return nil, okOrError(p, nil)
	}
	seen := map[string]bool{}
	var names []string
	add := func(data []byte) {
		for _, n := range SplitList(data) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	add(p.Data)
	quiet := time.NewTimer(c.cfg.ListQuiet)
	defer quiet.Stop()
	end := time.NewTimer(10 * c.cfg.ListQuiet)
	defer end.Stop()
	for {
		select {
		case p := <-c.answers:
			if p.Op == OpListReply {
				add(p.Data)
				quiet.Reset(c.cfg.ListQuiet)
			}
		case <-quiet.C:
			return names, nil
		case <-end.C:
			return names, nil
		case <-ctx.Done():
			return names, ctx.Err()
		}
	}
}

// Broadcast sends text to every user; it returns once the server has sent
// our own copy back (which it does after storing it) or an Error.
func (c *Client) Broadcast(ctx context.Context, text string) error {
	me := []byte(c.name)
	own := func(p Packet) bool {
		if p.Op != OpPublic {
			return false
		}
		from, t, err := SplitNameText(p.Data)
		return err == nil && bytes.Equal(from, me) && string(t) == text
	}
	p, err := c.request(ctx, AppendPacket(nil, OpBroadcast, []byte(text)), own)
	if err != nil {
		return err
	}
	if p.Op == OpPublic {
		return nil
	}
	return okOrError(p, nil)
}

// Send sends a private message to a user.
func (c *Client) Send(ctx context.Context, to, text string) error {
	return okOrError(c.request(ctx, AppendNameText(nil, OpPrivate, []byte(to), []byte(text)), nil))
}

// SendRaw sends a datagram as it is, for tests of bad input.
func (c *Client) SendRaw(b []byte) error {
	_, err := c.conn.Write(b)
	return err
}
