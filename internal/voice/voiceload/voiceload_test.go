package voiceload

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/voice"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun drives a real hub and control server: every packet sent reaches
// the other members, and the run cleans up its channels and users; with
// GSO at the relay and GRO at the members too.
func TestRun(t *testing.T) {
	for _, gro := range []bool{false, true} {
		t.Run(fmt.Sprintf("gro=%v", gro), func(t *testing.T) { testRun(t, gro) })
	}
}

func testRun(t *testing.T, gro bool) {
	const admin = 77
	hub, err := voice.NewHub(voice.Config{
		RelayHost: "127.0.0.1", MaxChannels: 10, MaxMembers: 10, MaxUsers: 100,
		KeepaliveTimeout: time.Minute, Batch: 64, GSO: gro,
		Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)),
	}, map[uint64]voice.Perm{admin: voice.PermAdmin})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ctl := voice.NewControl(voice.ControlConfig{IdleTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, MaxConns: 10}, hub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Serve(ln) }()
	defer func() {
		ctl.Shutdown(context.Background())
		<-done
	}()
	res, err := Run(context.Background(), Config{Control: ln.Addr().String(), AdminUID: admin,
		Channels: 2, Members: 3, Rate: 50, Duration: 1500 * time.Millisecond, Warmup: 500 * time.Millisecond, GRO: gro})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 50 || res.Received < res.Expected*9/10 || res.P50 <= 0 {
		t.Fatalf("result %s", res)
	}
	if n := len(hub.Channels()); n != 0 {
		t.Fatalf("%d channels left behind", n)
	}
}
