package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValidAndOnLoopback(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./data" {
		t.Errorf("data_dir = %q", c.DataDir)
	}
	if !strings.HasPrefix(c.Admin.Listen, "127.0.0.1:") {
		t.Errorf("admin.listen = %q, want loopback", c.Admin.Listen)
	}
	if c.Shutdown.DrainTimeout.Duration != 10*time.Second {
		t.Errorf("drain_timeout = %v", c.Shutdown.DrainTimeout)
	}
}

func TestOverlayKeepsUnsetKeys(t *testing.T) {
	c, err := Load(writeConfig(t, "[admin]\nlisten = \"127.0.0.1:1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "127.0.0.1:1" || c.Log.Format != "text" || c.Store.MaxBatch != 4096 || c.Store.PreallocateMB != 8 {
		t.Errorf("got %+v", c)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct{ text, key string }{
		{"[admin]\nlisten = \"nope\"\n", "admin.listen"},
		{"[admin]\nlisten_addr = \"127.0.0.1:1\"\n", "admin.listen_addr"},
		{"bogus = 1\n", "bogus"},
		{"[log]\nformat = \"xml\"\n", "log.format"},
		{"[log]\nlevel = \"loud\"\n", "log.level"},
		{"[store]\nmax_batch = 0\n", "store.max_batch"},
		{"[store]\npreallocate_mb = -1\n", "store.preallocate_mb"},
		{"[store]\npreallocate_mb = 2048\n", "store.preallocate_mb"},
		{"[cpt]\nwrite_timeout = \"0s\"\n", "cpt.write_timeout"},
		{"[chat]\nmax_groups = 0\n", "chat.max_groups"},
		{"[runtime]\ngc_percent = 10\n", "runtime.gc_percent"},
		{"[runtime]\ngc_percent = 5000\n", "runtime.gc_percent"},
		{"[runtime]\nheap_huge_pages_mb = -1\n", "runtime.heap_huge_pages_mb"},
		{"[runtime]\nheap_huge_pages_mb = 65537\n", "runtime.heap_huge_pages_mb"},
		{"[store]\nmax_batch = \"many\"\n", "store.max_batch"},
		{"[shutdown]\ndrain_timeout = \"soon\"\n", "shutdown.drain_timeout"},
		{"[shutdown]\ndrain_timeout = \"-1s\"\n", "shutdown.drain_timeout"},
		{"data_dir = \"\"\n", "data_dir"},
		{"[core]\npid_allowed = [\"0x20-0x10\"]\n", "core.pid_allowed"},
		{"[core]\ndcs_allowed = [\"eight\"]\n", "core.dcs_allowed"},
		{"[core]\nfilter_classes = [\"martian\"]\n", "core.filter_classes"},
		{"[core]\npeer_window = 0\n", "core.peer_window"},
		{"[core]\ndefault_validity = \"200h\"\n", "core.default_validity"},
		{"[core]\nsocket_mode = \"rw\"\n", "core.socket_mode"},
		{"[smpp]\nlisten = \"2775\"\n", "smpp.listen"},
		{"[smpp]\ntls_listen = \"127.0.0.1:3550\"\n", "smpp.tls_listen"},
		{"[smpp]\nmax_pdu = 10\n", "smpp.max_pdu"},
		{"[smpp]\nwindow = 0\n", "smpp.window"},
		{"[smpp]\ninactivity = \"10s\"\n", "smpp.inactivity"},
		{"[smpp]\nsystem_id = \"a-very-long-system-id\"\n", "smpp.system_id"},
		{"[uplink]\nhost = \"smsc.example\"\nport = 0\nsystem_id = \"sb\"\n", "uplink.port"},
		{"[uplink]\nhost = \"smsc.example\"\n", "uplink.system_id"},
		{"[uplink]\nhost = \"smsc.example\"\nsystem_id = \"sb\"\npassword = \"longer-than-8\"\n", "uplink.password"},
		{"[uplink]\nreconnect_min = \"2m\"\n", "uplink.reconnect_min"},
		{"[uplink]\nwindow = 0\nhost = \"smsc.example\"\nsystem_id = \"sb\"\n", "uplink.window"},
	}
	for _, tc := range cases {
		p := writeConfig(t, tc.text)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%q: no error", tc.text)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: error %v does not wrap ErrInvalid", tc.text, err)
		}
		if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %q does not name key %s and file %s", tc.text, err, tc.key, p)
		}
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "absent.toml")); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func TestOctetSet(t *testing.T) {
	set, err := OctetSet([]string{"0x00-0x1F", "0x7f", "64"})
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[int]bool{0: true, 0x1F: true, 0x20: false, 0x7F: true, 64: true, 0xFF: false} {
		if set[v] != want {
			t.Errorf("octet %#x: %v", v, set[v])
		}
	}
}
