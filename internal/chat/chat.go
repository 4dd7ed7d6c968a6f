// Package chat is the one chat world that every chat front-end (CPT, UDP
// chat) shares: who is online under which name, which connections follow
// which group, the history index that SYNC reads, duplicate detection for
// resent messages, pushing new messages to connected users, and the bridge
// between chat users and SMS at the numbers they own.
//
// Messages are stored by the core (core.SubmitChatAsync) in the message
// store; this package keeps only RAM state that it rebuilds from the store
// at startup. It never writes the store itself and knows nothing about any
// wire format.
//
// Lock order: Service.mu, then Session.mu, then history.mu; dedup.mu and
// fanout.mu are leaves taken with nothing else held.
package chat

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"switchboard/internal/core"
	"switchboard/internal/pms"
)

// Errors a front-end maps to its own protocol's refusals.
var (
	// ErrNameTaken: someone is logged in under the name, on any front-end.
	ErrNameTaken = errors.New("chat: username is already in use")
	// ErrNoNumber: an SMS target from a user whose account owns no number.
	ErrNoNumber = errors.New("chat: the account owns no phone number to send SMS from")
	// ErrRefused: the core refused the message (the wrapped core.Error
	// says why).
	ErrRefused = errors.New("chat: message refused")
	// ErrTooLong: the text does not fit one chat message or SMS.
	ErrTooLong = errors.New("chat: message too long")
	// ErrNameReserved: the name is a public group's (Config.Groups),
	// which no user may take, so that a group message can never become a
	// direct message to someone who logged in under its name.
	ErrNameReserved = errors.New("chat: the name is a public group's")
	// ErrLoggedOut: the session has logged out (or its front-end ended
	// it) before the message was posted.
	ErrLoggedOut = errors.New("chat: session logged out")
	// ErrClosed: the service is shutting down.
	ErrClosed = errors.New("chat: shutting down")
)

// Backend is what the service needs from the core.
type Backend interface {
	SubmitChatAsync(ctx context.Context, m *core.ChatMessage, done func(first uint64, entry time.Time, err error)) error
	Submit(ctx context.Context, rec *pms.Record, imsiAddressed bool) (uint64, bool, error)
	ReadRaw(index uint64, b *[pms.RecordSize]byte) error
}

// Directory answers account questions: the account registry, adapted by
// the server so that it can be reloaded.
type Directory interface {
	// Registered reports whether an account of that name exists.
	Registered(name string) bool
	// NumberOf is the E.164 number (11 digits for NANP, no "+") the
	// account owns, or "".
	NumberOf(name string) string
	// OwnerOf is the account owning an E.164 number.
	OwnerOf(e164 string) (string, bool)
}

// Config tunes the service.
type Config struct {
	// DedupWindow is how long a message is remembered for recognising a
	// resend from a new connection after a lost ACK.
	DedupWindow time.Duration
	// SMSParts limits an SMS sent from chat (parts of a concatenated SM).
	SMSParts int
	// HistoryCache bounds the recent messages kept in RAM for SYNC (the
	// last 128 of the most recently active groups and inboxes); 0 takes
	// the default, 100,000, and a negative value turns the cache off.
	HistoryCache int
	// MaxGroups bounds the groups one session follows (default 1000).
	// Every SEND to a group and every SYNC of one joins it, and nothing
	// but logging out leaves; without a bound, a client that SYNCs ever
	// new names would grow the service's memory for as long as it stays.
	// Joining one more leaves the group joined longest ago.
	MaxGroups int
	// Groups are public groups: always groups, never usernames (the UDP
	// chat's broadcast group is one).
	Groups  []string
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

func (c *Config) setDefaults() {
	if c.DedupWindow <= 0 {
		c.DedupWindow = time.Minute
	}
	if c.SMSParts <= 0 {
		c.SMSParts = 16
	}
	if c.HistoryCache == 0 {
		c.HistoryCache = 100000
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service is the chat world. Create it with New, Rebuild its history from
// the store, then Start it.
type Service struct {
	cfg Config
	be  Backend
	dir Directory
	m   *Metrics

	hist   history
	dedup  dedup
	fan    fanout
	parts  partBuffer
	closed chan struct{}
	wg     sync.WaitGroup

	mu      sync.RWMutex
	closing bool
	nextID  uint64
	online  map[string]*Session
	groups  map[string]*members
	// public are Config.Groups; read-only after New.
	public map[string]bool
}

// New creates a service over the core and the account directory.
func New(cfg Config, be Backend, dir Directory) *Service {
	cfg.setDefaults()
	s := &Service{
		cfg:    cfg,
		be:     be,
		dir:    dir,
		m:      cfg.Metrics,
		closed: make(chan struct{}),
		online: map[string]*Session{},
		groups: map[string]*members{},
		public: map[string]bool{},
	}
	for _, g := range cfg.Groups {
		s.public[g] = true
	}
	s.hist.init()
	s.hist.cacheMax = max(cfg.HistoryCache, 0)
	s.dedup.init(cfg.DedupWindow)
	s.fan.init()
	s.fan.svc = s
	s.parts.init()
	return s
}

// SetDirectory replaces the account directory (after a reload).
func (s *Service) SetDirectory(dir Directory) {
	s.mu.Lock()
	s.dir = dir
	s.mu.Unlock()
}

func (s *Service) directory() Directory {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dir
}

// Start runs the delivery goroutines.
func (s *Service) Start() {
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.fan.run(s.closed)
	}()
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-s.closed:
				return
			case now := <-t.C:
				s.sweepParts(now)
			}
		}
	}()
}

// Close stops accepting messages and waits for deliveries in progress.
// Sessions still open are not closed: their front-ends do that.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.mu.Unlock()
	close(s.closed)
	s.wg.Wait()
}

// IsOnline reports whether name is logged in.
func (s *Service) IsOnline(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.online[name] != nil
}

// IsRegistered reports whether name has an account.
func (s *Service) IsRegistered(name string) bool { return s.directory().Registered(name) }

// Online lists the names logged in on every front-end, sorted.
func (s *Service) Online() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.online))
	for n := range s.online {
		names = append(names, n)
	}
	s.mu.RUnlock()
	slices.Sort(names)
	return names
}

// goTracked runs f on a goroutine that Close waits for, unless the
// service is closing; it reports whether f was started.
func (s *Service) goTracked(f func()) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}
