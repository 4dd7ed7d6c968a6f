package sipcall

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigDefaults(t *testing.T) {
	s, err := Config{Proxy: "trunk.example:5060", From: "pager"}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if s.LocalIP != DefaultLocalIP || s.RingTimeout != DefaultRingTimeout || s.MaxDuration != DefaultMaxDuration ||
		s.MaxCalls != DefaultMaxCalls || s.HangupTimeout != DefaultHangupTimeout || s.Logger == nil {
		t.Fatalf("defaults not applied: %+v", s.Config)
	}
	if s.FromDomain != "trunk.example" || s.proxyHost != "trunk.example" || s.proxyPort != 5060 {
		t.Fatalf("proxy parts: %q %q %d", s.FromDomain, s.proxyHost, s.proxyPort)
	}
	if len(s.samples) != len(defaultAnnouncement()) {
		t.Fatal("nil Announcement did not select the built-in chime")
	}
}

func TestConfigRejects(t *testing.T) {
	ok := Config{Proxy: "127.0.0.1:5060", From: "pager"}
	for _, tc := range []struct {
		field string
		mod   func(*Config)
	}{
		{"Proxy", func(c *Config) { c.Proxy = "" }},
		{"Proxy", func(c *Config) { c.Proxy = "trunk.example" }},
		{"Proxy", func(c *Config) { c.Proxy = "trunk.example:0" }},
		{"Proxy", func(c *Config) { c.Proxy = ":5060" }},
		{"From", func(c *Config) { c.From = "" }},
		{"From", func(c *Config) { c.From = "pa ger" }},
		{"From", func(c *Config) { c.From = "a@b" }},
		{"LocalIP", func(c *Config) { c.LocalIP = "localhost" }},
		{"LocalIP", func(c *Config) { c.LocalIP = "0.0.0.0" }},
		{"LocalIP", func(c *Config) { c.LocalIP = "224.0.0.1" }},
		{"SIPPort", func(c *Config) { c.SIPPort = 70000 }},
		{"Announcement", func(c *Config) { c.Announcement = []byte("RIFF") }},
		{"Announcement", func(c *Config) { c.Announcement = []byte{} }},
		{"RingTimeout", func(c *Config) { c.RingTimeout = -time.Second }},
		{"MaxDuration", func(c *Config) { c.MaxDuration = time.Millisecond }},
		{"MaxCalls", func(c *Config) { c.MaxCalls = -1 }},
		{"HangupTimeout", func(c *Config) { c.HangupTimeout = -1 }},
		{"AuthPassword", func(c *Config) { c.AuthPassword = "secret" }},
	} {
		c := ok
		tc.mod(&c)
		d, err := New(c)
		if err == nil {
			d.Close()
			t.Errorf("%s: %+v accepted", tc.field, c)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err %v, want ErrInvalidConfig naming the field", tc.field, err)
		}
	}
}

// Metrics go to the Registerer; a second dialer on the same one is refused
// rather than silently uncounted.
func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := newDialer(t, "127.0.0.1:9", func(c *Config) { c.Registerer = reg })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"switchboard_sipcall_calls_total", "switchboard_sipcall_active_calls", "switchboard_sipcall_rtp_packets_sent_total"} {
		if !names[n] {
			t.Errorf("%s not registered; have %v", n, names)
		}
	}
	if _, err := New(Config{Proxy: "127.0.0.1:9", From: "pager", Registerer: reg}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("second dialer on one registry: %v, want ErrInvalidConfig", err)
	}
	_ = d
}

// New encodes only what MaxDuration lets a call play (and the tail), and
// keeps neither the WAV nor its decoded samples.
func TestNewEncodesOnlyMaxDuration(t *testing.T) {
	wav, _ := toneWAV(10 * sampleRate)
	d := newDialer(t, "127.0.0.1:9", func(c *Config) {
		c.Announcement = wav
		c.MaxDuration = 300 * time.Millisecond
	})
	if got, want := d.audio.frames(), 15+tailFrames; got != want {
		t.Errorf("%d frames encoded, want %d", got, want)
	}
	if d.cfg.Announcement != nil || d.cfg.samples != nil {
		t.Error("the dialer kept the announcement WAV or its samples")
	}
}

// CallLimit adds up the bounds of a call's phases.
func TestCallLimit(t *testing.T) {
	d := newDialer(t, "127.0.0.1:9", func(c *Config) {
		c.RingTimeout, c.MaxDuration, c.HangupTimeout = 7*time.Second, time.Minute, 2*time.Second
	})
	if got, want := d.CallLimit(), 69*time.Second; got != want {
		t.Errorf("CallLimit %v, want %v", got, want)
	}
}
