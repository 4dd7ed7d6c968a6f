package server

import (
	"errors"
	"fmt"
	"net"
	"time"

	"switchboard/internal/udpchat"
)

// Version is the build's version, reported by the protocols that tell
// clients (UDP chat's info reply). The switchboard command sets it.
var Version = "dev"

// startUDPChat opens the CHAT UDP socket, if configured, and serves it on
// the chat service.
func (s *Server) startUDPChat(cs *chatService) error {
	u := &s.cfg.UDPChat
	if u.Listen == "" {
		return nil
	}
	addr, err := net.ResolveUDPAddr("udp", u.Listen)
	if err != nil {
		return fmt.Errorf("udpchat.listen %s: %w", u.Listen, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("udpchat.listen %s: %w", u.Listen, err)
	}
	cs.udp = udpchat.NewServer(udpchat.ServerConfig{
		Lobby:          u.Lobby,
		MaxDatagram:    u.MaxDatagram,
		IdleTimeout:    u.IdleTimeout.Duration,
		ListInterval:   listInterval(u.ListInterval.Duration),
		MaxClients:     u.MaxClients,
		MaxPerIP:       u.MaxPerIP,
		ListEvery:      u.ListEvery.Duration,
		Rate:           u.Rate,
		Burst:          u.Burst,
		ErrorRate:      u.ErrorRate,
		ErrorBurst:     u.ErrorBurst,
		ErrorRateTotal: u.ErrorTotal,
		DupWindow:      u.DupWindow.Duration,
		SendQueue:      u.SendQueue,
		Version:        Version,
		Metrics:        udpchat.NewMetrics(s.reg),
	}, cs.svc)
	cs.udpAddr = conn.LocalAddr()
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		err := cs.udp.Serve(conn)
		if err != nil && !errors.Is(err, udpchat.ErrServerClosed) {
			// The server stopped on its own, not by Shutdown: say so,
			// and let /healthz report it.
			s.log.With("service", "udpchat").Error("udpchat stopped", "error", err)
			cs.udpFailed.Store(&err)
		}
	}()
	return nil
}

// listInterval maps the config's 0 ("off") to the server's negative.
func listInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
