package config

import (
	"net"
	"strconv"
	"time"
)

// Pager configures the restaurant pager (docs/pager.md).
type Pager struct {
	// Listen is the UDP address; empty turns the pager off.
	Listen string `toml:"listen"`
	// Secret is the shared secret; empty means the one generated into
	// the data directory at first start (pager.secret, mode 0600).
	Secret string `toml:"secret"`
	// Sender is the number the "table ready" SMS come from: a locally
	// owned, SMS-provisioned number. Empty refuses SMS with a reason.
	Sender          string   `toml:"sender"`
	Greeting        string   `toml:"greeting"`
	SMSValidity     Duration `toml:"sms_validity"`
	ReplayWindow    Duration `toml:"replay_window"`
	MaxNumbers      int      `toml:"max_numbers"`
	MaxClients      int      `toml:"max_clients"`
	Retransmit      Duration `toml:"retransmit"`
	RetransmitMax   Duration `toml:"retransmit_max"`
	PushGiveUp      Duration `toml:"push_give_up"`
	MaxPushQueue    int      `toml:"max_push_queue"`
	MaxNonces       int      `toml:"max_nonces"`
	MaxInFlight     int      `toml:"max_in_flight"`
	SIPProxy        string   `toml:"sip_proxy"`
	SIPFrom         string   `toml:"sip_from"`
	AnnouncementWAV string   `toml:"announcement_wav"`
	CallTimeout     Duration `toml:"call_timeout"`
}

// CallsEnabled reports whether a SIP proxy is configured.
func (p *Pager) CallsEnabled() bool { return p.SIPProxy != "" }

func (c *Config) validatePager(bad func(key, format string, args ...any) error) error {
	p := &c.Pager
	if p.Listen != "" {
		if err := checkListen(p.Listen); err != nil {
			return bad("pager.listen", "%v", err)
		}
	}
	if p.Secret != "" && len(p.Secret) < 16 {
		return bad("pager.secret", "must be at least 16 bytes (or empty: generated)")
	}
	if p.Sender != "" {
		d := p.Sender
		if d[0] == '+' {
			d = d[1:]
		}
		if _, err := strconv.ParseUint(d, 10, 64); err != nil || len(d) < 4 || len(d) > 15 {
			return bad("pager.sender", "%q is not a phone number", p.Sender)
		}
	}
	if len(p.Greeting) > 64 {
		return bad("pager.greeting", "longer than 64 bytes")
	}
	for key, d := range map[string]time.Duration{
		"pager.sms_validity": p.SMSValidity.Duration, "pager.replay_window": p.ReplayWindow.Duration,
		"pager.retransmit": p.Retransmit.Duration, "pager.retransmit_max": p.RetransmitMax.Duration,
		"pager.push_give_up": p.PushGiveUp.Duration, "pager.call_timeout": p.CallTimeout.Duration,
	} {
		if d <= 0 {
			return bad(key, "must be positive")
		}
	}
	if p.Retransmit.Duration > p.RetransmitMax.Duration {
		return bad("pager.retransmit", "exceeds pager.retransmit_max")
	}
	// List positions are u16 (docs/pager-protocol.md): a longer list could
	// not be shown.
	if p.MaxNumbers > 65535 {
		return bad("pager.max_numbers", "%d is over 65535, the longest list the protocol can page through", p.MaxNumbers)
	}
	for key, n := range map[string]int{"pager.max_numbers": p.MaxNumbers, "pager.max_clients": p.MaxClients,
		"pager.max_in_flight": p.MaxInFlight, "pager.max_push_queue": p.MaxPushQueue} {
		if n < 1 || n > 1_000_000 {
			return bad(key, "%d is not between 1 and 1000000", n)
		}
	}
	if p.MaxNonces < 1024 || p.MaxNonces > 1<<26 {
		return bad("pager.max_nonces", "%d is not between 1024 and 67108864", p.MaxNonces)
	}
	if p.SIPProxy != "" {
		if _, _, err := net.SplitHostPort(p.SIPProxy); err != nil {
			return bad("pager.sip_proxy", "%q is not host:port", p.SIPProxy)
		}
		if p.SIPFrom == "" {
			return bad("pager.sip_from", "must not be empty when pager.sip_proxy is set")
		}
	}
	return nil
}
