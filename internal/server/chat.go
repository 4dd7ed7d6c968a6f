package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"switchboard/internal/accounts"
	"switchboard/internal/chat"
	"switchboard/internal/cpt"
	"switchboard/internal/numbering"
	"switchboard/internal/pms"
	"switchboard/internal/udpchat"
)

// accountDirectory adapts the account table to what the chat service
// asks. The server swaps it on reload. An account's number counts only
// while it is a locally owned number: numbers are managed apart from
// accounts, and a number given up must not stay usable as a sender.
type accountDirectory struct {
	t   *accounts.Table
	num *numbering.Table
}

func (d accountDirectory) Registered(name string) bool {
	_, ok := d.t.Lookup(name)
	return ok
}

func (d accountDirectory) NumberOf(name string) string {
	a, ok := d.t.Lookup(name)
	if !ok || a.Number == "" {
		return ""
	}
	if _, ok := d.num.LookupLocal(a.Number); !ok {
		return ""
	}
	return a.Number
}

func (d accountDirectory) OwnerOf(e164 string) (string, bool) { return d.t.ByNumber(e164) }

// chatService is the chat world and its front-ends as the server runs
// them.
type chatService struct {
	svc   *chat.Service
	cpt   *cpt.Server
	addrs []net.Addr
	// udp is the CHAT UDP server, nil when udpchat.listen is empty.
	udp     *udpchat.Server
	udpAddr net.Addr
	// udpFailed is why the CHAT UDP server's Serve ended on its own.
	udpFailed atomic.Pointer[error]
	wg        sync.WaitGroup
}

// newChat creates the chat service over the core.
func (s *Server) newChat(dir accountDirectory) *chat.Service {
	return chat.New(chat.Config{
		DedupWindow:  s.cfg.Chat.DedupWindow.Duration,
		SMSParts:     s.cfg.Chat.SMSMaxParts,
		Groups:       []string{s.cfg.UDPChat.Lobby},
		HistoryCache: historyCache(s.cfg.Chat.HistoryCache),
		MaxGroups:    s.cfg.Chat.MaxGroups,
		Logger:       s.log.With("service", "chat"),
		Metrics:      chat.NewMetrics(s.reg),
	}, s.core, dir)
}

// historyCache maps the config's 0 ("off") to the service's negative.
func historyCache(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// rebuildChat indexes the store's chat history before anything new can
// be stored.
func (s *Server) rebuildChat(svc *chat.Service) error {
	r, err := pms.OpenReader(s.store.Path())
	if err != nil {
		return fmt.Errorf("chat history: %w", err)
	}
	defer r.Close()
	return svc.Rebuild(r)
}

// startCPT opens the CPT listeners. An occupied port is an error naming
// the address.
func (s *Server) startCPT(svc *chat.Service, table *atomic.Pointer[accounts.Table]) (*chatService, error) {
	c := &s.cfg.CPT
	cs := &chatService{svc: svc}
	cs.cpt = cpt.NewServer(cpt.ServerConfig{
		MaxLine:           c.MaxLine,
		SendQueue:         c.SendQueue,
		Pipeline:          c.Pipeline,
		Rate:              c.Rate,
		Burst:             c.Burst,
		ConnectTimeout:    c.ConnectTimeout.Duration,
		WriteTimeout:      c.WriteTimeout.Duration,
		MaxConns:          c.MaxConnections,
		AllowUnregistered: s.cfg.Chat.AllowUnregistered,
		Auth: func(name string, secret []byte, ip netip.Addr) (string, bool) {
			_, registered, err := table.Load().Authenticate(name, secret, ip)
			switch {
			case err == nil:
				return "", registered
			case errors.Is(err, accounts.ErrLocked):
				return cpt.ReasonAccountLocked, registered
			case errors.Is(err, accounts.ErrIPNotAllowed):
				return cpt.ReasonIPInvalid, registered
			default:
				return cpt.ReasonBadCredentials, registered
			}
		},
		Logger:  s.log.With("service", "cpt"),
		Metrics: cpt.NewMetrics(s.reg),
	}, svc)
	lns, err := openListeners("cpt", c.Listen, c.TLSListen, c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, err
	}
	if err := s.startUDPChat(cs); err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	for _, ln := range lns {
		cs.addrs = append(cs.addrs, ln.Addr())
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			_ = cs.cpt.Serve(ln)
		}()
	}
	return cs, nil
}

// stop closes the front-ends, then the chat service.
func (cs *chatService) stop(ctx context.Context) {
	if cs.udp != nil {
		cs.udp.Shutdown(ctx)
	}
	cs.cpt.Shutdown(ctx)
	cs.wg.Wait()
	cs.svc.Close()
}
