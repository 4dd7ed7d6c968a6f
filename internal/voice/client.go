package voice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// RequestError is a failed request: the server's error report.
type RequestError struct {
	Cmd  Command
	Code ErrorCode
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("voice %s: refused: %s (%d)", e.Cmd, e.Code, uint32(e.Code))
}

// ErrRefused matches every *RequestError with errors.Is.
var ErrRefused = errors.New("voice: request refused")

// Is makes errors.Is(err, ErrRefused) true for a RequestError.
func (e *RequestError) Is(target error) bool { return target == ErrRefused }

// Client is a control connection that sends requests one after another
// (the multi-request extension). For the spec's one-shot use, Do dials,
// sends one request and closes.
type Client struct {
	conn    net.Conn
	br      *bufio.Reader
	timeout time.Duration
}

// Dial connects to a control server.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("voice control %s: %w", addr, err)
	}
	return &Client{conn: nc, br: bufio.NewReader(nc), timeout: 10 * time.Second}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Do sends r as one full frame and reads its reply. A refusal is a
// *RequestError.
func (c *Client) Do(ctx context.Context, r Request) (Reply, error) {
	frame, err := AppendRequest(nil, r)
	if err != nil {
		return Reply{}, err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	if _, err := c.conn.Write(frame); err != nil {
		return Reply{}, fmt.Errorf("voice %s: %w", r.Cmd, err)
	}
	var buf []byte
	for {
		rep, _, err := DecodeReply(r.Cmd, buf)
		if err == nil {
			if r.Cmd != CmdGetChannels && rep.Result == 0 {
				return rep, &RequestError{Cmd: r.Cmd, Code: rep.Code}
			}
			return rep, nil
		}
		if !errors.Is(err, ErrShort) {
			return Reply{}, err
		}
		b, err := c.br.ReadByte()
		if err != nil {
			return Reply{}, fmt.Errorf("voice %s: reading reply: %w", r.Cmd, err)
		}
		buf = append(buf, b)
	}
}

// Do is one request on its own connection, as the reference client works.
func Do(ctx context.Context, addr string, r Request) (Reply, error) {
	c, err := Dial(ctx, addr)
	if err != nil {
		return Reply{}, err
	}
	defer c.Close()
	return c.Do(ctx, r)
}
