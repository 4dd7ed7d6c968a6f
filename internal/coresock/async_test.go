package coresock

import (
	"context"
	"errors"
	"sync"
	"testing"

	"switchboard/internal/pms"
)

// TestGoMatchedAndChained: Go calls get their own answers, exactly once,
// and a callback may make the next call (the reader's slot is free by
// then), which is how a load generator keeps a window full.
func TestGoMatchedAndChained(t *testing.T) {
	core := &coreHandler{}
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{}, func(*Peer) Handler { return core })
	cl := dial(t, path, &Config{MaxInFlight: 8})
	const chains, perChain = 8, 500
	var (
		mu   sync.Mutex
		seen = map[uint64]int{}
		bad  []string
		wg   sync.WaitGroup
	)
	var next func(g uint8, i int)
	next = func(g uint8, i int) {
		err := cl.Go(context.Background(), submitFor(t, g, uint16(i)), func(resp Body, st Status, err error) {
			r, ok := resp.(*SubmitResp)
			mu.Lock()
			if err != nil || st != StatusOK || !ok || r.Index != uint64(g)<<32|uint64(i) {
				bad = append(bad, "wrong answer")
			} else {
				seen[r.Index]++
			}
			mu.Unlock()
			if i+1 < perChain {
				next(g, i+1)
				return
			}
			wg.Done()
		})
		if err != nil {
			mu.Lock()
			bad = append(bad, err.Error())
			mu.Unlock()
			wg.Done()
		}
	}
	wg.Add(chains)
	for g := range chains {
		next(uint8(g), 0)
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad outcomes, first %q", len(bad), bad[0])
	}
	if len(seen) != chains*perChain {
		t.Fatalf("%d distinct answers, want %d", len(seen), chains*perChain)
	}
	for idx, n := range seen {
		if n != 1 {
			t.Fatalf("answer %x seen %d times", idx, n)
		}
	}
}

// TestGoSettledOnCloseAndSlotsFreed: Go calls outstanding at close get
// ErrClosed once; their slots are given back; Go on a closed peer fails
// without a callback, and a slot wait ends with its context.
func TestGoSettledOnCloseAndSlotsFreed(t *testing.T) {
	rec := &closeRecorder{closed: make(chan error, 1)}
	_, path := testServer(t, Config{}, func(*Peer) Handler { return rec })
	cl := dial(t, path, &Config{MaxInFlight: 2})
	errc := make(chan error, 4)
	cb := func(_ Body, _ Status, err error) { errc <- err }
	for range 2 {
		if err := cl.Go(context.Background(), &MTDischarge{Index: 1, Disposition: pms.Delivered}, cb); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cl.Go(ctx, &Ping{}, cb); !errors.Is(err, context.Canceled) {
		t.Fatalf("Go with every slot taken and a done context: %v", err)
	}
	cl.Close()
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("outstanding Go call ended with %v", err)
		}
	}
	if n := len(cl.slots); n != 0 {
		t.Fatalf("%d slots still held after close", n)
	}
	if err := cl.Go(context.Background(), &Ping{}, cb); !errors.Is(err, ErrClosed) {
		t.Fatalf("Go after close: %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("callback of a refused Go: %v", err)
	default:
	}
}
