package pager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ClientConfig configures a pager client: the CLI, a host station, tests.
type ClientConfig struct {
	// Server is the pager server's host:port.
	Server string
	Secret []byte
	// ID is the station's client id; 0 is the host tool, which the server
	// answers but never pushes to.
	ID uint32
	// Retransmit is the first wait for an answer; it doubles up to 2 s.
	Retransmit time.Duration
	// OnPush, if set, gets every waitlist update the server pushes (each
	// once, already acknowledged). It runs on the reader goroutine.
	OnPush func(Packet)
	// ReplayWindow must match the server's (default 30 s).
	ReplayWindow time.Duration
}

// NackError is a request the server refused, with its reason.
type NackError struct {
	Status Status
	Reason string
}

func (e *NackError) Error() string {
	return fmt.Sprintf("pager: refused (%s): %s", statusName(e.Status), e.Reason)
}

// Client is one pager client socket. Safe for concurrent use.
type Client struct {
	cfg  ClientConfig
	keys *Keys
	conn *net.UDPConn
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	seq     uint16
	waiters map[uint16]chan Packet
}

// Dial opens a client socket towards cfg.Server.
func Dial(cfg ClientConfig) (*Client, error) {
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = 200 * time.Millisecond
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = 30 * time.Second
	}
	keys, err := NewKeys(cfg.Secret)
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("pager server %s: %w", cfg.Server, err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("pager server %s: %w", cfg.Server, err)
	}
	n := NewNonce()
	c := &Client{cfg: cfg, keys: keys, conn: conn, done: make(chan struct{}),
		seq: uint16(n[0])<<8 | uint16(n[1]), waiters: map[uint16]chan Packet{}}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.read()
	}()
	return c, nil
}

// Close closes the socket and waits for the reader.
func (c *Client) Close() error {
	close(c.done)
	err := c.conn.Close()
	c.wg.Wait()
	return err
}

// LocalAddr is the client's own address.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

func (c *Client) read() {
	replay := newReplayWindow(c.cfg.ReplayWindow, 1<<16)
	seen := map[uint16]time.Time{}
	buf := make([]byte, MaxDatagram+1)
	plain := make([]byte, MaxDatagram)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable while the server is down: keep on.
			continue
		}
		h, ts, pt, err := c.keys.Open(plain, buf[:n], MagicToStation)
		if err != nil || h.ClientID != c.cfg.ID {
			continue
		}
		now := time.Now()
		if replay.check(&h.Nonce, ts, now) != nil {
			continue
		}
		p, err := Parse(pt)
		if err != nil {
			continue
		}
		if p.Options&OptAck != 0 {
			c.mu.Lock()
			w := c.waiters[p.Seq]
			c.mu.Unlock()
			if w != nil {
				select {
				case w <- p:
				default:
				}
			}
			continue
		}
		// A push: acknowledge every copy (the last ack may have been
		// lost), apply the first.
		a := p
		a.Options |= OptAck
		a.Options &^= OptExt
		if b, err := a.Marshal(nil); err == nil {
			c.sendRaw(b)
		}
		for s, at := range seen {
			if now.Sub(at) > 2*c.cfg.ReplayWindow {
				delete(seen, s)
			}
		}
		if _, dup := seen[p.Seq]; dup {
			continue
		}
		seen[p.Seq] = now
		if c.cfg.OnPush != nil {
			c.cfg.OnPush(p)
		}
	}
}

func (c *Client) sendRaw(pkt []byte) error {
	h := Header{Magic: MagicToServer, ClientID: c.cfg.ID, Nonce: NewNonce()}
	b, err := c.keys.Seal(nil, &h, time.Now(), pkt)
	if err != nil {
		return err
	}
	_, err = c.conn.Write(b)
	return err
}

// Do sends p with the next sequence number and retransmits it, sealed
// afresh, until the answer comes or ctx ends. A NACK is returned as the
// answer and a *NackError.
func (c *Client) Do(ctx context.Context, p *Packet) (*Packet, error) {
	ch := make(chan Packet, 1)
	c.mu.Lock()
	c.seq++
	for c.waiters[c.seq] != nil {
		c.seq++
	}
	q := *p
	q.Seq = c.seq
	c.waiters[q.Seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, q.Seq)
		c.mu.Unlock()
	}()
	wait := c.cfg.Retransmit
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pager: no answer: %w", ctx.Err())
		case <-c.done:
			return nil, fmt.Errorf("pager: %w", net.ErrClosed)
		case a := <-ch:
			if a.HasStatus && a.Status != StatusOK {
				return &a, &NackError{Status: a.Status, Reason: a.Reason}
			}
			return &a, nil
		case <-t.C:
			if err := c.sendOnce(&q); err != nil {
				return nil, err
			}
			t.Reset(wait)
			wait = min(2*wait, 2*time.Second)
		}
	}
}

// sendOnce seals one copy of q; a client packet's proof is made for the
// nonce of this copy.
func (c *Client) sendOnce(q *Packet) error {
	h := Header{Magic: MagicToServer, ClientID: c.cfg.ID, Nonce: NewNonce()}
	if q.Kind() == KindClient {
		q.Proof = c.keys.Proof(q.ClientID, q.Options, h.Nonce[:])
	}
	pkt, err := q.Marshal(nil)
	if err != nil {
		return err
	}
	b, err := c.keys.Seal(nil, &h, time.Now(), pkt)
	if err != nil {
		return err
	}
	if _, err := c.conn.Write(b); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return err
		}
		// ECONNREFUSED from an earlier ICMP: retransmission decides.
	}
	return nil
}

// Add puts a number on the waitlist.
func (c *Client) Add(ctx context.Context, number uint64) error {
	_, err := c.Do(ctx, &Packet{Options: OptAdd, Number: number})
	return err
}

// Remove takes a number off the waitlist.
func (c *Client) Remove(ctx context.Context, number uint64) error {
	_, err := c.Do(ctx, &Packet{Options: OptRemove, Number: number})
	return err
}

// Notify sends the "table ready" SMS.
func (c *Client) Notify(ctx context.Context, number uint64, party uint16, greeting string) error {
	_, err := c.Do(ctx, &Packet{Options: OptSMS, Number: number, Party: party, Greeting: []byte(greeting)})
	return err
}

// Call places the "table ready" phone call.
func (c *Client) Call(ctx context.Context, number uint64) error {
	_, err := c.Do(ctx, &Packet{Options: OptCall, Number: number})
	return err
}

// Hello tells the server where this station is (it answers with an ACK).
func (c *Client) Hello(ctx context.Context) error {
	_, err := c.Do(ctx, &Packet{})
	return err
}

// AddClient registers station id with the shared secret.
func (c *Client) AddClient(ctx context.Context, id uint32) error {
	_, err := c.Do(ctx, &Packet{Options: OptAddClient, ClientID: id})
	return err
}

// RemoveClient unregisters station id.
func (c *Client) RemoveClient(ctx context.Context, id uint32) error {
	_, err := c.Do(ctx, &Packet{Options: OptRemoveClient, ClientID: id})
	return err
}

// List returns the whole waitlist, oldest first, page by page.
func (c *Client) List(ctx context.Context) ([]uint64, error) {
	var out []uint64
	for {
		a, err := c.Do(ctx, &Packet{HasList: true, ListFrom: uint16(len(out))})
		if err != nil {
			return nil, err
		}
		out = append(out, a.List...)
		if len(a.List) == 0 || len(out) >= int(a.ListTotal) {
			return out, nil
		}
	}
}
