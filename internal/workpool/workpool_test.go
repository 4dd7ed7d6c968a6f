package workpool

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReuseAndClose runs jobs one after another and many at once, then
// checks that Close waits for the jobs running and refuses later ones.
func TestReuseAndClose(t *testing.T) {
	p := New()
	var ran atomic.Int64
	for range 100 {
		done := make(chan struct{})
		if !p.Go(func() { ran.Add(1); close(done) }) {
			t.Fatal("Go refused before Close")
		}
		<-done
	}
	var wg, started sync.WaitGroup
	release := make(chan struct{})
	for range 50 {
		wg.Add(1)
		started.Add(1)
		p.Go(func() { defer wg.Done(); started.Done(); <-release; ran.Add(1) })
	}
	// All 50 are running (blocked on release) before Close is called.
	started.Wait()
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while jobs were running")
	default:
	}
	close(release)
	<-closed
	// Close returned: every job handed out must have run by now.
	if got := ran.Load(); got != 150 {
		t.Fatalf("%d jobs ran when Close returned, want 150", got)
	}
	wg.Wait()
	if p.Go(func() { t.Error("job after Close ran") }) {
		t.Fatal("Go accepted a job after Close")
	}
}
