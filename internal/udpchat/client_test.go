package udpchat_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"switchboard/internal/udpchat"
)

// A long user list comes in several 43 packets; List must gather every
// one, including those that arrive right behind the first. A fake server
// sends them back to back, so that they reach the client while List is
// still taking the first: every name must come back, and no 43 packet
// may leak to Events.
func TestListGathersBackToBackPackets(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Fewer packets than the client's answer queue holds, so that none is
	// dropped however slowly List reads them.
	const parts = 40
	var want []string
	for i := range parts {
		want = append(want, fmt.Sprintf("user%02d", i))
	}
	served := make(chan error, 1)
	go func() {
		buf := make([]byte, udpchat.MaxPacket+1)
		n, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			served <- err
			return
		}
		if p, err := udpchat.Decode(buf[:n]); err != nil || p.Op != udpchat.OpList {
			served <- fmt.Errorf("fake server got %x, want a list request", buf[:n])
			return
		}
		for _, name := range want {
			if _, err := srv.WriteToUDP(udpchat.AppendLists(nil, []string{name}, 1472)[0], from); err != nil {
				served <- err
				return
			}
		}
		served <- nil
	}()

	// Tries 1: a resent request would get a second list from a real
	// server, and the fake answers only one.
	c, err := udpchat.Dial(srv.LocalAddr().String(), udpchat.ClientConfig{Retry: 5 * time.Second, Tries: 1, ListQuiet: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List = %v (%d names), want all %d", got, len(got), len(want))
	}
	select {
	case p := <-c.Events():
		t.Fatalf("a list packet went to Events: op %d %q", p.Op, p.Data)
	default:
	}
}
