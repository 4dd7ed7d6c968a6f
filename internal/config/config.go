// Package config loads and validates the server configuration. The default
// configuration is an embedded, commented TOML file; a user's file is laid
// over it, so a file needs to name only what it changes. Unknown keys and
// bad values are errors that name the key.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Default is the embedded default configuration, comments included.
//
//go:embed default.toml
var Default string

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole configuration.
type Config struct {
	DataDir  string   `toml:"data_dir"`
	Log      Log      `toml:"log"`
	Admin    Admin    `toml:"admin"`
	Store    Store    `toml:"store"`
	Core     Core     `toml:"core"`
	SMPP     SMPP     `toml:"smpp"`
	Uplink   Uplink   `toml:"uplink"`
	Chat     Chat     `toml:"chat"`
	CPT      CPT      `toml:"cpt"`
	UDPChat  UDPChat  `toml:"udpchat"`
	Voice    Voice    `toml:"voice"`
	Pager    Pager    `toml:"pager"`
	Runtime  Runtime  `toml:"runtime"`
	Shutdown Shutdown `toml:"shutdown"`
}

// Chat configures what every chat front-end shares (docs/cpt.md).
type Chat struct {
	AllowUnregistered bool     `toml:"allow_unregistered"`
	DedupWindow       Duration `toml:"dedup_window"`
	SMSMaxParts       int      `toml:"sms_max_parts"`
	HistoryCache      int      `toml:"history_cache"`
	MaxGroups         int      `toml:"max_groups"`
}

// CPT configures the CPT text-chat server (docs/cpt.md).
type CPT struct {
	Listen         string   `toml:"listen"`
	TLSListen      string   `toml:"tls_listen"`
	TLSCert        string   `toml:"tls_cert"`
	TLSKey         string   `toml:"tls_key"`
	MaxLine        int      `toml:"max_line"`
	SendQueue      int      `toml:"send_queue"`
	Pipeline       int      `toml:"pipeline"`
	Rate           float64  `toml:"rate"`
	Burst          int      `toml:"burst"`
	ConnectTimeout Duration `toml:"connect_timeout"`
	WriteTimeout   Duration `toml:"write_timeout"`
	MaxConnections int      `toml:"max_connections"`
}

// SMPP configures the SMPP server that downstream peers bind to.
type SMPP struct {
	Listen          string   `toml:"listen"`
	TLSListen       string   `toml:"tls_listen"`
	TLSCert         string   `toml:"tls_cert"`
	TLSKey          string   `toml:"tls_key"`
	SystemID        string   `toml:"system_id"`
	MaxPDU          int      `toml:"max_pdu"`
	Window          int      `toml:"window"`
	EnquireLink     Duration `toml:"enquire_link"`
	Inactivity      Duration `toml:"inactivity"`
	ResponseTimeout Duration `toml:"response_timeout"`
	BindTimeout     Duration `toml:"bind_timeout"`
	MaxSessions     int      `toml:"max_sessions"`
	MaxInFlight     int      `toml:"max_in_flight"`
	MaxParts        int      `toml:"max_parts"`
	MaxUnboundPerIP int      `toml:"max_unbound_per_ip"`
}

// Uplink configures the SMPP client to the upstream SMSC.
type Uplink struct {
	Host            string   `toml:"host"`
	Port            int      `toml:"port"`
	SystemID        string   `toml:"system_id"`
	Password        string   `toml:"password"`
	SystemType      string   `toml:"system_type"`
	Window          int      `toml:"window"`
	TLS             bool     `toml:"tls"`
	TLSServerName   string   `toml:"tls_server_name"`
	TLSInsecure     bool     `toml:"tls_insecure_skip_verify"`
	EnquireLink     Duration `toml:"enquire_link"`
	ResponseTimeout Duration `toml:"response_timeout"`
	ReconnectMin    Duration `toml:"reconnect_min"`
	ReconnectMax    Duration `toml:"reconnect_max"`
}

// Enabled reports whether an uplink is configured.
func (u *Uplink) Enabled() bool { return u.Host != "" }

