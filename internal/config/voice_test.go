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
		{"[voice]\nopen_register_share = 0.0\n", "voice.open_register_share"},
		{"[voice]\nopen_register_share = 1.5\n", "voice.open_register_share"},
		{"[voice]\nopen_register_burst = -1\n", "voice.open_register_burst"},
		{"[voice]\nopen_register_rate = 0.0\n", "voice.open_register_rate"},
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

// GSO is on by default and can be turned off; a value that is not a
// boolean is refused.
func TestVoiceGSO(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Voice.GSO {
		t.Fatal("voice.gso is off by default")
	}
	c, err = Load(writeConfig(t, "[voice]\ngso = false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Voice.GSO {
		t.Fatal("voice.gso = false left it on")
	}
	if _, err := Load(writeConfig(t, "[voice]\ngso = \"off\"\n")); err == nil || !strings.Contains(err.Error(), "gso") {
		t.Fatalf("gso = \"off\": %v, want an error naming gso", err)
	}
}

// Open registration is bounded by default; the share of max_users it may
// fill follows max_users.
func TestVoiceOpenRegister(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	v := c.Voice
	if v.OpenRegisterShare != 0.9 || v.OpenRegisterBurst != 100 || v.OpenRegisterRate != 1 || v.OpenMaxUsers() != 90000 {
		t.Fatalf("open registration defaults: share %v burst %d rate %v max %d",
			v.OpenRegisterShare, v.OpenRegisterBurst, v.OpenRegisterRate, v.OpenMaxUsers())
	}
	c, err = Load(writeConfig(t, "[voice]\nmax_users = 10\nopen_register_share = 0.05\nopen_register_burst = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Voice.OpenMaxUsers(); got != 1 {
		t.Fatalf("5%% of 10 users: OpenMaxUsers %d, want at least 1", got)
	}
	if c.Voice.OpenRegisterBurst != 0 {
		t.Fatal("open_register_burst = 0 not kept")
	}
}
