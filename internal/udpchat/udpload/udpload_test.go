package udpload_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/servertest"
	"switchboard/internal/udpchat/udpload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T) string {
	t.Helper()
	c := servertest.Config(t)
	c.UDPChat.Rate = 1e6
	c.UDPChat.Burst = 1e5
	// Every client registers from 127.0.0.1.
	c.UDPChat.MaxPerIP = 1e5
	c.UDPChat.ErrorRate = 1e6
	c.UDPChat.ErrorBurst = 1e5
	s, _ := servertest.Start(t, c)
	return s.UDPChatAddr().String()
}

// Both modes run and their figures add up: every broadcast stored reaches
// every other client, every private message one.
func TestRun(t *testing.T) {
	addr := startServer(t)
	for _, mode := range []string{udpload.Broadcast, udpload.Private} {
		res, err := udpload.Run(context.Background(), udpload.Config{
			Addr: addr, Mode: mode, Clients: 20, Window: 4, Duration: 1500 * time.Millisecond, Warmup: 300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(res)
		if res.Answers == 0 || res.Errors != 0 {
			t.Fatalf("%s: %d answers, %d errors", mode, res.Answers, res.Errors)
		}
		per := float64(res.Deliveries) / float64(res.Answers)
		want := 1.0
		if mode == udpload.Broadcast {
			want = 19
		}
		// The window's edges cut a few messages either way.
		if per < want*0.7 || per > want*1.3 {
			t.Fatalf("%s: %.1f deliveries per answered request, want about %.0f", mode, per, want)
		}
	}
}
