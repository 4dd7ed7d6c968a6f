package pager_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/interop"
	"switchboard/internal/pager"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
)

// startCallingServer starts the server with its pager calling through
// proxy, mod applied to its config, and returns a host tool's client.
func startCallingServer(t *testing.T, proxy string, mod func(*config.Config)) *pager.Client {
	t.Helper()
	c := servertest.Config(t)
	c.Pager.SIPProxy = proxy
	c.Pager.SIPFrom = "pager"
	if mod != nil {
		mod(c)
	}
	s, _ := servertest.Start(t, c)
	secret, err := server.ReadPagerSecret(filepath.Join(c.DataDir, server.PagerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := pager.Dial(pager.ClientConfig{Server: s.PagerAddr().String(), Secret: secret, Retransmit: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// The call option through the server as it runs: pager.sip_proxy set,
// the pager's call request rings SIPp (the far end, answering), the
// announcement flows as RTP, and the station gets its ACK once the call
// has ended.
func TestPagerCallThroughSIPp(t *testing.T) {
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	var packets atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := rtp.Read(buf); err != nil {
				return
			}
			packets.Add(1)
		}
	}()
	sipp := interop.StartSIPp(t, interop.SIPpConfig{
		Scenario: "../sipcall/testdata/sipp/answer.xml",
		Keys: map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": strconv.Itoa(rtp.LocalAddr().(*net.UDPAddr).Port),
			"pt": "0", "enc": "PCMU"},
	})
	cl := startCallingServer(t, sipp.Addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Call(ctx, 16195550123); err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := sipp.Wait(ctx); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	if n := packets.Load(); n < 50 {
		t.Fatalf("%d RTP packets reached the far end, want the announcement (over 50)", n)
	}
}

// A call nobody answers rings for call_timeout, is cancelled by sipcall
// (SIPp requires the CANCEL and the ACK of its 487) and reaches the
// station as "no answer": the pager's own deadline on the call comes
// later, so it does not cut the ringing short and report it cancelled.
func TestPagerCallNoAnswerThroughSIPp(t *testing.T) {
	sipp := interop.StartSIPp(t, interop.SIPpConfig{Scenario: "../sipcall/testdata/sipp/ring.xml"})
	const ring = time.Second
	cl := startCallingServer(t, sipp.Addr, func(c *config.Config) { c.Pager.CallTimeout.Duration = ring })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err := cl.Call(ctx, 16195550123)
	var ne *pager.NackError
	if !errors.As(err, &ne) || ne.Status != pager.StatusCallFailed || !strings.Contains(ne.Reason, "no answer") {
		t.Fatalf("call: %v, want a call_failed NACK saying no answer", err)
	}
	if e := time.Since(start); e < ring {
		t.Fatalf("answered after %v, before the ring timeout %v", e, ring)
	}
	if err := sipp.Wait(ctx); err != nil {
		t.Fatalf("sipp: %v", err)
	}
}
