package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"switchboard/internal/config"
	"switchboard/internal/numbering"
	"switchboard/internal/smpp"
)

// smppService is the SMPP server for downstream peers and the uplink, as
// the server runs them.
type smppService struct {
	srv    *smpp.Server
	uplink *smpp.Uplink
	addrs  []net.Addr
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startSMPP opens the SMPP listeners and starts the uplink. An occupied
// port is an error naming the address. table is the current numbering
// table, which holds the peers' credentials; it changes on reload.
func (s *Server) startSMPP(table *atomic.Pointer[numbering.Table]) (*smppService, error) {
	c := &s.cfg.SMPP
	m := smpp.NewMetrics(s.reg)
	sessCfg := smpp.SessionConfig{
		MaxPDU:          c.MaxPDU,
		Window:          c.Window,
		EnquireLink:     c.EnquireLink.Duration,
		Inactivity:      c.Inactivity.Duration,
		ResponseTimeout: c.ResponseTimeout.Duration,
	}
	auth := func(systemID, password string, ip netip.Addr) (string, error) {
		p, err := table.Load().AuthPeer(systemID, password, ip)
		if err != nil {
			return "", err
		}
		return p.Name, nil
	}
	svc := &smppService{}
	svc.srv = smpp.NewServer(smpp.ServerConfig{
		SystemID:        c.SystemID,
		Session:         sessCfg,
		BindTimeout:     c.BindTimeout.Duration,
		MaxSessions:     c.MaxSessions,
		MaxInFlight:     c.MaxInFlight,
		MaxParts:        c.MaxParts,
		MaxUnboundPerIP: c.MaxUnboundPerIP,
	}, s.core, auth, s.log.With("service", "smpp"), m)
	lns, err := openListeners("smpp", c.Listen, c.TLSListen, c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, err
	}
	for _, ln := range lns {
		svc.addrs = append(svc.addrs, ln.Addr())
		svc.wg.Add(1)
		go func() {
			defer svc.wg.Done()
			svc.srv.Serve(ln)
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc.cancel = cancel
	if up := &s.cfg.Uplink; up.Enabled() {
		ucfg := uplinkConfig(up)
		svc.uplink = smpp.NewUplink(ucfg, s.core, s.log.With("service", "uplink"), m)
		svc.wg.Add(1)
		go func() {
			defer svc.wg.Done()
			if err := svc.uplink.Run(ctx); err != nil {
				s.log.Error("uplink cannot start", "error", err)
			}
		}()
	}
	return svc, nil
}

// uplinkConfig translates the [uplink] section.
func uplinkConfig(up *config.Uplink) smpp.UplinkConfig {
	u := smpp.UplinkConfig{
		Addr:       net.JoinHostPort(up.Host, strconv.Itoa(up.Port)),
		SystemID:   up.SystemID,
		Password:   up.Password,
		SystemType: up.SystemType,
		Session: smpp.SessionConfig{
			Window:          up.Window,
			EnquireLink:     up.EnquireLink.Duration,
			ResponseTimeout: up.ResponseTimeout.Duration,
		},
		ReconnectMin: up.ReconnectMin.Duration,
		ReconnectMax: up.ReconnectMax.Duration,
	}
	if up.TLS {
		name := up.TLSServerName
		if name == "" {
			name = up.Host
		}
		u.TLS = &tls.Config{ServerName: name, InsecureSkipVerify: up.TLSInsecure, MinVersion: tls.VersionTLS12}
	}
	return u
}

// stop unbinds every session and the uplink within ctx.
func (svc *smppService) stop(ctx context.Context) {
	svc.cancel()
	svc.srv.Shutdown(ctx)
	svc.wg.Wait()
}
