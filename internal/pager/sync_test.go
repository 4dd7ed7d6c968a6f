package pager

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"testing"
	"time"
)

// lossyProxy relays UDP between one station and the server, dropping a
// share of the datagrams each way (seeded, so a failure can be rerun).
type lossyProxy struct {
	front, back *net.UDPConn
	wg          sync.WaitGroup
	mu          sync.Mutex
	rng         *rand.Rand
	loss        float64
	station     *net.UDPAddr
}

func newLossyProxy(t *testing.T, server string, loss float64, seed uint64) *lossyProxy {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{front: front, back: back, rng: rand.New(rand.NewPCG(seed, 1)), loss: loss}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, addr, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.station = addr
			drop := p.rng.Float64() < p.loss
			p.mu.Unlock()
			if !drop {
				back.Write(buf[:n])
			}
		}
	}()
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := back.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && !ne.Timeout() && !isClosed(err) {
					continue // ICMP refusals while the server is not there
				}
				return
			}
			p.mu.Lock()
			to := p.station
			drop := p.rng.Float64() < p.loss
			p.mu.Unlock()
			if !drop && to != nil {
				front.WriteToUDP(buf[:n], to)
			}
		}
	}()
	t.Cleanup(func() {
		front.Close()
		back.Close()
		p.wg.Wait()
	})
	return p
}

func isClosed(err error) bool { return err != nil && (errorsIsClosed(err)) }

func errorsIsClosed(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && ne.Err != nil && ne.Err.Error() == "use of closed network connection"
}

// view is a station's picture of the waitlist, built from its own
// requests and the pushes it gets.
type view struct {
	mu sync.Mutex
	m  map[uint64]bool
}

func (v *view) apply(p Packet) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case p.Options&OptAdd != 0:
		v.m[p.Number] = true
	case p.Options&OptRemove != 0:
		delete(v.m, p.Number)
	}
}

func (v *view) sorted() []uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []uint64
	for n := range v.m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestStationsSyncUnderLoss(t *testing.T) {
	ts := startServer(t, Config{Retransmit: 10 * time.Millisecond, RetransmitMax: 100 * time.Millisecond}, nil)
	admin := ts.dial(t, 0, nil)
	const stations = 3
	views := make([]*view, stations)
	clients := make([]*Client, stations)
	for i := range stations {
		id := uint32(i + 1)
		if err := admin.AddClient(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		px := newLossyProxy(t, ts.addr, 0.3, uint64(i))
		v := &view{m: map[uint64]bool{}}
		views[i] = v
		c, err := Dial(ClientConfig{Server: px.front.LocalAddr().String(), Secret: testSecret, ID: id,
			OnPush: v.apply, Retransmit: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
		if err := c.Hello(ctx(t)); err != nil {
			t.Fatalf("station %d hello: %v", id, err)
		}
	}
	long, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, stations)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 12 {
				n := uint64(16195550000 + i*100 + j)
				p := Packet{Options: OptAdd, Number: n}
				if j%4 == 3 {
					// Remove an earlier one of our own.
					p = Packet{Options: OptRemove, Number: n - 2}
				}
				if _, err := c.Do(long, &p); err != nil {
					errs <- fmt.Errorf("station %d op %d: %w", i+1, j, err)
					return
				}
				views[i].apply(p)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range ts.s.Waitlist() {
		want = append(want, e.Number)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if len(want) != stations*6 {
		t.Fatalf("server holds %d numbers, want %d", len(want), stations*6)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, v := range views {
		for fmt.Sprint(v.sorted()) != fmt.Sprint(want) {
			if time.Now().After(deadline) {
				t.Fatalf("station %d sees %d numbers, server %d", i+1, len(v.sorted()), len(want))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Every push was acknowledged in the end: nothing is left pending.
	for time.Now().Before(deadline) {
		ts.s.mu.Lock()
		left := 0
		for _, st := range ts.s.stations {
			left += len(st.pending)
		}
		ts.s.mu.Unlock()
		if left == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("pushes still unacknowledged")
}
