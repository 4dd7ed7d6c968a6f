package coresock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("coresock: server closed")

// Server accepts connections and runs a Peer for each. Its zero value is
// ready to use.
type Server struct {
	// Config applies to every accepted peer. Its Handler is not used (each
	// peer gets its own from newHandler); its OnClose is called for every
	// peer after the handler's PeerClosed.
	Config Config

	mu      sync.Mutex
	closed  bool
	lns     map[*Listener]struct{}
	peers   map[*Peer]struct{}
	serving sync.WaitGroup
}

// Serve accepts connections on ln until Shutdown is called or ctx ends, and
// gives each accepted connection a Peer whose Handler is newHandler(p); the
// handler is made before the peer reads anything, so it can hold the
// per-connection state (such as the roles a client registered). When ctx
// ends, Serve shuts the whole server down and returns ctx's error; after
// Shutdown it returns ErrServerClosed. Serve closes ln when it returns.
func (s *Server) Serve(ctx context.Context, ln *Listener, newHandler func(p *Peer) Handler) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.lns == nil {
		s.lns = make(map[*Listener]struct{})
		s.peers = make(map[*Peer]struct{})
	}
	s.lns[ln] = struct{}{}
	s.serving.Add(1)
	s.mu.Unlock()

	err := s.accept(ctx, ln, newHandler)

	s.mu.Lock()
	delete(s.lns, ln)
	s.mu.Unlock()
	ln.Close()
	// Done comes before the Shutdown below, which waits for every Serve
	// loop, this one included.
	s.serving.Done()
	if ctx.Err() != nil {
		_ = s.Shutdown(context.WithoutCancel(ctx))
		return ctx.Err()
	}
	return err
}

func (s *Server) accept(ctx context.Context, ln *Listener, newHandler func(p *Peer) Handler) error {
	// Accept does not take a context, so a watcher closes the listener
	// when ctx ends; stop makes it exit when the loop ends first.
	stop := make(chan struct{})
	watchDone := make(chan struct{})
	defer func() { close(stop); <-watchDone }()
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			ln.Close()
		case <-stop:
		}
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case s.isClosed():
				return ErrServerClosed
			case errors.Is(err, net.ErrClosed):
				return fmt.Errorf("coresock: accept: %w", err)
			}
			// Anything else, such as running out of file descriptors,
			// is taken as temporary: wait and retry rather than give
			// up the socket (as net/http does).
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		backoff = 0
		s.startPeer(conn, newHandler)
	}
}

func (s *Server) startPeer(conn *Conn, newHandler func(p *Peer) Handler) {
	cfg := s.Config
	userClose := cfg.OnClose
	cfg.OnClose = func(p *Peer, err error) {
		if userClose != nil {
			userClose(p, err)
		}
		s.mu.Lock()
		delete(s.peers, p)
		s.mu.Unlock()
	}
	p := newPeer(conn, &cfg)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.peers[p] = struct{}{}
	s.mu.Unlock()
	p.start(newHandler(p))
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Peers returns the connected peers.
func (s *Server) Peers() []*Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Peer, 0, len(s.peers))
	for p := range s.peers {
		out = append(out, p)
	}
	return out
}

// Shutdown stops accepting, closes every peer after it has sent what was
// already queued to it (their outstanding calls fail with ErrClosed), and
// waits until all peer goroutines and Serve loops have exited and every
// close callback has returned. If ctx ends first, the remaining peers are
// cut without flushing and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	lns := make([]*Listener, 0, len(s.lns))
	for ln := range s.lns {
		lns = append(lns, ln)
	}
	peers := make([]*Peer, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, p := range peers {
		p.shutdown(ErrLocalClose, true)
	}
	for _, p := range peers {
		select {
		case <-p.Done():
		case <-ctx.Done():
			for _, q := range peers {
				q.Disconnect(ErrLocalClose)
			}
			return ctx.Err()
		}
	}
	s.serving.Wait()
	return nil
}

// Dial connects to the core socket at path and starts a Peer on it. cfg may
// be nil; a role handler sets cfg.Handler to receive the core's requests.
func Dial(ctx context.Context, path string, cfg *Config) (*Peer, error) {
	var max int
	if cfg != nil {
		max = cfg.MaxMessage
	}
	conn, err := DialConn(ctx, path, max)
	if err != nil {
		return nil, err
	}
	return NewPeer(conn, cfg), nil
}
