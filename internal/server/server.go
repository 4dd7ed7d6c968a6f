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
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"switchboard/internal/accounts"
	"switchboard/internal/chat"
	"switchboard/internal/config"
	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/datadir"
	"switchboard/internal/numbering"
	"switchboard/internal/pms"
	"switchboard/internal/runtimecfg"
	"switchboard/internal/smpp"
	"switchboard/internal/web"
)

// Server is one running switchboard.
type Server struct {
	cfg *config.Config
	log *slog.Logger
	reg *prometheus.Registry

	store    *pms.Store
	core     *core.Core
	sock     *coresock.Server
	smpp     *smppService
	chat     *chatService
	voice    *voiceService
	pager    *pagerService
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
	// Before the store's recovery, whose active SMs are the heap's first
	// growth.
	runtimecfg.Apply(s.cfg.Runtime, s.log)

	numPath := filepath.Join(dir, numbering.FileName)
	table, err := numbering.LoadTable(numPath)
	if err != nil {
		return err
	}
	acctPath := accounts.Path(dir)
	acctTable, err := accounts.Load(acctPath)
	if err != nil {
		return err
	}
	coreCfg, err := coreConfig(&s.cfg.Core)
	if err != nil {
		return err
	}
	// The chat service is made after the core, which hands it the SMS
	// stored for local numbers; none can be stored before it exists,
	// since nothing is served yet.
	var chatSvc *chat.Service
	onStored := func(rec *pms.Record) {
		if chatSvc != nil {
			chatSvc.SMSStored(rec)
		}
	}
	c, err := core.New(coreCfg, core.TableDirectory(table), core.Options{Logger: s.log, Metrics: core.NewMetrics(s.reg), OnStored: onStored})
	if err != nil {
		return fmt.Errorf("core: %w", err)
	}
	s.core = c

	t0 := time.Now()
	c.Reserve(pms.ActiveEstimate(dir))
	store, err := pms.Open(pms.Options{
		Dir:      dir,
		Logger:   s.log,
		Metrics:  pms.NewMetrics(s.reg),
		MaxBatch: s.cfg.Store.MaxBatch,
		// 0 in the config turns the zero tail off; 0 in Options means the
		// default.
		Preallocate: preallocateBytes(s.cfg.Store.PreallocateMB),
	}, c.Restore)
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
	s.log.Info("message store open", "file", store.Path(), "records", st.Next-st.Base,
		"active", st.Active, "historical_mb", st.HistoricalMB, "took", time.Since(t0).Round(time.Microsecond))
	chatSvc = s.newChat(accountDirectory{acctTable, table})
	if err := s.rebuildChat(chatSvc); err != nil {
		return err
	}
	c.Start(store)
	defer c.Close()
	chatSvc.Start()
	defer chatSvc.Close()
	var acctCurrent atomic.Pointer[accounts.Table]
	acctCurrent.Store(acctTable)

	mode, _ := strconv.ParseUint(s.cfg.Core.SocketMode, 8, 32)
	sockPath := filepath.Join(dir, datadir.CoreSocket)
	sockLn, err := coresock.Listen(sockPath, os.FileMode(mode))
	if err != nil {
		return fmt.Errorf("core socket %s: %w", sockPath, err)
	}
	s.sock = &coresock.Server{Config: coresock.Config{Metrics: coresock.NewMetrics(s.reg)}}
	var current atomic.Pointer[numbering.Table]
	current.Store(table)
	reload := func() error {
		t, err := numbering.LoadTable(numPath)
		if err != nil {
			return err
		}
		a, err := accounts.Load(acctPath)
		if err != nil {
			return err
		}
		current.Store(t)
		c.SetDirectory(core.TableDirectory(t))
		acctCurrent.Store(a)
		chatSvc.SetDirectory(accountDirectory{a, t})
		s.log.Info("numbering and accounts reloaded")
		return nil
	}
	sockDone := make(chan struct{})
	go func() {
		defer close(sockDone)
		s.sock.Serve(context.Background(), sockLn, c.SocketHandler(reload))
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.DrainTimeout.Duration)
		defer cancel()
		s.sock.Shutdown(sctx)
		<-sockDone
		os.Remove(sockPath)
	}()

	// SMPP stops before the core socket and the core: its sessions are
	// unbound while the core can still take their last submits.
	svc, err := s.startSMPP(&current)
	if err != nil {
		return err
	}
	s.smpp = svc
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.DrainTimeout.Duration)
		defer cancel()
		svc.stop(sctx)
	}()

	// Chat stops before SMPP and the core, like SMPP: its clients get the
	// answers owed to them while the core can still store.
	chatFront, err := s.startCPT(chatSvc, &acctCurrent)
	if err != nil {
		chatSvc.Close()
		return err
	}
	s.chat = chatFront
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.DrainTimeout.Duration)
		defer cancel()
		chatFront.stop(sctx)
	}()

	voiceSvc, err := s.startVoice()
	if err != nil {
		return err
	}
	s.voice = voiceSvc
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Shutdown.DrainTimeout.Duration)
		defer cancel()
		voiceSvc.stop(sctx)
	}()
	pg, err := s.startPager()
	if err != nil {
		return err
	}
	s.pager = pg
	defer pg.stop()

	ln, err := net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen %s: %w", s.cfg.Admin.Listen, err)
	}
	s.admin = web.Start(web.Config{
		Listener: ln,
		Gatherer: s.reg,
		Health:   s.health,
		PProf:    s.cfg.Admin.PProf,
		Hosts:    s.cfg.Admin.Hosts,
		Logger:   s.log,
		Handlers: mergeHandlers(voiceSvc.handlers(), s.pagerHandlers()),
	})
	s.up.Store(true)
	smppAddrs := make([]string, len(svc.addrs))
	for i, a := range svc.addrs {
		smppAddrs[i] = a.String()
	}
	cptAddrs := make([]string, len(chatFront.addrs))
	for i, a := range chatFront.addrs {
		cptAddrs[i] = a.String()
	}
	s.log.Info("switchboard serving", "admin", ln.Addr().String(), "smpp", strings.Join(smppAddrs, ","),
		"cpt", strings.Join(cptAddrs, ","), "udpchat", addrString(chatFront.udpAddr), "pager", addrString(s.PagerAddr()), "data", dir, "pid", os.Getpid())
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

