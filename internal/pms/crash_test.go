package pms

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// childEnv makes the test binary act as the crashing appender; depthEnv
// sets its SyncDepth and preallocEnv its Preallocate.
const (
	childEnv    = "SWITCHBOARD_PMS_CRASH_CHILD"
	depthEnv    = "SWITCHBOARD_PMS_CRASH_DEPTH"
	preallocEnv = "SWITCHBOARD_PMS_CRASH_PREALLOCATE"
)

// crashChild appends from many goroutines as fast as it can and prints one
// line per acknowledged record: "index writer seq". The parent kills it with
// SIGKILL mid-stream.
func crashChild(dir string) {
	depth, _ := strconv.Atoi(os.Getenv(depthEnv))
	prealloc, _ := strconv.ParseInt(os.Getenv(preallocEnv), 10, 64)
	s, err := Open(Options{Dir: dir, SyncDepth: depth, Preallocate: prealloc}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				r := crashRecord(w, seq)
				if err := s.Append(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %d %d\n", r.Index, w, seq)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func crashRecord(w, seq int) *Record {
	r := testRecord(seq, Active)
	r.UD = []byte(fmt.Sprintf("writer %d seq %d", w, seq))
	r.UDL = uint8(len(r.UD))
	return r
}

// TestKill9 proves that every acknowledged append survives SIGKILL and that
// the store reopens after it, several times over on one file.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	// Depth 2 has two batches between write and acknowledgement at once,
	// each synced on its own descriptor. A zero tail of 16 KiB (64
	// records) is extended every few group commits, so the kill often
	// lands during an extension, and appends overtake the tail; none
	// appends without a tail, as the store did before it kept one.
	for _, c := range []struct {
		depth    int
		prealloc int64
	}{{1, 0}, {2, 0}, {1, 64 * RecordSize}, {1, -1}} {
		t.Run(fmt.Sprintf("depth=%d/preallocate=%d", c.depth, c.prealloc), func(t *testing.T) { testKill9(t, c.depth, c.prealloc) })
	}
}

func testKill9(t *testing.T, depth int, prealloc int64) {
	dir := t.TempDir()
	total := 0
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, fmt.Sprint(depthEnv, "=", depth), fmt.Sprint(preallocEnv, "=", prealloc))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		type ack struct{ w, seq int }
		acked := map[uint64]ack{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var idx uint64
			var a ack
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &idx, &a.w, &a.seq); err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			acked[idx] = a
			if len(acked) == 2000+round*1500 {
				// Kill while the child is mid-write: it never stops on
				// its own.
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		// Anything still in the pipe was acknowledged too.
		for sc.Scan() {
			var idx uint64
			var a ack
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &idx, &a.w, &a.seq); err == nil {
				acked[idx] = a
			}
		}
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("child acknowledged nothing")
		}

		s, err := Open(Options{Dir: dir, Preallocate: prealloc}, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		for idx, a := range acked {
			var r Record
			if err := s.Read(idx, &r); err != nil {
				t.Fatalf("round %d: acknowledged record %d: %v", round, idx, err)
			}
			if want := crashRecord(a.w, a.seq); string(r.UD) != string(want.UD) {
				t.Fatalf("round %d: record %d holds %q, want %q", round, idx, r.UD, want.UD)
			}
		}
		st := s.Stats()
		s.Close()
		total += len(acked)
		t.Logf("round %d: %d acknowledged, %d records on disk", round, len(acked), st.Next)
		if st.Next < uint64(total) {
			t.Fatalf("fewer records (%d) than acknowledged in all rounds (%d)", st.Next, total)
		}
	}
}
