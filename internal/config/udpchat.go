package config

import "time"

// UDPChat configures the CHAT UDP server (docs/udpchat.md).
type UDPChat struct {
	Listen       string   `toml:"listen"`
	Lobby        string   `toml:"lobby"`
	MaxDatagram  int      `toml:"max_datagram"`
	IdleTimeout  Duration `toml:"idle_timeout"`
	ListInterval Duration `toml:"list_interval"`
	MaxClients   int      `toml:"max_clients"`
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
	if u.Lobby == "" || len(u.Lobby) > 32 {
		return bad("udpchat.lobby", "must be 1 to 32 bytes")
	}
	for _, r := range u.Lobby {
		if r <= ' ' || r == 0x7f {
			return bad("udpchat.lobby", "may not contain spaces or control characters")
		}
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
