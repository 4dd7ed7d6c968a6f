package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"switchboard/internal/config"
	"switchboard/internal/core"
	"switchboard/internal/datadir"
	"switchboard/internal/hoststand"
	"switchboard/internal/numbering"
	"switchboard/internal/pager"
	"switchboard/internal/pms"
	"switchboard/internal/sipcall"
	"switchboard/internal/smstext"
)

// PagerSecretFile is the generated pager secret's name in the data
// directory.
const PagerSecretFile = "pager.secret"

// newSIPDialer makes the pager's phone-call dialer (internal/sipcall)
// from the [pager] section.
func (s *Server) newSIPDialer(pc *config.Pager, log *slog.Logger) (*sipcall.Dialer, error) {
	var wav []byte
	if pc.AnnouncementWAV != "" {
		b, err := os.ReadFile(pc.AnnouncementWAV)
		if err != nil {
			return nil, fmt.Errorf("pager.announcement_wav: %w", err)
		}
		wav = b
	}
	return sipcall.New(sipcall.Config{
		Proxy:        pc.SIPProxy,
		From:         pc.SIPFrom,
		Announcement: wav,
		RingTimeout:  pc.CallTimeout.Duration,
		Registerer:   s.reg,
		Logger:       log.With("part", "sip"),
	})
}

// closeDialer closes a dialer that will not be used.
func closeDialer(d *sipcall.Dialer) {
	if d != nil {
		d.Close()
	}
}

// pagerService is the pager as the server runs it.
type pagerService struct {
	failed atomic.Pointer[error] // why Serve ended on its own
	srv    *pager.Server
	conn   *net.UDPConn
	dialer *sipcall.Dialer // nil when calls are off
	done   chan error
}

// PagerSecret returns the pager secret: the configured one, else the one
// in the data directory, generated there (mode 0600) when absent.
// generated tells whether it was made now.
func PagerSecret(cfg *config.Config) (secret []byte, path string, generated bool, err error) {
	if cfg.Pager.Secret != "" {
		return []byte(cfg.Pager.Secret), "", false, nil
	}
	path = filepath.Join(cfg.DataDir, PagerSecretFile)
	b, err := ReadPagerSecret(path)
	if err == nil {
		return b, path, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, path, false, err
	}
	var raw [32]byte
	rand.Read(raw[:])
	text := hex.EncodeToString(raw[:])
	if err := datadir.WriteFileAtomic(path, []byte(text+"\n"), 0o600); err != nil {
		return nil, path, false, fmt.Errorf("pager secret: %w", err)
	}
	return []byte(text), path, true, nil
}

// ReadPagerSecret reads a secret file: its first line, trimmed.
func ReadPagerSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pager secret: %w", err)
	}
	s := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if len(s) < pager.MinSecret {
		return nil, fmt.Errorf("pager secret %s: shorter than %d bytes", path, pager.MinSecret)
	}
	return []byte(s), nil
}