// mergeHandlers joins the admin endpoints of several services.
func mergeHandlers(maps ...map[string]http.Handler) map[string]http.Handler {
	out := map[string]http.Handler{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
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
	if s.pager != nil {
		if p := s.pager.failed.Load(); p != nil {
			return fmt.Errorf("pager: %w", *p)
		}
	}
	if p := s.chat.udpFailed.Load(); p != nil {
		return fmt.Errorf("udpchat: %w", *p)
	}
	return nil
}

// AdminAddr is the bound admin address (valid once Run called ready).
func (s *Server) AdminAddr() net.Addr { return s.admin.Addr() }

// SMPPAddrs are the bound SMPP listener addresses, plain first (valid once
// Run called ready).
func (s *Server) SMPPAddrs() []net.Addr { return s.smpp.addrs }

// Uplink is the SMPP uplink, nil when none is configured.
func (s *Server) Uplink() *smpp.Uplink { return s.smpp.uplink }

// Core is the running SMSC core (valid once Run called ready).
func (s *Server) Core() *core.Core { return s.core }

// Store is the open message store (valid once Run called ready).
func (s *Server) Store() *pms.Store { return s.store }

// coreConfig translates the [core] section.
func coreConfig(c *config.Core) (core.Config, error) {
	pid, err := config.OctetSet(c.PIDAllowed)
	if err != nil {
		return core.Config{}, fmt.Errorf("core.pid_allowed: %w", err)
	}
	dcs, err := config.OctetSet(c.DCSAllowed)
	if err != nil {
		return core.Config{}, fmt.Errorf("core.dcs_allowed: %w", err)
	}
	classes := []pms.Class{}
	for _, name := range c.FilterClasses {
		cl, err := pms.ParseClass(name)
		if err != nil {
			return core.Config{}, fmt.Errorf("core.filter_classes: %w", err)
		}
		classes = append(classes, cl)
	}
	return core.Config{
		DefaultVP:      c.DefaultValidity.Duration,
		MaxVP:          c.MaxValidity.Duration,
		PIDAllowed:     pid,
		DCSAllowed:     dcs,
		FilterClasses:  classes,
		PeerWindow:     c.PeerWindow,
		TransferWindow: c.TransferWindow,
		IMSICacheTTL:   c.IMSICacheTTL.Duration,
		RetryMin:       c.RetryMin.Duration,
		RetryMax:       c.RetryMax.Duration,
		CallTimeout:    c.CallTimeout.Duration,
		DedupWindow:    c.DedupWindow.Duration,
	}, nil
}

// CPTAddrs are the CPT listeners' addresses.
func (s *Server) CPTAddrs() []net.Addr { return s.chat.addrs }

// UDPChatAddr is the CHAT UDP socket's address, nil when it is off.
func (s *Server) UDPChatAddr() net.Addr { return s.chat.udpAddr }

// Chat is the chat service.
func (s *Server) Chat() *chat.Service { return s.chat.svc }

// preallocateBytes turns store.preallocate_mb into pms.Options.Preallocate,
// where 0 asks for the default and a negative value for no zero tail.
func preallocateBytes(mb int) int64 {
	if mb == 0 {
		return -1
	}
	return int64(mb) << 20
}
