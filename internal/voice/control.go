package voice

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"switchboard/internal/acceptloop"
)

// ControlConfig configures the control server.
type ControlConfig struct {
	// IdleTimeout bounds the wait for each request (and for the rest of
	// its frame): a client that connects and sends nothing is closed.
	IdleTimeout time.Duration
	// WriteTimeout bounds a reply's write, so that a client that does not
	// read cannot hold its goroutine.
	WriteTimeout time.Duration
	// MaxConns bounds concurrent connections; more are closed at once.
	// MaxConnsPerIP bounds those of one client address (default 64), so
	// that one host holding idle connections cannot lock everyone out.
	MaxConns      int
	MaxConnsPerIP int
	// FailBurst and FailRate limit refused requests (CodeAccess: an
	// unknown uid or a missing permission) per client address, a token
	// bucket: FailBurst refusals at once, then FailRate per second. An
	// address over the limit gets CodeAccess for every request that
	// names a uid without it being looked at, which makes guessing uids
	// slow.
	FailBurst int
	FailRate  float64
	// MaxFailAddrs bounds the addresses the refusal budget remembers
	// (default 10000); beyond it the least recently used is forgotten.
	MaxFailAddrs int
	Logger       *slog.Logger
	Metrics      *Metrics
}

// Control is the KV control server (TCP). Each connection carries one
// request, as the spec says, or several one after another (a documented
// extension: each a full FrameSize frame).
type Control struct {
	hub  *Hub
	cfg  ControlConfig
	log  *slog.Logger
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	perIP map[netip.Addr]int
	lns   []net.Listener
	fails *failLimiter
}

// NewControl makes a control server over hub.
func NewControl(cfg ControlConfig, hub *Hub) *Control {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = 64
	}
	if cfg.MaxFailAddrs <= 0 {
		cfg.MaxFailAddrs = defaultMaxFailAddrs
	}
	return &Control{hub: hub, cfg: cfg, log: cfg.Logger, quit: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, perIP: map[netip.Addr]int{},
		fails: newFailLimiter(cfg.FailBurst, cfg.FailRate, cfg.MaxFailAddrs)}
}

// Serve accepts on ln until Shutdown.
func (c *Control) Serve(ln net.Listener) error {
	// Shutdown closes the listeners it knows; one that arrives after
	// Shutdown is closed here, so that Serve never blocks in Accept
	// after Shutdown.
	c.mu.Lock()
	select {
	case <-c.quit:
		c.mu.Unlock()
		ln.Close()
		return nil
	default:
	}
	c.lns = append(c.lns, ln)
	c.mu.Unlock()
	err := acceptloop.Run(ln, c.quit, c.start, func(err error, retry time.Duration) {
		c.log.Warn("voice control accept", "error", err, "retry_in", retry)
	})
	if errors.Is(err, acceptloop.ErrStopped) {
		return nil
	}
	return err
}

// Shutdown closes the listeners and every connection, and waits for their
// goroutines. ctx is not needed for that (closing them ends the handlers),
// and is taken for the shape the server gives every service's Shutdown.
func (c *Control) Shutdown(ctx context.Context) {
	c.once.Do(func() { close(c.quit) })
	c.mu.Lock()
	for _, ln := range c.lns {
		ln.Close()
	}
	for nc := range c.conns {
		nc.Close()
	}
	c.mu.Unlock()
	// Every listener and connection is closed, so the handlers return
	// soon whatever ctx says.
	c.wg.Wait()
}

func (c *Control) start(nc net.Conn) {
	c.mu.Lock()
	select {
	case <-c.quit:
		c.mu.Unlock()
		nc.Close()
		return
	default:
	}
	ip := remoteIP(nc)
	if len(c.conns) >= c.cfg.MaxConns || c.perIP[ip] >= c.cfg.MaxConnsPerIP {
		c.mu.Unlock()
		c.cfg.Metrics.protocolError("too_many_connections")
		nc.Close()
		return
	}
	c.conns[nc] = struct{}{}
	c.perIP[ip]++
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.serveConn(nc)
		c.mu.Lock()
		delete(c.conns, nc)
		if c.perIP[ip]--; c.perIP[ip] <= 0 {
			delete(c.perIP, ip)
		}
		c.mu.Unlock()
		nc.Close()
	}()
}

