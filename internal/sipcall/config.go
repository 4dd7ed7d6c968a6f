package sipcall

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sentinel errors. Call wraps them with the detail (the SIP status line for
// answers from the far end), so callers use errors.Is and logs get the text.
var (
	// ErrInvalidConfig: New was given a Config it cannot work with; the
	// text names the field.
	ErrInvalidConfig = errors.New("sipcall: invalid config")
	// ErrInvalidNumber: the number is not 1 to 32 digits with an optional
	// leading "+".
	ErrInvalidNumber = errors.New("sipcall: invalid phone number")
	// ErrBusy: the far end answered 486 Busy Here, 600 Busy Everywhere.
	ErrBusy = errors.New("sipcall: busy")
	// ErrNoAnswer: nobody answered within RingTimeout (the INVITE was
	// cancelled), or the network said so: 408, 480, 487 not asked for.
	ErrNoAnswer = errors.New("sipcall: no answer")
	// ErrRejected: any other final failure response (4xx, 5xx, 6xx), for
	// example 404 for an unknown number, 403 or 401/407 when the trunk
	// refused the credentials, 603 Decline.
	ErrRejected = errors.New("sipcall: call rejected")
	// ErrUnreachable: the proxy did not answer the INVITE at all (SIP
	// timer B) or could not be sent to.
	ErrUnreachable = errors.New("sipcall: proxy unreachable")
	// ErrMedia: the call was answered but its SDP answer offers no media
	// this dialer can send (no PCMU or PCMA, no address); it was hung up.
	ErrMedia = errors.New("sipcall: no usable media in the answer")
	// ErrTooManyCalls: MaxCalls calls are already in progress.
	ErrTooManyCalls = errors.New("sipcall: too many calls in progress")
	// ErrClosed: the Dialer is closed, or was closed during the call.
	ErrClosed = errors.New("sipcall: dialer closed")
)

// Defaults of the zero Config fields.
const (
	DefaultLocalIP       = "127.0.0.1"
	DefaultRingTimeout   = 30 * time.Second
	DefaultMaxDuration   = 2 * time.Minute
	DefaultMaxCalls      = 4
	DefaultHangupTimeout = 5 * time.Second
)

// Config configures a Dialer. Only Proxy and From are required.
type Config struct {
	// Proxy is host:port of the SIP trunk or outbound proxy (UDP). The
	// Request-URI of every call is sip:NUMBER@Proxy.
	Proxy string
	// From is the user part of the From URI, e.g. "pager".
	From string
	// FromDomain is the host part of the From URI; empty means the host of
	// Proxy, which is what most trunks expect.
	FromDomain string
	// LocalIP is the address SIP and RTP bind to, and the one put in Via,
	// Contact and SDP; default 127.0.0.1. It must be a concrete address
	// the trunk can reach (not 0.0.0.0).
	LocalIP string
	// SIPPort is the local UDP port for SIP; 0 picks a free one (the
	// Contact header tells the far end which).
	SIPPort int
	// RTPPortMin and RTPPortMax bound the local RTP ports (for a
	// firewall that opens only a range); both 0, the default, means any
	// free port. Even ports are used (RFC 3550 §11).
	RTPPortMin int
	RTPPortMax int
	// Announcement is the contents of a WAV file: 8 kHz mono, 16-bit PCM,
	// 8-bit µ-law or 8-bit A-law (docs/sipcall.md); nil means the built-in
	// chime.
	Announcement []byte
	// RingTimeout is how long a call may ring before it is cancelled;
	// default 30s.
	RingTimeout time.Duration
	// MaxDuration bounds the answered part of a call: the announcement is
	// cut there and the call hung up; default 2m.
	MaxDuration time.Duration
	// MaxCalls bounds the calls in progress at once; default 4.
	MaxCalls int
	// HangupTimeout bounds the wait for the answer to our BYE (and for the
	// INVITE to be cancelled); default 5s.
	HangupTimeout time.Duration
	// AuthUser and AuthPassword answer a trunk's digest challenge (401 or
	// 407) to the INVITE; empty means no credentials.
	AuthUser     string
	AuthPassword string
	// Registerer, when set, gets the dialer's Prometheus metrics.
	Registerer prometheus.Registerer
	// Logger gets call events named by Call-ID; nil means slog.Default().
	Logger *slog.Logger
}

// settings is a validated Config with its defaults applied.
type settings struct {
	Config
	proxyHost string
	proxyPort int
	localIP   netip.Addr
	samples   []int16
}

// validate applies the defaults and checks every field, naming the field
// in the error.
func (c Config) validate() (settings, error) {
	s := settings{Config: c}
	bad := func(format string, a ...any) (settings, error) {
		return settings{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	host, portText, err := net.SplitHostPort(c.Proxy)
	if err != nil || host == "" {
		return bad("Proxy %q must be host:port", c.Proxy)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return bad("Proxy %q: port must be 1-65535", c.Proxy)
	}
	s.proxyHost, s.proxyPort = host, port
	if !validUser(c.From) {
		return bad("From %q must be 1-64 of A-Z a-z 0-9 . _ ~ + -", c.From)
	}
	if s.FromDomain == "" {
		s.FromDomain = host
	}
	if s.LocalIP == "" {
		s.LocalIP = DefaultLocalIP
	}
	ip, err := netip.ParseAddr(s.LocalIP)
	if err != nil || ip.Zone() != "" {
		return bad("LocalIP %q must be a numeric IP address", s.LocalIP)
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return bad("LocalIP %s must be an address the trunk can send to", ip)
	}
	s.localIP = ip.Unmap()
	if c.SIPPort < 0 || c.SIPPort > 65535 {
		return bad("SIPPort %d must be 0-65535", c.SIPPort)
	}
	switch {
	case c.RTPPortMin == 0 && c.RTPPortMax == 0:
	case c.RTPPortMin < 1 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax:
		return bad("RTPPortMin %d and RTPPortMax %d must be 1-65535, min <= max", c.RTPPortMin, c.RTPPortMax)
	case c.RTPPortMin == c.RTPPortMax && c.RTPPortMin%2 == 1:
		return bad("RTPPortMin %d to RTPPortMax %d holds no even port", c.RTPPortMin, c.RTPPortMax)
	}
	if c.Announcement == nil {
		s.samples = defaultAnnouncement()
	} else if s.samples, err = decodeWAV(c.Announcement); err != nil {
		return bad("Announcement: %w", err)
	}
	if s.RingTimeout == 0 {
		s.RingTimeout = DefaultRingTimeout
	}
	if s.RingTimeout < 0 {
		return bad("RingTimeout %v must be positive", c.RingTimeout)
	}
	if s.MaxDuration == 0 {
		s.MaxDuration = DefaultMaxDuration
	}
	if s.MaxDuration < frameMillis*time.Millisecond {
		return bad("MaxDuration %v must be at least 20ms", c.MaxDuration)
	}
	if s.MaxCalls == 0 {
		s.MaxCalls = DefaultMaxCalls
	}
	if s.MaxCalls < 0 {
		return bad("MaxCalls %d must be positive", c.MaxCalls)
	}
	if s.HangupTimeout == 0 {
		s.HangupTimeout = DefaultHangupTimeout
	}
	if s.HangupTimeout < 0 {
		return bad("HangupTimeout %v must be positive", c.HangupTimeout)
	}
	if c.AuthPassword != "" && c.AuthUser == "" {
		return bad("AuthPassword is set without AuthUser")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s, nil
}

// validUser accepts a conservative subset of the SIP user part: unreserved
// characters only, so that nothing needs escaping.
func validUser(u string) bool {
	if len(u) == 0 || len(u) > 64 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '~', c == '+', c == '-':
		default:
			return false
		}
	}
	return true
}

// validNumber accepts 1 to 32 digits with an optional leading "+": what a
// trunk dials. Anything else could change the meaning of the URI.
func validNumber(n string) bool {
	d := n
	if len(d) > 0 && d[0] == '+' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 32 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}