// Core configures the SMSC core.
type Core struct {
	DefaultValidity Duration `toml:"default_validity"`
	MaxValidity     Duration `toml:"max_validity"`
	PeerWindow      int      `toml:"peer_window"`
	TransferWindow  int      `toml:"transfer_window"`
	IMSICacheTTL    Duration `toml:"imsi_cache_ttl"`
	RetryMin        Duration `toml:"retry_min"`
	RetryMax        Duration `toml:"retry_max"`
	CallTimeout     Duration `toml:"call_timeout"`
	DedupWindow     Duration `toml:"dedup_window"`
	PIDAllowed      []string `toml:"pid_allowed"`
	DCSAllowed      []string `toml:"dcs_allowed"`
	FilterClasses   []string `toml:"filter_classes"`
	SocketMode      string   `toml:"socket_mode"`
}

// OctetSet parses a list of octet values and ranges ("0x08", "0x00-0x1F",
// decimal also accepted) into a membership table.
func OctetSet(list []string) (*[256]bool, error) {
	var set [256]bool
	for _, item := range list {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 0, 8)
		if err != nil {
			return nil, fmt.Errorf("%q is not an octet", item)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 0, 8); err != nil || b < a {
				return nil, fmt.Errorf("%q is not an octet range", item)
			}
		}
		for v := a; v <= b; v++ {
			set[v] = true
		}
	}
	return &set, nil
}

// Log configures logging.
type Log struct {
	Format string `toml:"format"`
	Level  string `toml:"level"`
}

// Admin configures the admin HTTP listener.
type Admin struct {
	Listen string   `toml:"listen"`
	PProf  bool     `toml:"pprof"`
	Hosts  []string `toml:"hosts"`
}

// Store configures the persistent message store.
type Store struct {
	MaxBatch      int `toml:"max_batch"`
	PreallocateMB int `toml:"preallocate_mb"`
}

// Runtime configures the process itself.
type Runtime struct {
	GCPercent       int `toml:"gc_percent"`
	HeapHugePagesMB int `toml:"heap_huge_pages_mb"`
}

// Shutdown configures the graceful stop.
type Shutdown struct {
	DrainTimeout Duration `toml:"drain_timeout"`
}

// Duration is a time.Duration written as a Go duration string ("10s").
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText prints a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Load returns the default configuration with the file at path laid over it
// (path "" means defaults only), validated.
func Load(path string) (*Config, error) {
	c, err := parse(Default, "built-in default")
	if err != nil {
		return nil, err
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := overlay(c, string(data), path); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return c, nil
}

func parse(text, name string) (*Config, error) {
	c := &Config{}
	if err := overlay(c, text, name); err != nil {
		return nil, err
	}
	return c, nil
}

func overlay(c *Config, text, name string) error {
	md, err := toml.Decode(text, c)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", name, ErrInvalid, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%s: %w: unknown key %q", name, ErrInvalid, und[0].String())
	}
	return nil
}