// remoteIP is a connection's client address (the zero Addr if it has
// none, as for a pipe in tests).
func remoteIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// serveConn answers requests until the client closes, stalls or sends
// something that cannot be a request.
func (c *Control) serveConn(nc net.Conn) {
	ip := remoteIP(nc)
	br := bufio.NewReaderSize(nc, 4096)
	var frame [FrameSize]byte
	reply := make([]byte, 0, 64)
	for {
		_ = nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
		// The command type first: a clean end before it is the normal
		// end of a connection.
		if _, err := io.ReadFull(br, frame[:4]); err != nil {
			if !errors.Is(err, io.EOF) {
				c.readFailed(err)
			}
			return
		}
		req, need, err := DecodeRequest(frame[:4])
		if errors.Is(err, ErrShort) {
			if _, err := io.ReadFull(br, frame[4:need]); err != nil {
				// A request cut short: answer what the spec has for a bad
				// parameter, then close.
				c.readFailed(err)
				c.write(nc, AppendError(reply[:0], CodeParam))
				return
			}
			req, need, err = DecodeRequest(frame[:need])
		}
		var code ErrorCode
		switch {
		case errors.Is(err, ErrUnknownCommand):
			c.cfg.Metrics.protocolError("unknown_command")
			c.cfg.Metrics.request(req.Cmd, CodeNotImplemented)
			reply = AppendError(reply[:0], CodeNotImplemented)
		case err != nil:
			reply = AppendError(reply[:0], CodeServer)
		case c.limited(ip, req.Cmd):
			c.cfg.Metrics.protocolError("rate_limited")
			c.cfg.Metrics.request(req.Cmd, CodeAccess)
			reply = AppendError(reply[:0], CodeAccess)
		default:
			reply, code = c.hub.Handle(reply[:0], req)
			// A refusal costs a token, and so does an anonymous
			// registration (auid 0, which the spec lets anyone make):
			// one address cannot fill max_users faster than the
			// refusal budget allows.
			if code == CodeAccess || (req.Cmd == CmdRegister && req.UID == 0 && code == CodeSuccess) {
				c.failed(ip)
			}
		}
		if !c.write(nc, reply) {
			return
		}
		// Skip the rest of the fixed frame (junk, in the reference
		// client). A one-shot client that sent only the fields and
		// closes ends here.
		if _, err := io.ReadFull(br, frame[need:FrameSize]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				c.readFailed(err)
			}
			return
		}
	}
}

func (c *Control) write(nc net.Conn, b []byte) bool {
	_ = nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	_, err := nc.Write(b)
	return err == nil
}

func (c *Control) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.cfg.Metrics.protocolError("timeout")
	case errors.Is(err, net.ErrClosed):
	default:
		c.cfg.Metrics.protocolError("short")
	}
}

// defaultMaxFailAddrs bounds the refusal limiter's memory by default:
// about 1 MB of buckets.
const defaultMaxFailAddrs = 10000

// limited reports whether ip is over its refusal budget for a command that
// names a uid (GET_PORT and GET_CHANNELS name none and are never limited).
func (c *Control) limited(ip netip.Addr, cmd Command) bool {
	if cmd == CmdGetPort || cmd == CmdGetChannels || c.cfg.FailBurst <= 0 {
		return false
	}
	return c.fails.limited(ip, time.Now())
}

// failed takes a token from ip's bucket.
func (c *Control) failed(ip netip.Addr) {
	if c.cfg.FailBurst > 0 {
		c.fails.fail(ip, time.Now())
	}
}
