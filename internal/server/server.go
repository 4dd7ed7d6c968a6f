// Package server runs switchboard: it takes the data-directory lock, opens
// the message store, starts the listeners, and on cancellation stops them in
// reverse order within the drain deadline.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"switchboard/internal/config"
	"switchboard/internal/datadir"
	"switchboard/internal/pms"
	"switchboard/internal/web"
)

// Server is one running switchboard.
type Server struct {
	cfg *config.Config
	log *slog.Logger
	reg *prometheus.Registry

	store    *pms.Store
	admin    *web.Admin
	up       atomic.Bool
	stopping atomic.Bool
}

// New prepares a server; nothing is opened until Run.
func New(cfg *config.Config, log *slog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{cfg: cfg, log: log, reg: reg}
}

// Ready is called by Run once every listener is up; tests and the serve
// command use it to learn the bound addresses.
type Ready func(s *Server)

// Run starts everything, blocks until ctx is cancelled, then shuts down. A
// startup failure is returned with the file, key or address that caused it.
func (s *Server) Run(ctx context.Context, ready Ready) (err error) {
	dir := s.cfg.DataDir
	if err := datadir.Ensure(dir); err != nil {
		return err
	}
	lock, err := datadir.Acquire(dir)
	if err != nil {
		return err
	}
	defer lock.Release()

	t0 := time.Now()
	active := 0
	store, err := pms.Open(pms.Options{
		Dir:      dir,
		Logger:   s.log,
		Metrics:  pms.NewMetrics(s.reg),
		MaxBatch: s.cfg.Store.MaxBatch,
	}, func(*pms.Record) error { active++; return nil })
	if err != nil {
		return err
	}
	s.store = store
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	st := store.Stats()
	s.log.Info("message store open", "file", store.Path(), "records", st.Next-st.Base, "active", active,
		"historical_mb", st.HistoricalMB, "took", time.Since(t0).Round(time.Microsecond))

	ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen %s: %w", s.cfg.Admin.Listen, err)
	}
	s.admin = web.Start(web.Config{
		Listener: ln,
		Gatherer: s.reg,
		Health:   s.health,
		PProf:    s.cfg.Admin.PProf,
		Logger:   s.log,
	})
	s.up.Store(true)
	s.log.Info("switchboard serving", "admin", ln.Addr().String(), "data", dir, "pid", os.Getpid())
	if ready != nil {
		ready(s)
	}

	<-ctx.Done()
	s.stopping.Store(true)
	s.log.Info("shutting down", "drain_timeout", s.cfg.Shutdown.DrainTimeout.Duration)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.DrainTimeout.Duration)
	defer cancel()
	if aerr := s.admin.Shutdown(sctx); aerr != nil && !errors.Is(aerr, context.DeadlineExceeded) {
		s.log.Warn("admin server shutdown", "error", aerr)
	}
	s.log.Info("stopped")
	return nil
}

// health is the /healthz verdict: the store must accept writes and every
// service must be up.
func (s *Server) health() error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	if !s.up.Load() {
		return errors.New("starting")
	}
	if err := s.store.Healthy(); err != nil {
		return fmt.Errorf("message store: %w", err)
	}
	return nil
}

// AdminAddr is the bound admin address (valid once Run called ready).
func (s *Server) AdminAddr() net.Addr { return s.admin.Addr() }

// Store is the open message store (valid once Run called ready).
func (s *Server) Store() *pms.Store { return s.store }