// Validate checks every value and names the first bad key.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if err := checkListen(c.Admin.Listen); err != nil {
		return bad("admin.listen", "%v", err)
	}
	if c.Store.MaxBatch < 1 || c.Store.MaxBatch > 4096 {
		return bad("store.max_batch", "%d is not between 1 and 4096", c.Store.MaxBatch)
	}
	if c.Store.PreallocateMB < 0 || c.Store.PreallocateMB > 1024 {
		return bad("store.preallocate_mb", "%d is not between 0 and 1024", c.Store.PreallocateMB)
	}
	if c.Runtime.GCPercent != 0 && (c.Runtime.GCPercent < 25 || c.Runtime.GCPercent > 1000) {
		return bad("runtime.gc_percent", "%d is not 0 or between 25 and 1000", c.Runtime.GCPercent)
	}
	if c.Runtime.HeapHugePagesMB < 0 || c.Runtime.HeapHugePagesMB > 65536 {
		return bad("runtime.heap_huge_pages_mb", "%d is not between 0 and 65536", c.Runtime.HeapHugePagesMB)
	}
	for key, d := range map[string]time.Duration{
		"core.default_validity": c.Core.DefaultValidity.Duration, "core.max_validity": c.Core.MaxValidity.Duration,
		"core.imsi_cache_ttl": c.Core.IMSICacheTTL.Duration, "core.retry_min": c.Core.RetryMin.Duration,
		"core.retry_max": c.Core.RetryMax.Duration, "core.call_timeout": c.Core.CallTimeout.Duration,
		"core.dedup_window": c.Core.DedupWindow.Duration,
	} {
		if d <= 0 {
			return bad(key, "must be positive")
		}
	}
	if c.Core.DefaultValidity.Duration > c.Core.MaxValidity.Duration {
		return bad("core.default_validity", "exceeds core.max_validity")
	}
	if c.Core.RetryMin.Duration > c.Core.RetryMax.Duration {
		return bad("core.retry_min", "exceeds core.retry_max")
	}
	if c.Core.PeerWindow < 1 || c.Core.PeerWindow > 10000 {
		return bad("core.peer_window", "%d is not between 1 and 10000", c.Core.PeerWindow)
	}
	if c.Core.TransferWindow < 1 || c.Core.TransferWindow > 10000 {
		return bad("core.transfer_window", "%d is not between 1 and 10000", c.Core.TransferWindow)
	}
	if _, err := OctetSet(c.Core.PIDAllowed); err != nil {
		return bad("core.pid_allowed", "%v", err)
	}
	if _, err := OctetSet(c.Core.DCSAllowed); err != nil {
		return bad("core.dcs_allowed", "%v", err)
	}
	for _, cl := range c.Core.FilterClasses {
		switch cl {
		case "local", "gsm", "upstream", "downstream", "chat":
		default:
			return bad("core.filter_classes", "%q is not a class", cl)
		}
	}
	if m, err := strconv.ParseUint(c.Core.SocketMode, 8, 32); err != nil || m > 0o777 {
		return bad("core.socket_mode", "%q is not an octal mode", c.Core.SocketMode)
	}
	if err := c.validateSMPP(bad); err != nil {
		return err
	}
	if err := c.validateChat(bad); err != nil {
		return err
	}
	if err := c.validateUDPChat(bad); err != nil {
		return err
	}
	if err := c.validateVoice(bad); err != nil {
		return err
	}
	if err := c.validatePager(bad); err != nil {
		return err
	}
	if c.Shutdown.DrainTimeout.Duration <= 0 {
		return bad("shutdown.drain_timeout", "must be positive")
	}
	return nil
}

func (c *Config) validateSMPP(bad func(key, format string, args ...any) error) error {
	sm := &c.SMPP
	if sm.Listen != "" {
		if err := checkListen(sm.Listen); err != nil {
			return bad("smpp.listen", "%v", err)
		}
	}
	if sm.TLSListen != "" {
		if err := checkListen(sm.TLSListen); err != nil {
			return bad("smpp.tls_listen", "%v", err)
		}
		if sm.TLSCert == "" || sm.TLSKey == "" {
			return bad("smpp.tls_listen", "needs smpp.tls_cert and smpp.tls_key")
		}
	}
	if sm.SystemID == "" || len(sm.SystemID) > 15 {
		return bad("smpp.system_id", "must be 1 to 15 characters")
	}
	if sm.MaxPDU < 512 || sm.MaxPDU > 1<<20 {
		return bad("smpp.max_pdu", "%d is not between 512 and 1048576", sm.MaxPDU)
	}
	if sm.Window < 1 || sm.Window > 10000 {
		return bad("smpp.window", "%d is not between 1 and 10000", sm.Window)
	}
	if sm.MaxSessions < 1 {
		return bad("smpp.max_sessions", "must be positive")
	}
	if sm.MaxInFlight < 1 || sm.MaxInFlight > 100000 {
		return bad("smpp.max_in_flight", "%d is not between 1 and 100000", sm.MaxInFlight)
	}
	if sm.MaxUnboundPerIP < 1 {
		return bad("smpp.max_unbound_per_ip", "must be positive")
	}
	if sm.MaxParts < 1 || sm.MaxParts > 255 {
		return bad("smpp.max_parts", "%d is not between 1 and 255", sm.MaxParts)
	}
	up := &c.Uplink
	for key, d := range map[string]time.Duration{
		"smpp.enquire_link": sm.EnquireLink.Duration, "smpp.inactivity": sm.Inactivity.Duration,
		"smpp.response_timeout": sm.ResponseTimeout.Duration, "smpp.bind_timeout": sm.BindTimeout.Duration,
		"uplink.enquire_link": up.EnquireLink.Duration, "uplink.response_timeout": up.ResponseTimeout.Duration,
		"uplink.reconnect_min": up.ReconnectMin.Duration, "uplink.reconnect_max": up.ReconnectMax.Duration,
	} {
		if d <= 0 {
			return bad(key, "must be positive")
		}
	}
	if sm.Inactivity.Duration <= sm.EnquireLink.Duration {
		return bad("smpp.inactivity", "must be longer than smpp.enquire_link")
	}
	if up.ReconnectMin.Duration > up.ReconnectMax.Duration {
		return bad("uplink.reconnect_min", "exceeds uplink.reconnect_max")
	}
	if !up.Enabled() {
		return nil
	}
	if up.Port < 1 || up.Port > 65535 {
		return bad("uplink.port", "%d is not a port", up.Port)
	}
	if up.SystemID == "" || len(up.SystemID) > 15 {
		return bad("uplink.system_id", "must be 1 to 15 characters when uplink.host is set")
	}
	if len(up.Password) > 8 {
		// SMPP 3.4 §5.2.2: password is a C-Octet String of at most 9
		// octets with its NUL.
		return bad("uplink.password", "is longer than SMPP's 8 characters")
	}
	if len(up.SystemType) > 12 {
		return bad("uplink.system_type", "is longer than SMPP's 12 characters")
	}
	if up.Window < 1 || up.Window > 10000 {
		return bad("uplink.window", "%d is not between 1 and 10000", up.Window)
	}
	return nil
}