// startPager opens the pager's UDP socket (nil service when it is off).
func (s *Server) startPager() (*pagerService, error) {
	pc := &s.cfg.Pager
	if pc.Listen == "" {
		return nil, nil
	}
	secret, path, generated, err := PagerSecret(s.cfg)
	if err != nil {
		return nil, err
	}
	log := s.log.With("service", "pager")
	switch {
	case generated:
		log.Info("pager secret generated", "file", path)
	case path != "":
		log.Info("pager secret", "file", path)
	}
	var caller pager.Caller
	var dialer *sipcall.Dialer
	if pc.CallsEnabled() {
		// call_timeout is the dialer's ring timeout; the pager's own
		// backstop follows from the dialer's CallLimit (pager.New).
		if dialer, err = s.newSIPDialer(pc, log); err != nil {
			return nil, fmt.Errorf("pager.sip_proxy: %w", err)
		}
		caller = dialer
	}
	var notifier pager.Notifier
	if pc.Sender != "" {
		notifier = &pagerSMS{core: s.core, sender: strings.TrimPrefix(pc.Sender, "+"), validity: uint32(pc.SMSValidity.Duration.Seconds())}
	}
	srv, err := pager.New(pager.Config{
		Secret:        secret,
		ReplayWindow:  pc.ReplayWindow.Duration,
		MaxNumbers:    pc.MaxNumbers,
		MaxClients:    pc.MaxClients,
		Retransmit:    pc.Retransmit.Duration,
		RetransmitMax: pc.RetransmitMax.Duration,
		PushGiveUp:    pc.PushGiveUp.Duration,
		MaxPushQueue:  pc.MaxPushQueue,
		MaxNonces:     pc.MaxNonces,
		MaxInFlight:   pc.MaxInFlight,
		Greeting:      pc.Greeting,
		Logger:        log,
		Metrics:       pager.NewMetrics(s.reg),
	}, notifier, caller)
	if err != nil {
		closeDialer(dialer)
		return nil, fmt.Errorf("pager: %w", err)
	}
	addr, err := net.ResolveUDPAddr("udp", pc.Listen)
	if err != nil {
		closeDialer(dialer)
		return nil, fmt.Errorf("pager.listen %s: %w", pc.Listen, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		closeDialer(dialer)
		return nil, fmt.Errorf("pager.listen %s: %w", pc.Listen, err)
	}
	ps := &pagerService{srv: srv, conn: conn, dialer: dialer, done: make(chan error, 1)}
	go func() {
		err := srv.Serve(conn)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			// The pager stopped on its own: say so, and let /healthz
			// report it.
			log.Error("pager stopped", "error", err)
			ps.failed.Store(&err)
		}
		ps.done <- err
	}()
	return ps, nil
}

func (ps *pagerService) stop() {
	if ps == nil {
		return
	}
	ps.srv.Shutdown()
	<-ps.done
	ps.conn.Close()
	if ps.dialer != nil {
		ps.dialer.Close()
	}
}

// PagerAddr is the pager's UDP address (nil when it is off).
func (s *Server) PagerAddr() net.Addr {
	if s.pager == nil {
		return nil
	}
	return s.pager.conn.LocalAddr()
}

// Pager is the pager server (nil when it is off).
func (s *Server) Pager() *pager.Server {
	if s.pager == nil {
		return nil
	}
	return s.pager.srv
}

// pagerSMS sends the "table ready" SMS as ephemeral SMs: routed and
// delivered like any other, never stored (docs/core.md).
type pagerSMS struct {
	core     *core.Core
	sender   string
	validity uint32
}

func (p *pagerSMS) NotifySMS(ctx context.Context, number, text string) error {
	parts, err := smstext.Encode(text, uint16(mrand.IntN(256)), smstext.Options{MaxParts: 4})
	if err != nil {
		return fmt.Errorf("greeting cannot be sent: %w", err)
	}
	for _, part := range parts {
		rec := &pms.Record{
			Kind: pms.KindSM, SrcClass: pms.ClassLocal, Validity: p.validity,
			Src: pms.Address{TON: numbering.TONInternational, NPI: 1, Digits: p.sender},
			Dst: pms.Address{TON: numbering.TONInternational, NPI: 1, Digits: number},
			DCS: part.DCS, ESM: part.ESM, UDL: part.UDL, UD: part.UD,
			ConcatRef: part.Ref, ConcatTotal: part.Total, ConcatSeq: part.Seq,
		}
		if _, err := p.core.SubmitEphemeral(rec, nil); err != nil {
			// The core's reasons name statuses, never the number.
			return fmt.Errorf("refused by the core: %w", err)
		}
	}
	return nil
}

// addrString is a's text, "" for none.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// pagerHandlers mounts the host-stand page on the admin server (none
// when the pager is off).
func (s *Server) pagerHandlers() map[string]http.Handler {
	if s.pager == nil {
		return nil
	}
	return map[string]http.Handler{"/pager/": hoststand.Handler(s.pager.srv)}
}

// Config is the configuration the server runs with.
func (s *Server) Config() *config.Config { return s.cfg }
