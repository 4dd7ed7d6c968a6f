package pager_test

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/interop"
	"switchboard/internal/pager"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
)

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
	c := servertest.Config(t)
	c.Pager.SIPProxy = sipp.Addr
	c.Pager.SIPFrom = "pager"
	s, _ := servertest.Start(t, c)
	secret, err := server.ReadPagerSecret(filepath.Join(c.DataDir, server.PagerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := pager.Dial(pager.ClientConfig{Server: s.PagerAddr().String(), Secret: secret, Retransmit: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
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