// checkListen accepts host:port with a numeric port; an empty host means
// every interface, which is allowed but never the default.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

func (c *Config) validateChat(bad func(key, format string, args ...any) error) error {
	if c.Chat.DedupWindow.Duration <= 0 {
		return bad("chat.dedup_window", "must be positive")
	}
	if c.Chat.HistoryCache < 0 {
		return bad("chat.history_cache", "must not be negative (0 turns the cache off)")
	}
	if c.Chat.MaxGroups < 1 || c.Chat.MaxGroups > 1000000 {
		return bad("chat.max_groups", "%d is not between 1 and 1000000", c.Chat.MaxGroups)
	}
	if c.Chat.SMSMaxParts < 1 || c.Chat.SMSMaxParts > 255 {
		return bad("chat.sms_max_parts", "%d is not between 1 and 255", c.Chat.SMSMaxParts)
	}
	p := &c.CPT
	if p.Listen != "" {
		if err := checkListen(p.Listen); err != nil {
			return bad("cpt.listen", "%v", err)
		}
	}
	if p.TLSListen != "" {
		if err := checkListen(p.TLSListen); err != nil {
			return bad("cpt.tls_listen", "%v", err)
		}
		if p.TLSCert == "" || p.TLSKey == "" {
			return bad("cpt.tls_listen", "needs cpt.tls_cert and cpt.tls_key")
		}
	}
	// A line must hold at least CONNECT with a full-length name and
	// password; the store takes at most 255 segments of text.
	if p.MaxLine < 128 || p.MaxLine > 32768 {
		return bad("cpt.max_line", "%d is not between 128 and 32768", p.MaxLine)
	}
	if p.SendQueue < 4096 || p.SendQueue > 1<<30 {
		return bad("cpt.send_queue", "%d is not between 4096 and 1073741824", p.SendQueue)
	}
	if p.Pipeline < 1 || p.Pipeline > 100000 {
		return bad("cpt.pipeline", "%d is not between 1 and 100000", p.Pipeline)
	}
	if p.Rate <= 0 {
		return bad("cpt.rate", "must be positive")
	}
	if p.Burst < 1 {
		return bad("cpt.burst", "must be positive")
	}
	if p.ConnectTimeout.Duration <= 0 {
		return bad("cpt.connect_timeout", "must be positive")
	}
	if p.WriteTimeout.Duration <= 0 {
		return bad("cpt.write_timeout", "must be positive")
	}
	if p.MaxConnections < 1 {
		return bad("cpt.max_connections", "must be positive")
	}
	return nil
}
