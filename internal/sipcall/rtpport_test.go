package sipcall

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// freeEvenPort finds an even UDP port on 127.0.0.1 that is free now.
func freeEvenPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 == 1 {
			p--
		}
		if c2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); err == nil {
			c2.Close()
			return p
		}
	}
	t.Fatal("no free even port")
	return 0
}

func TestListenRTPRange(t *testing.T) {
	p := freeEvenPort(t)
	c, err := listenRTP(loopback, p-1, p+1) // one even port in range
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LocalAddr().(*net.UDPAddr).Port; got != p {
		t.Errorf("bound %d, want %d", got, p)
	}
	// The range is now full.
	if _, err := listenRTP(loopback, p, p); err == nil || !strings.Contains(err.Error(), "no free even port") {
		t.Errorf("full range: %v", err)
	}
	c.Close()
	any, err := listenRTP(loopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	any.Close()
}

func TestConfigRTPPorts(t *testing.T) {
	for _, tc := range []struct {
		min, max int
		ok       bool
	}{{0, 0, true}, {10000, 20000, true}, {10001, 10001, false}, {10000, 10000, true}, {0, 100, false}, {200, 100, false}, {60000, 70000, false}} {
		_, err := Config{Proxy: "127.0.0.1:5060", From: "pager", RTPPortMin: tc.min, RTPPortMax: tc.max}.validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("RTP ports %d-%d: %v", tc.min, tc.max, err)
		}
	}
}
