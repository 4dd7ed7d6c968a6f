package cpt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"switchboard/internal/chat"
	"switchboard/internal/core"
	"switchboard/internal/cpt/cptload"
	"switchboard/internal/pms"
)

// bigEnv turns on TestSync10M, which writes a 2.5 GB store under /tmp
// (removed at the end). SWITCHBOARD_BIG_RECORDS sets another size, for a
// quick check of the test itself.
const bigEnv = "SWITCHBOARD_BIG"

// TestSync10M measures SYNC of the last 100 messages of a group in a store
// of 10 M records (target: under 5 ms), and what the chat history's
// rebuild at startup costs over that store:
//
//   - Rebuild: chat.Service.Rebuild over a pms.Reader, as the server runs
//     it before its listeners open, with the file evicted from the page
//     cache first (cold) and then three times warm, and the heap the index
//     keeps;
//   - History: Session.History of the last 100 messages, the store read
//     through pms.Store.ReadRaw as the server does, warm and cold;
//   - end to end: a server started on the store (its startup timed), and
//     SYNC over TCP until ENDSYNC, warm and cold.
//
// Run it with
//
//	SWITCHBOARD_BIG=1 go test -run TestSync10M -v -timeout 30m ./internal/cpt/
func TestSync10M(t *testing.T) {
	if os.Getenv(bigEnv) != "1" {
		t.Skipf("set %s=1 to write a 2.5 GB store and measure SYNC over it", bigEnv)
	}
	records := 10_000_000
	if s := os.Getenv("SWITCHBOARD_BIG_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100_000 {
			t.Fatalf("SWITCHBOARD_BIG_RECORDS=%q: want a number of at least 100000", s)
		}
		records = n
	}
	dir, err := os.MkdirTemp("/tmp", "switchboard-sync10m-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	t0 := time.Now()
	info, err := cptload.WriteStore(dir, cptload.StoreConfig{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store: %d records (%d SM, %d of them to local numbers; %d chat, %d in group %q), %.2f GB, written in %v",
		info.Records, info.SM, info.LocalSM, info.Chat, len(info.TargetTimes), info.Target,
		float64(info.Records)*pms.RecordSize/1e9, time.Since(t0).Round(time.Millisecond))
	after, want := info.AfterForLast(100)
	if want != 100 {
		t.Fatalf("AfterForLast(100) gives %d messages", want)
	}

	// (a) The rebuild, cold once and warm three times.
	store, err := pms.Open(pms.Options{Dir: dir}, func(*pms.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	be := storeBackend{store}
	var svc *chat.Service
	for run := range 4 {
		cold := run == 0
		if cold {
			evict(t, info.Path)
		}
		svc = nil
		heap0 := liveHeap()
		s := chat.New(chat.Config{}, be, noDirectory{})
		r, err := pms.OpenReader(info.Path)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = s.Rebuild(r)
		took := time.Since(t0)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		heap := liveHeap() - heap0
		runtime.KeepAlive(s)
		t.Logf("Rebuild (%s): %v for %d records, %.1f MiB of heap kept (%.1f bytes per chat message)",
			map[bool]string{true: "cold", false: "warm"}[cold], took.Round(time.Millisecond), info.Records,
			float64(heap)/(1<<20), float64(heap)/float64(info.Chat+info.LocalSM))
		svc = s
	}
	defer svc.Close()

	// An index without the cache of recent messages, to measure SYNC
	// from the store.
	off := chat.New(chat.Config{HistoryCache: -1}, be, noDirectory{})
	if r, err := pms.OpenReader(info.Path); err != nil {
		t.Fatal(err)
	} else if err := off.Rebuild(r); err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}
	defer off.Close()
	offSess, err := off.Login("bench", nopEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		evict(t, info.Path)
		t0 := time.Now()
		n := 0
		if err := offSess.History(info.Target, time.Unix(after, 0), func(*chat.Message) error { n++; return nil }); err != nil || n != want {
			t.Fatalf("uncached History: %d messages, %v", n, err)
		}
		t.Logf("History of the last 100, cold, without the cache (from the store): %v", time.Since(t0).Round(time.Microsecond))
	}
	offSess.Logout()

	// (b) History directly.
	sess, err := svc.Login("bench", nopEndpoint{})
	if err != nil {
		t.Fatal(err)
	}
	history := func() error {
		n := 0
		err := sess.History(info.Target, time.Unix(after, 0), func(*chat.Message) error { n++; return nil })
		if err == nil && n != want {
			err = fmt.Errorf("History returned %d messages, want %d", n, want)
		}
		return err
	}
	for range 3 {
		evict(t, info.Path)
		t0 := time.Now()
		if err := history(); err != nil {
			t.Fatal(err)
		}
		t.Logf("History of the last 100, store file evicted, with the cache: %v", time.Since(t0).Round(time.Microsecond))
	}
	var failed error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := history(); err != nil {
				failed = err
				b.SkipNow()
			}
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("History of the last 100, warm: %s %s (%v per SYNC)", res, res.MemString(), time.Duration(res.NsPerOp()))
	sess.Logout()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// (c) End to end against a server on the store.
	c := testConfig(t)
	c.DataDir = dir
	t0 = time.Now()
	w := startWorld(t, c)
	t.Logf("server startup on the store (open, chat rebuild, listeners): %v", time.Since(t0).Round(time.Millisecond))
	nc, err := net.Dial("tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 64<<10)
	if _, err := fmt.Fprintf(nc, "CONNECT bench\n"); err != nil {
		t.Fatal(err)
	}
	if l, err := br.ReadString('\n'); err != nil || l != "ACCEPT\n" {
		t.Fatalf("CONNECT: %q %v", l, err)
	}
	req := []byte(fmt.Sprintf("SYNC %s %d\n", info.Target, after))
	syncOnce := func() (time.Duration, error) {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		t0 := time.Now()
		if _, err := nc.Write(req); err != nil {
			return 0, err
		}
		n := 0
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			if string(l) == "ENDSYNC\n" {
				break
			}
			n++
		}
		took := time.Since(t0)
		if n != want {
			return 0, fmt.Errorf("SYNC returned %d MSG lines, want %d", n, want)
		}
		return took, nil
	}
	for range 3 {
		evict(t, info.Path)
		d, err := syncOnce()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("SYNC of the last 100 over TCP, cold: %v", d.Round(time.Microsecond))
	}
	lats := make([]time.Duration, 0, 2000)
	for range 2000 {
		d, err := syncOnce()
		if err != nil {
			t.Fatal(err)
		}
		lats = append(lats, d)
	}
	slices.Sort(lats)
	t.Logf("SYNC of the last 100 over TCP, warm, 2000 in a row: p50 %v p99 %v max %v",
		lats[len(lats)/2].Round(time.Microsecond), lats[len(lats)*99/100].Round(time.Microsecond), lats[len(lats)-1].Round(time.Microsecond))
}

// storeBackend is the chat service's view of the core for reading only:
// records come from the store as core.ReadRaw gives them.
type storeBackend struct{ s *pms.Store }

var errReadOnly = errors.New("read-only benchmark backend")

func (b storeBackend) SubmitChatAsync(context.Context, *core.ChatMessage, func(uint64, time.Time, error)) error {
	return errReadOnly
}

func (b storeBackend) Submit(context.Context, *pms.Record, bool) (uint64, bool, error) {
	return 0, false, errReadOnly
}

func (b storeBackend) ReadRaw(index uint64, raw *[pms.RecordSize]byte) error {
	return b.s.ReadRaw(index, raw)
}

// noDirectory has no accounts.
type noDirectory struct{}

func (noDirectory) Registered(string) bool        { return false }
func (noDirectory) NumberOf(string) string        { return "" }
func (noDirectory) OwnerOf(string) (string, bool) { return "", false }

// nopEndpoint drops pushes; History does not push.
type nopEndpoint struct{}

func (nopEndpoint) Deliver(*chat.Message) bool { return false }
func (nopEndpoint) Flush()                     {}

// evict writes the store file's dirty pages and drops the file from the
// page cache, so that the next read comes from the disk.
func evict(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
