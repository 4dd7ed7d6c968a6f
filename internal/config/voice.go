package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// Voice configures the KV voice channels (docs/voice.md).
type Voice struct {
	Listen           string   `toml:"listen"`
	RelayHost        string   `toml:"relay_host"`
	RelayPorts       string   `toml:"relay_ports"`
	AdminUID         uint64   `toml:"admin_uid"`
	MaxChannels      int      `toml:"max_channels"`
	MaxMembers       int      `toml:"max_members"`
	MaxUsers         int      `toml:"max_users"`
	KeepaliveTimeout Duration `toml:"keepalive_timeout"`
	Echo             bool     `toml:"echo"`
	Announce         bool     `toml:"announce"`
	Batch            int      `toml:"batch"`
	SocketBuffer     int      `toml:"socket_buffer"`
	GSO              bool     `toml:"gso"`
	IdleTimeout      Duration `toml:"idle_timeout"`
	MaxConnections   int      `toml:"max_connections"`
	FailBurst        int      `toml:"fail_burst"`
	FailRate         float64  `toml:"fail_rate"`
	// OpenRegisterShare is the part of max_users that open registrations
	// (REGISTER with auid 0) may fill; OpenRegisterBurst and
	// OpenRegisterRate limit them for all addresses together.
	OpenRegisterShare float64 `toml:"open_register_share"`
	OpenRegisterBurst int     `toml:"open_register_burst"`
	OpenRegisterRate  float64 `toml:"open_register_rate"`
}

// OpenMaxUsers is how many users may be registered for an open
// registration to succeed: open_register_share of max_users, at least 1.
func (v *Voice) OpenMaxUsers() int {
	return max(1, int(v.OpenRegisterShare*float64(v.MaxUsers)))
}

// PortRange parses relay_ports: "" (ephemeral ports: 0, 0) or "LOW-HIGH".
func (v *Voice) PortRange() (int, int, bool) {
	if v.RelayPorts == "" {
		return 0, 0, true
	}
	lo, hi, ok := strings.Cut(v.RelayPorts, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
		return 0, 0, false
	}
	return a, b, true
}

func (c *Config) validateVoice(bad func(key, format string, args ...any) error) error {
	v := &c.Voice
	if v.Listen != "" {
		if err := checkListen(v.Listen); err != nil {
			return bad("voice.listen", "%v", err)
		}
	}
	if _, err := netip.ParseAddr(v.RelayHost); err != nil {
		return bad("voice.relay_host", "%q is not an IP address", v.RelayHost)
	}
	if _, _, ok := v.PortRange(); !ok {
		return bad("voice.relay_ports", "%q is not empty or LOW-HIGH with 1 <= LOW <= HIGH <= 65535", v.RelayPorts)
	}
	if v.AdminUID != 0 && (uint32(v.AdminUID) == 0xFFFFFFFF || uint32(v.AdminUID>>32) == 0xFFFFFFFF) {
		return bad("voice.admin_uid", "a uid may not have a 32-bit half of all ones")
	}
	for key, n := range map[string]int{
		"voice.max_channels": v.MaxChannels, "voice.max_members": v.MaxMembers, "voice.max_users": v.MaxUsers,
		"voice.max_connections": v.MaxConnections,
	} {
		if n < 1 {
			return bad(key, "must be positive")
		}
	}
	if v.Batch < 1 || v.Batch > 1024 {
		return bad("voice.batch", "%d is not between 1 and 1024", v.Batch)
	}
	if v.SocketBuffer < 0 || v.SocketBuffer > 1<<30 {
		return bad("voice.socket_buffer", "%d is not between 0 and 1073741824", v.SocketBuffer)
	}
	if v.KeepaliveTimeout.Duration <= 0 {
		return bad("voice.keepalive_timeout", "must be positive")
	}
	if v.IdleTimeout.Duration <= 0 {
		return bad("voice.idle_timeout", "must be positive")
	}
	if v.FailBurst < 0 {
		return bad("voice.fail_burst", "must be 0 (no limit) or more")
	}
	if v.FailRate <= 0 {
		return bad("voice.fail_rate", "must be positive")
	}
	if !(v.OpenRegisterShare > 0 && v.OpenRegisterShare <= 1) {
		return bad("voice.open_register_share", "%v is not in (0, 1]", v.OpenRegisterShare)
	}
	if v.OpenRegisterBurst < 0 {
		return bad("voice.open_register_burst", "must be 0 (no limit) or more")
	}
	if v.OpenRegisterRate <= 0 {
		return bad("voice.open_register_rate", "must be positive")
	}
	return nil
}
