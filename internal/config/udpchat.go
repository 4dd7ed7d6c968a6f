package config

import (
	"strings"
	"time"
	"unicode/utf8"
)

// phoneShaped is chat.IsPhone's rule: "+" and 1 to 15 digits, or 4 to 15
// digits.
func phoneShaped(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if d == "" || len(d) > 15 || (d == s && len(d) < 4) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// UDPChat configures the CHAT UDP server (docs/udpchat.md).
type UDPChat struct {
	Listen       string   `toml:"listen"`
	Lobby        string   `toml:"lobby"`
	MaxDatagram  int      `toml:"max_datagram"`
	IdleTimeout  Duration `toml:"idle_timeout"`
	ListInterval Duration `toml:"list_interval"`
	MaxClients   int      `toml:"max_clients"`
	MaxPerIP     int      `toml:"max_per_ip"`
	ListEvery    Duration `toml:"list_every"`
	Rate         float64  `toml:"rate"`
	Burst        int      `toml:"burst"`
	ErrorRate    float64  `toml:"error_rate"`
	ErrorBurst   int      `toml:"error_burst"`
	ErrorTotal   float64  `toml:"error_rate_total"`
	DupWindow    Duration `toml:"dup_window"`
	SendQueue    int      `toml:"send_queue"`
}

func (c *Config) validateUDPChat(bad func(key, format string, args ...any) error) error {
	u := &c.UDPChat
	if u.Listen != "" {
		if err := checkListen(u.Listen); err != nil {
			return bad("udpchat.listen", "%v", err)
		}
	}
	// The lobby is a chat name like any other (chat.CheckName's rule,
	// repeated here because config imports no service), not "system"
	// and not phone-shaped: a phone-shaped target is an SMS.
	if u.Lobby == "" || len(u.Lobby) > 32 || !utf8.ValidString(u.Lobby) {
		return bad("udpchat.lobby", "must be 1 to 32 bytes of UTF-8")
	}
	for _, r := range u.Lobby {
		if r <= ' ' || r == 0x7f {
			return bad("udpchat.lobby", "may not contain spaces or control characters")
		}
	}
	if strings.EqualFold(u.Lobby, "system") || phoneShaped(u.Lobby) {
		return bad("udpchat.lobby", "%q is reserved or has a phone number's form", u.Lobby)
	}
	// The smallest datagram must hold a full-length name and some text;
	// the largest is what UDP over IPv4 carries.
	if u.MaxDatagram < 256 || u.MaxDatagram > 65507 {
		return bad("udpchat.max_datagram", "%d is not between 256 and 65507", u.MaxDatagram)
	}
	for key, d := range map[string]time.Duration{
		"udpchat.idle_timeout": u.IdleTimeout.Duration, "udpchat.dup_window": u.DupWindow.Duration,
	} {
		if d <= 0 {
			return bad(key, "must be positive")
		}
	}
	if u.ListInterval.Duration < 0 {
		return bad("udpchat.list_interval", "must not be negative (0 turns the periodic list off)")
	}
	if u.MaxClients < 1 {
		return bad("udpchat.max_clients", "must be positive")
	}
	if u.MaxPerIP < 1 {
		return bad("udpchat.max_per_ip", "must be positive")
	}
	if u.ListEvery.Duration <= 0 {
		return bad("udpchat.list_every", "must be positive")
	}
	if u.Rate <= 0 || u.ErrorRate <= 0 {
		return bad("udpchat.rate", "rate and error_rate must be positive")
	}
	if u.ErrorTotal <= 0 {
		return bad("udpchat.error_rate_total", "must be positive")
	}
	if u.Burst < 1 || u.ErrorBurst < 1 {
		return bad("udpchat.burst", "burst and error_burst must be positive")
	}
	if u.SendQueue < 1024 {
		return bad("udpchat.send_queue", "%d is below 1024", u.SendQueue)
	}
	return nil
}
