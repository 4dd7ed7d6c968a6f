package cpt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"switchboard/internal/acceptloop"
	"switchboard/internal/chat"
)

// ServerConfig configures the CPT server. Every limit has a safe default.
type ServerConfig struct {
	// MaxLine bounds one line, terminator included (default 4096). Longer
	// lines are skipped and declined with line_too_long.
	MaxLine int
	// SendQueue bounds the bytes queued for one client (default 1 MiB). A
	// client that falls further behind is disconnected: a slow reader must
	// not hold up a group's other members or grow our memory; what it
	// missed is stored and SYNC finds it.
	SendQueue int
	// Pipeline bounds the SENDs of one connection waiting to be stored
	// (default 1000). Reading from a client that has more outstanding
	// pauses until some are answered.
	Pipeline int
	// Rate and Burst are the per-connection command budget: Rate commands
	// a second on average, Burst at once (defaults 1000 and 2000). A
	// command beyond it is declined with rate_limited; a client that keeps
	// flooding (FloodLimit refusals in a row, default 100) is disconnected.
	Rate       float64
	Burst      int
	FloodLimit int
	// ConnectTimeout closes a connection that has not logged in by then
	// (default 30s), so idle sockets cannot pile up unauthenticated.
	ConnectTimeout time.Duration
	// WriteTimeout disconnects, as a slow consumer, a client that takes
	// none of what we write to it for this long (default 30s). The send
	// queue's bound alone catches only a client that more is queued for:
	// one that asks for a long SYNC and then stops reading would hold its
	// connection, session and reply forever.
	WriteTimeout time.Duration
	// MaxConnectTries closes a connection after this many refused
	// CONNECTs (default 5).
	MaxConnectTries int
	// MaxConns bounds the connections open at once (default 20000).
	MaxConns int
	// AllowUnregistered lets names without an account log in (the spec's
	// open model). With it off, CONNECT needs an account.
	AllowUnregistered bool
	// Auth checks a CONNECT's credentials; nil accepts everyone. It
	// returns "" to accept, else the DECLINE reason, and whether the name
	// has an account.
	Auth func(name string, secret []byte, ip netip.Addr) (reason string, registered bool)
	// Logger and Metrics; defaults discard.
	Logger  *slog.Logger
	Metrics *Metrics
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.MaxLine <= 0 {
		c.MaxLine = 4096
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1 << 20
	}
	if c.Pipeline <= 0 {
		c.Pipeline = 1000
	}
	if c.Rate <= 0 {
		c.Rate = 1000
	}
	if c.Burst <= 0 {
		c.Burst = 2000
	}
	if c.FloodLimit <= 0 {
		c.FloodLimit = 100
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.MaxConnectTries <= 0 {
		c.MaxConnectTries = 5
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 20000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("cpt: server closed")

// Server serves CPT clients over the chat service.
type Server struct {
	cfg  ServerConfig
	chat *chat.Service
	log  *slog.Logger
	m    *Metrics
	quit chan struct{}
	wg   sync.WaitGroup
	// authSem bounds the credential checks running at once.
	authSem chan struct{}
	// park holds idle connections without their goroutines (nil where
	// that is not supported).
	park *parker

	mu      sync.Mutex
	closing bool
	lns     map[net.Listener]struct{}
	conns   map[*conn]struct{}
}

// NewServer creates a server; Serve runs it on listeners.
func NewServer(cfg ServerConfig, svc *chat.Service) *Server {
	cfg = cfg.withDefaults()
	park, err := newParker(cfg.Metrics.parked)
	if err != nil {
		cfg.Logger.Warn("cpt: idle connections keep their goroutines", "error", err)
	}
	return &Server{
		park:    park,
		cfg:     cfg,
		chat:    svc,
		log:     cfg.Logger,
		m:       cfg.Metrics,
		quit:    make(chan struct{}),
		authSem: make(chan struct{}, 2),
		lns:     map[net.Listener]struct{}{},
		conns:   map[*conn]struct{}{},
	}
}

// Serve accepts connections on ln until Shutdown. A failing accept (no
// file descriptors left during a connection flood) is retried with
// backoff rather than ending the listener.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	err := acceptloop.Run(ln, s.quit, s.start, func(err error, retryIn time.Duration) {
		s.m.refused("accept_error")
		s.log.Warn("cpt accept failed; retrying", "listen", ln.Addr().String(), "error", err, "retry_in", retryIn)
	})
	if errors.Is(err, acceptloop.ErrStopped) {
		return ErrServerClosed
	}
	return fmt.Errorf("cpt accept: %w", err)
}

func (s *Server) start(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closing || len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.m.refused("too_many_connections")
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.m.conns.Inc()
	go c.run()
}

// ended is called once per connection, when it has closed.
func (s *Server) ended(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.m.conns.Dec()
	s.wg.Done()
}

// Shutdown stops accepting and reading, lets every connection's owed
// answers (ACKs for messages being stored) go out, closes the
// connections and waits for them, at most until ctx ends; then it closes
// what is left.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	if !s.closing {
		close(s.quit)
	}
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.park.close()
		return
	case <-ctx.Done():
	}
	// Kill rather than only close, so that goroutines waiting on the
	// connection (a SYNC for queue space, a SEND for its window) wake.
	for _, c := range conns {
		c.mu.Lock()
		c.killLocked()
		c.mu.Unlock()
	}
	<-done
	s.park.close()
}
