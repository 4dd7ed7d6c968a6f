package config

import (
	"errors"
	"strings"
	"testing"
)

func TestVoiceDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	v := c.Voice
	if v.Listen != "127.0.0.1:39170" || v.RelayHost != "127.0.0.1" || v.KeepaliveTimeout.Seconds() != 60 || v.Echo {
		t.Fatalf("voice defaults %+v", v)
	}
	if lo, hi, ok := v.PortRange(); !ok || lo != 0 || hi != 0 {
		t.Fatalf("default port range %d-%d %v", lo, hi, ok)
	}
}

func TestVoiceValidationNamesKey(t *testing.T) {
	for _, c := range []struct{ text, key string }{
		{"[voice]\nlisten = \"nope\"\n", "voice.listen"},
		{"[voice]\nrelay_host = \"localhost\"\n", "voice.relay_host"},
		{"[voice]\nrelay_ports = \"5000-4000\"\n", "voice.relay_ports"},
		{"[voice]\nrelay_ports = \"40000\"\n", "voice.relay_ports"},
		{"[voice]\nadmin_uid = 4294967295\n", "voice.admin_uid"},
		{"[voice]\nmax_members = 0\n", "voice.max_members"},
		{"[voice]\nbatch = 0\n", "voice.batch"},
		{"[voice]\nkeepalive_timeout = \"0s\"\n", "voice.keepalive_timeout"},
		{"[voice]\nfail_rate = 0.0\n", "voice.fail_rate"},
	} {
		_, err := Load(writeConfig(t, c.text))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: %v, want an error naming %s", c.text, err, c.key)
		}
	}
	c, err := Load(writeConfig(t, "[voice]\nrelay_ports = \"40000-40099\"\nlisten = \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, ok := c.Voice.PortRange(); !ok || lo != 40000 || hi != 40099 {
		t.Fatalf("range %d-%d", lo, hi)
	}
}
