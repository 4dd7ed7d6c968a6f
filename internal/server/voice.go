package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"

	"switchboard/internal/accounts"
	"switchboard/internal/voice"
)

// voiceService is the KV control server and its hub as the server runs
// them.
type voiceService struct {
	hub     *voice.Hub
	control *voice.Control
	addr    net.Addr
	done    chan struct{}
}

// registryUsers stores voice registrations in the account registry,
// opening the file for each change as the accounts command does, so that
// the server never holds its lock for long.
type registryUsers struct{ path string }

func (r registryUsers) PutVoiceUser(uid, perm uint64) error {
	db, err := accounts.Open(r.path)
	if err != nil {
		return err
	}
	err = db.PutVoiceUser(uid, perm)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (r registryUsers) DeleteVoiceUser(uid uint64) error {
	db, err := accounts.Open(r.path)
	if err != nil {
		return err
	}
	err = db.DeleteVoiceUser(uid)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// startVoice loads the key and the registrations, makes sure the admin
// exists, restores the channels and opens the control listener. With
// voice.listen empty it does nothing and returns nil.
func (s *Server) startVoice() (*voiceService, error) {
	c := &s.cfg.Voice
	if c.Listen == "" {
		return nil, nil
	}
	dir := s.cfg.DataDir
	log := s.log.With("service", "voice")
	key, created, err := voice.LoadOrCreateKey(dir)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("voice signing key generated", "file", filepath.Join(dir, voice.KeyFileName))
	}
	acctPath := accounts.Path(dir)
	list, err := accounts.LoadVoiceUsers(acctPath)
	if err != nil {
		return nil, fmt.Errorf("voice users: %w", err)
	}
	users := make(map[uint64]voice.Perm, len(list))
	for _, u := range list {
		users[u.UID] = u.Perm
	}
	lo, hi, _ := c.PortRange()
	m := voice.NewMetrics(s.reg)
	hub, err := voice.NewHub(voice.Config{
		RelayHost:         c.RelayHost,
		PortMin:           lo,
		PortMax:           hi,
		MaxChannels:       c.MaxChannels,
		MaxMembers:        c.MaxMembers,
		MaxUsers:          c.MaxUsers,
		OpenMaxUsers:      c.OpenMaxUsers(),
		OpenRegisterBurst: c.OpenRegisterBurst,
		OpenRegisterRate:  c.OpenRegisterRate,
		KeepaliveTimeout:  c.KeepaliveTimeout.Duration,
		Echo:              c.Echo,
		Announce:          c.Announce,
		Batch:             c.Batch,
		SocketBuffer:      c.SocketBuffer,
		GSO:               c.GSO,
		Key:               key,
		Users:             registryUsers{acctPath},
		StateFile:         filepath.Join(dir, voice.StateFileName),
		Logger:            log,
		Metrics:           m,
	}, users)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*voiceService, error) {
		hub.Close()
		return nil, err
	}
	if err := s.ensureVoiceAdmin(hub); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fail(fmt.Errorf("voice.listen %s: %w", c.Listen, err))
	}
	vs := &voiceService{hub: hub, addr: ln.Addr(), done: make(chan struct{})}
	vs.control = voice.NewControl(voice.ControlConfig{
		IdleTimeout:  c.IdleTimeout.Duration,
		WriteTimeout: c.IdleTimeout.Duration,
		MaxConns:     c.MaxConnections,
		FailBurst:    c.FailBurst,
		FailRate:     c.FailRate,
		Logger:       log,
		Metrics:      m,
	}, hub)
	go func() {
		defer close(vs.done)
		_ = vs.control.Serve(ln)
	}()
	log.Info("voice control listening", "addr", ln.Addr().String(), "public_key", voice.PublicKeyString(hub.PublicKey()))
	return vs, nil
}

// ensureVoiceAdmin makes the admin uid exist with perm_admin: the
// configured one, or the one of DATA/voice-admin.uid, or a new random one
// written there (0600) at first start. The uid is a credential, so it is
// never logged.
func (s *Server) ensureVoiceAdmin(hub *voice.Hub) error {
	dir := s.cfg.DataDir
	uid := s.cfg.Voice.AdminUID
	fromFile, err := voice.ReadAdminUID(dir)
	switch {
	case uid != 0:
	case err == nil:
		uid = fromFile
	case errors.Is(err, fs.ErrNotExist):
		if uid, err = voice.RandomUID(); err != nil {
			return err
		}
	default:
		// A file that cannot be read is not replaced: the uid it holds
		// may still be the admin's, recorded nowhere else.
		return fmt.Errorf("voice admin: %w", err)
	}
	if err := hub.EnsureUser(uid, voice.PermAdmin); err != nil {
		return fmt.Errorf("voice admin: %w", err)
	}
	if uid != fromFile {
		if err := voice.WriteAdminUID(dir, uid); err != nil {
			return fmt.Errorf("voice admin: %w", err)
		}
		s.log.Info("voice admin uid written (switchboard voice admin-uid prints it)", "file", filepath.Join(dir, voice.AdminFileName))
	}
	return nil
}

// handlers are the voice endpoints of the admin HTTP server.
func (vs *voiceService) handlers() map[string]http.Handler {
	if vs == nil {
		return nil
	}
	return map[string]http.Handler{
		"GET /api/voice/public-key": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"algorithm":  "ed25519",
				"public_key": voice.PublicKeyString(vs.hub.PublicKey()),
			})
		}),
		// Channels without uids: a uid is a bearer credential (the admin
		// API has no authentication), so only counts are shown.
		"GET /api/voice/channels": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			type channel struct {
				ID      uint64 `json:"id"`
				Port    int    `json:"port"`
				Members int    `json:"members"`
				Bound   int    `json:"bound"`
			}
			out := []channel{}
			for _, id := range vs.hub.Channels() {
				if info, ok := vs.hub.Channel(id); ok {
					c := channel{ID: info.ID, Port: info.Port, Members: len(info.Members)}
					for _, m := range info.Members {
						if m.Bound {
							c.Bound++
						}
					}
					out = append(out, c)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		}),
	}
}

// stop closes the control server, then the relays; channels stay in the
// state file for the next start.
func (vs *voiceService) stop(ctx context.Context) {
	if vs == nil {
		return
	}
	vs.control.Shutdown(ctx)
	<-vs.done
	vs.hub.Close()
}

// VoiceAddr is the bound KV control address, nil when voice is off.
func (s *Server) VoiceAddr() net.Addr {
	if s.voice == nil {
		return nil
	}
	return s.voice.addr
}

// Voice is the voice hub, nil when voice is off.
func (s *Server) Voice() *voice.Hub {
	if s.voice == nil {
		return nil
	}
	return s.voice.hub
}
