package pms

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"switchboard/internal/datadir"
)

// Errors returned by the store.
var (
	ErrClosed     = errors.New("pms: store is closed")
	ErrFailed     = errors.New("pms: store failed after a write error")
	ErrNotFound   = errors.New("pms: no record at that index")
	ErrHistorical = errors.New("pms: record is historical and immutable")
	ErrCorrupt    = errors.New("pms: store file is corrupt")
	ErrForeign    = errors.New("pms: not a switchboard message store")
)

// DefaultMaxBatch bounds the records written by one group commit. Recovery
// relies on it: only the last DefaultMaxBatch records can belong to a batch
// that was being written when the process died, whatever batch size the run
// before the crash was configured with.
const DefaultMaxBatch = 4096

// maxLinger bounds how long a group commit waits for more writers, and
// lingerGap is the silence that ends the wait; both are small next to an
// fdatasync (130–450 µs on the reference machine).
const (
	maxLinger = 150 * time.Microsecond
	lingerGap = 20 * time.Microsecond
)

// DefaultSyncDepth is how many group commits may be syncing at once. More
// than one lets the next batch be written and synced while the last one's
// fdatasync runs; on the reference disk that measured slower (overlapping
// syncs each take longer, and the batches get smaller, each sync costing
// about 100 µs of CPU in the kernel there), so one it is.
const DefaultSyncDepth = 1

// Options configure a Store.
type Options struct {
	// Dir is the data directory holding pms.bin, historical-mb and
	// index-base. The caller holds the data-directory lock.
	Dir    string
	Logger *slog.Logger
	// Metrics receives the store's figures; nil keeps them private.
	Metrics *Metrics
	// MaxBatch is the most records one group commit writes, clamped to
	// [1, DefaultMaxBatch].
	MaxBatch int
	// SyncDepth is how many group commits may wait for their fdatasync
	// at once, clamped to [1, 8]; 0 means DefaultSyncDepth. Acknowledgements
	// stay in file order whatever the depth.
	SyncDepth int
	// Preallocate is how many bytes of zeros the store keeps written ahead
	// of its last record (the zero tail, docs/pms.md), rounded to whole
	// records: 0 means DefaultPreallocate, a negative value none. On ext4 an
	// fdatasync after overwriting blocks that are already allocated and
	// written is about 1.5 times faster than one after an append, which
	// also has to make the new file size durable.
	Preallocate int64
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// DefaultPreallocate is the zero tail kept by default: 8 MiB, 32,768
// records, which at 200,000 appends per second is 160 ms of appends;
// the tail is extended in the background when half of it is used.
const DefaultPreallocate = 8 << 20

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 || o.MaxBatch > DefaultMaxBatch {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.SyncDepth <= 0 {
		o.SyncDepth = DefaultSyncDepth
	}
	o.SyncDepth = min(o.SyncDepth, 8)
	switch {
	case o.Preallocate == 0:
		o.Preallocate = DefaultPreallocate
	case o.Preallocate < 0:
		o.Preallocate = 0
	}
	o.Preallocate -= o.Preallocate % RecordSize
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
}

// Store appends records durably and updates the state of active ones.
//
// Callers put their requests into the open batch (a mutex and a slice, no
// channel per request) and wait on the batch's done channel, which is
// closed once for all of them. One goroutine, the committer, closes
// batches (see linger), writes each with one pwrite (and rewrites the state
// trailers it carries), and calls fdatasync, or with SyncDepth > 1 hands
// the batch to one of that many syncers, each calling fdatasync on its own
// descriptor. Completions are taken in batch order under cmu: a batch is
// acknowledged only after its own fdatasync and every earlier batch's have
// succeeded.
type Store struct {
	opts   Options
	log    *slog.Logger
	m      *Metrics
	f      *os.File
	path   string
	done   chan struct{}
	histWr chan uint64
	histWg sync.WaitGroup

	// Submission side, guarded by qmu.
	qmu    sync.Mutex
	closed bool
	open   []*batch // batches being gathered; writers join the last
	// pending counts requests in open batches (read by the committer
	// while it lingers, without qmu).
	pending atomic.Int64
	// wake kicks the committer when a request arrives or at Close.
	wake chan struct{}

	failed atomic.Pointer[error]
	// Published copies of completion state, for Stats and metrics.
	nextPub   atomic.Uint64
	activePub atomic.Int64
	histMBPub atomic.Uint64

	// owed counts requests acknowledged since the committer last closed a
	// batch: writers that are likely to come back at once with their next
	// request, which the committer waits for (see linger). waiting counts
	// the requests that were already queued when those were released: they
	// are not the ones owed, and must not stand in for them (else two
	// groups of writers alternating between two syncs would stay apart).
	// Both are kept under omu.
	omu     sync.Mutex
	owed    int64
	waiting int64

	// fdatasync calls made and the time they took, for benchmarks.
	syncCount, syncNanos atomic.Int64

	// Owned by the committer after Open returns.
	lingers    uint64 // batches lingered over
	firstScore int    // whether waiting for the first owed writer paid, -8 to 8
	base       uint64 // absolute index of position 0 of pms.bin (never changes)
	next       uint64 // absolute index the next record written gets
	lastEntry  int64  // entry times never go backwards in file order
	buf        []byte
	toSync     chan *batch
	syncWg     sync.WaitGroup
	syncFiles  []*os.File
	extFile    *os.File // the extender's (see Open)
	noDSync    bool     // pwritev2(RWF_DSYNC) was refused (see writeDSync)
	// slot is signalled when a sync completes, for a committer waiting
	// for room in the pipeline.
	slot chan struct{}

	// The mirror (see mirror.go): the last mirrorRecords records as the
	// committer wrote them, and the updates of the batch being written
	// whose trailers it has patched there but not yet written.
	mirror     []byte
	mirrorFrom uint64 // oldest absolute index the mirror holds
	dirty      []uint64

	// The zero tail (see reserve and extender), guarded by amu. allocEnd
	// is the file's size: records, then zeros. The committer writes
	// records only below allocEnd, or beyond it while no extension runs;
	// the extender writes zeros only at or above the allocEnd it was
	// handed, so the two never write the same bytes.
	amu       sync.Mutex
	extDone   *sync.Cond // signalled when an extension ends
	allocEnd  int64
	extending bool
	prealloc  int64 // Options.Preallocate; 0 once an extension failed
	extend    chan int64
	extWg     sync.WaitGroup

	// Completion side, guarded by cmu.
	cmu         sync.Mutex
	flight      []*batch // written, in file order, not yet completed
	flightRecs  int      // records in flight: written, not yet acknowledged
	durableNext uint64   // absolute index after the last acknowledged batch
	active      activeSet
	// retiring counts, per record, updates to a historical disposition in
	// batches written but not yet acknowledged: such a record is still in
	// active, but no longer active for UpdateClass.
	retiring   map[uint64]int
	histMB     uint64
	failLogged bool
}

type reqKind uint8

const (
	reqAppend reqKind = iota
	reqUpdate
)

type request struct {
	kind  reqKind
	recs  []*Record // Append: given their Index and Entry; nil for AppendRaw
	n     int       // records carried
	enc   []byte    // records encoded by the caller, index and entry time still zero
	raw   []*[RecordSize]byte
	first uint64 // AppendRaw: index given to the first record
	entry int64  // AppendRaw: entry time given to the records
	index uint64
	state State
	// class, for an update from UpdateClass: the record's destination
	// class as the caller knows it, which saves reading the record.
	class    Class
	hasClass bool
	err      error
	// cb, if set, makes the request asynchronous: the caller does not
	// wait, and cb gets the outcome once the batch is acknowledged. An
	// asynchronous update has updated instead, which gets only the error
	// (so that it needs no wrapper to fit cb).
	cb      func(first uint64, entry time.Time, err error)
	updated func(err error)
}

var requestPool = sync.Pool{New: func() any { return new(request) }}

// batch is one group commit: its requests are written with one pwrite and
// made durable by one fdatasync, and learn their outcome together when
// done is closed.
type batch struct {
	reqs    []*request
	records int
	done    chan struct{}

	// Set by the committer when it writes the batch.
	end      uint64 // absolute index after the batch's last record
	appended int
	updated  int
	removed  []uint64 // records the batch made historical
	err      error    // a write error: the batch is not synced

	// durable is set by the committer when the batch's write was also its
	// sync (writeDSync).
	durable bool

	// Set by the syncer.
	synced  bool
	syncErr error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens or creates the store in opts.Dir, recovers it after a crash,
// and calls visit for every active record (in file order) before returning.
// The caller turns those into queues. visit gets one Record reused for
// every call: it must copy what it keeps of it beyond the call (the
// strings may be kept; UD and Text are overwritten by the next record).
// A torn tail left by a crash during an unacknowledged write is cut off
// with a log line; anything else that looks wrong is an error naming the
// file, and nothing is changed.
func Open(opts Options, visit func(*Record) error) (*Store, error) {
	opts.setDefaults()
	if err := datadir.Ensure(opts.Dir); err != nil {
		return nil, err
	}
	s := &Store{
		opts:   opts,
		log:    opts.Logger,
		m:      opts.Metrics,
		path:   filepath.Join(opts.Dir, datadir.PMSFile),
		done:   make(chan struct{}),
		histWr: make(chan uint64, 1),
		wake:   make(chan struct{}, 1),
		slot:   make(chan struct{}, 1),
		toSync: make(chan *batch, opts.SyncDepth),
		buf:    make([]byte, opts.MaxBatch*RecordSize),
		mirror: make([]byte, mirrorRecords*RecordSize),

		retiring: map[uint64]int{},
		prealloc: opts.Preallocate,
		extend:   make(chan int64, 1),
	}
	s.extDone = sync.NewCond(&s.amu)
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	s.f = f
	if err := s.recover(visit); err != nil {
		f.Close()
		return nil, err
	}
	s.durableNext = s.next
	s.mirrorFrom = s.next
	// The extender writes and syncs its zeros through a descriptor of its
	// own, for the reason the syncers have theirs (below): a writeback
	// error it collected would otherwise be missed by the committer's
	// fdatasync, which would then acknowledge a batch not on disk.
	ef, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	s.extFile = ef
	// With SyncDepth > 1, each syncer has a descriptor of its own: a
	// writeback error is reported once per open file, so a syncer must not
	// miss one that another syncer's fdatasync collected (its batch would
	// be acknowledged without being on disk). With one, the committer
	// syncs on the descriptor it writes with.
	for range opts.SyncDepth {
		if opts.SyncDepth == 1 {
			break
		}
		sf, err := os.OpenFile(s.path, os.O_RDWR, 0)
		if err != nil {
			for _, g := range s.syncFiles {
				g.Close()
			}
			ef.Close()
			f.Close()
			return nil, fmt.Errorf("open %s: %w", s.path, err)
		}
		s.syncFiles = append(s.syncFiles, sf)
	}
	s.publish()
	s.histWg.Add(1)
	go s.historyWriter()
	if opts.SyncDepth > 1 {
		for _, sf := range s.syncFiles {
			s.syncWg.Add(1)
			go s.syncer(sf)
		}
	}
	s.m.preallocated.Set(float64(s.allocEnd))
	s.extWg.Add(1)
	go s.extender()
	// A store opened with less zero tail than half the preallocation starts
	// extending it now, before the first append needs it.
	s.reserve(int64(s.next-s.base) * RecordSize)
	go s.commit()
	return s, nil
}

// recover validates the file, cuts a torn tail, and scans the part that may
// hold active records.
func (s *Store) recover(visit func(*Record) error) error {
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	size := st.Size()
	base, err := ReadIndexBase(s.opts.Dir)
	if err != nil {
		return err
	}
	// Look at the first record before changing anything, so that a foreign
	// file is refused untouched rather than "repaired".
	var first []byte
	if size > 0 {
		first = make([]byte, min(size, RecordSize))
		if _, err := s.f.ReadAt(first, 0); err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		if !allZero(first) && (len(first) < 2 || first[0] != magic0 || first[1] != magic1) {
			return fmt.Errorf("%s: %w", s.path, ErrForeign)
		}
	}
	if rem := size % RecordSize; rem != 0 {
		s.log.Warn("cutting partial record at the end of the store", "file", s.path, "bytes", rem)
		size -= rem
		if err := s.truncate(size); err != nil {
			return err
		}
	}
	// The records end where the zero tail begins (docs/pms.md): after the
	// last record that is not all zeros.
	n, err := s.dataEnd(uint64(size / RecordSize))
	if err != nil {
		return err
	}
	s.allocEnd = size
	if len(first) == RecordSize {
		var r Record
		switch err := Decode(first, &r); {
		case err == nil || errors.Is(err, ErrStateCRC):
			if r.Index != base && base != 0 {
				s.log.Warn("index-base disagrees with the first record; the record wins", "file", s.path, "index_base", base, "first_index", r.Index)
			}
			base = r.Index
		case errors.Is(err, ErrVersion):
			return fmt.Errorf("%s: %w", s.path, err)
		case n > DefaultMaxBatch:
			return fmt.Errorf("%s: first record unreadable: %w (%w)", s.path, ErrCorrupt, err)
		}
		// Otherwise the whole file may be one torn first batch; the scan
		// below decides.
	}
	s.base = base

	hist, err := ReadHistoricalMB(s.opts.Dir)
	if err != nil {
		s.log.Warn("ignoring unreadable historical-mb; scanning the whole store", "error", err)
		hist = 0
	}
	if hist*RecordsPerMB > n {
		s.log.Warn("historical-mb is larger than the store; scanning the whole store", "historical_mb", hist, "records", n)
		hist = 0
	}
	start := hist * RecordsPerMB
	// The last MaxBatch records are always checked, even in the historical
	// part, since that is where a torn write would be.
	tornFrom := uint64(0)
	if n > DefaultMaxBatch {
		tornFrom = n - DefaultMaxBatch
	}
	if tornFrom < start {
		start = tornFrom
	}
	end, err := s.scan(start, n, tornFrom, visit)
	if err != nil {
		return err
	}
	if end < n {
		s.log.Warn("cutting torn records at the end of the store", "file", s.path, "records", n-end, "first_cut_index", base+end)
		s.m.tornRecords.Add(float64(n - end))
		// The cut takes the zero tail with it; the extender writes a new
		// one.
		if err := s.truncate(int64(end) * RecordSize); err != nil {
			return err
		}
		s.allocEnd = int64(end) * RecordSize
		n = end
	}
	s.next = base + n
	if oldest, ok := s.active.oldest(); ok {
		s.histMB = (oldest - base) / RecordsPerMB
	} else {
		s.histMB = n / RecordsPerMB
	}
	if s.histMB != hist {
		if err := WriteHistoricalMB(s.opts.Dir, s.histMB); err != nil {
			return err
		}
	}
	return nil
}

// scan reads positions [start, n) and returns the end of the valid records.
// A record whose body is unreadable at or after tornFrom starts a torn tail;
// before tornFrom it is corruption of acknowledged data, and an error.
func (s *Store) scan(start, n, tornFrom uint64, visit func(*Record) error) (uint64, error) {
	const chunk = RecordsPerMB
	buf := make([]byte, chunk*RecordSize)
	var r Record
	var ud []byte // reused by every record: visit copies what it keeps
	for pos := start; pos < n; {
		cnt := min(n-pos, chunk)
		b := buf[:cnt*RecordSize]
		if _, err := s.f.ReadAt(b, int64(pos)*RecordSize); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read %s: %w", s.path, err)
		}
		for i := uint64(0); i < cnt; i++ {
			p := pos + i
			rec := b[i*RecordSize : (i+1)*RecordSize]
			err := decode(rec, &r, &ud)
			if err == nil && r.Index != s.base+p {
				err = fmt.Errorf("%w: record at position %d has index %d, want %d", ErrCorrupt, p, r.Index, s.base+p)
			}
			if err != nil && !errors.Is(err, ErrStateCRC) {
				// Records are written whole within one disk sector, so a
				// torn write leaves zeros or nothing, never a record of
				// another version: that is a newer program's file.
				if p >= tornFrom && !errors.Is(err, ErrVersion) {
					return p, nil
				}
				return 0, fmt.Errorf("%s: record at position %d (index %d): %w", s.path, p, s.base+p, err)
			}
			if errors.Is(err, ErrStateCRC) {
				// Historical records are never rewritten, so a torn state
				// trailer belonged to an active record: it stays active, and
				// at worst is delivered again.
				s.log.Warn("record state torn; treating it as active", "file", s.path, "index", s.base+p)
				r.State = State{}
				if err := s.rewriteState(p, r.DstClass, &r.State); err != nil {
					return 0, err
				}
			}
			if r.State.Disposition == Active {
				s.active.add(r.Index)
				if visit != nil {
					if err := visit(&r); err != nil {
						return 0, err
					}
				}
			}
			if e := nanos(r.Entry); e > s.lastEntry {
				s.lastEntry = e
			}
		}
		pos += cnt
	}
	return n, nil
}

// dataEnd returns the number of positions before the zero tail of a file
// of n positions: one past the last record that is not all zeros. It reads
// the file backwards a megabyte at a time, so it costs the length of the
// tail (at most about two preallocations) however large the file is.
func (s *Store) dataEnd(n uint64) (uint64, error) {
	buf := make([]byte, RecordsPerMB*RecordSize)
	for end := n; end > 0; {
		cnt := min(end, RecordsPerMB)
		b := buf[:cnt*RecordSize]
		if _, err := s.f.ReadAt(b, int64(end-cnt)*RecordSize); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read %s: %w", s.path, err)
		}
		for i := cnt; i > 0; i-- {
			if !allZero(b[(i-1)*RecordSize : i*RecordSize]) {
				return end - cnt + i, nil
			}
		}
		end -= cnt
	}
	return 0, nil
}

func (s *Store) rewriteState(pos uint64, dstClass Class, st *State) error {
	var b [StateSize]byte
	if err := EncodeState(b[:], dstClass, st); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(b[:], int64(pos)*RecordSize+stateOffset); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return s.sync()
}

func (s *Store) truncate(size int64) error {
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s: %w", s.path, err)
	}
	return s.sync()
}

func (s *Store) sync() error { return s.syncFile(s.f) }

func (s *Store) syncFile(f *os.File) error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", s.path, err)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Append writes records durably, contiguously and in order, assigning each
// its Index and Entry time. When it returns nil every record is on disk.
// A record that does not encode fails the whole call and nothing is written.
func (s *Store) Append(ctx context.Context, recs ...*Record) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) > s.opts.MaxBatch {
		return fmt.Errorf("pms: %d records in one append, at most %d", len(recs), s.opts.MaxBatch)
	}
	req := requestPool.Get().(*request)
	req.kind, req.recs, req.n = reqAppend, recs, len(recs)
	// Encode here, in the caller's goroutine, so that the committer (one
	// goroutine for everyone) only copies bytes and patches the index, the
	// entry time and the body CRC. A record that does not encode fails
	// before it is queued.
	n := len(recs) * RecordSize
	if cap(req.enc) < n {
		req.enc = make([]byte, n)
	}
	req.enc = req.enc[:n]
	for i, rec := range recs {
		if err := Encode(req.enc[i*RecordSize:], rec); err != nil {
			requestPool.Put(req.reset())
			return fmt.Errorf("record %d of %d: %w", i+1, len(recs), err)
		}
	}
	err := s.do(ctx, req)
	if err == nil {
		entry := fromNanos(req.entry)
		for i, rec := range recs {
			rec.Index, rec.Entry = req.first+uint64(i), entry
		}
	}
	requestPool.Put(req.reset())
	return err
}

// AppendRaw is Append for records that are already encoded, such as the
// record of an SMSC_REQ_SUBMIT after the core has patched its routing
// fields: it saves decoding them into Records only to encode them again.
// Each must be a record Decode accepts, apart from its index, entry time
// and body CRC, which the store writes (into recs too, so the caller holds
// the bytes as stored). CheckRaw tells a caller whether the bytes are
// acceptable. It returns the index of the first record (the others follow
// it) and their entry time.
func (s *Store) AppendRaw(ctx context.Context, recs ...*[RecordSize]byte) (first uint64, entry time.Time, err error) {
	if len(recs) == 0 {
		return 0, time.Time{}, nil
	}
	if len(recs) > s.opts.MaxBatch {
		return 0, time.Time{}, fmt.Errorf("pms: %d records in one append, at most %d", len(recs), s.opts.MaxBatch)
	}
	for i, b := range recs {
		if err := CheckRaw(b); err != nil {
			return 0, time.Time{}, fmt.Errorf("record %d of %d: %w", i+1, len(recs), err)
		}
	}
	req := requestPool.Get().(*request)
	req.kind, req.raw, req.n = reqAppend, recs, len(recs)
	err = s.do(ctx, req)
	first, entry = req.first, fromNanos(req.entry)
	requestPool.Put(req.reset())
	return first, entry, err
}

// AppendRawAsync is AppendRaw without waiting: it queues the records and
// returns, and done is called once with the outcome, after the records are
// durable or have failed, on a goroutine of the store. done must not block
// (it holds up the acknowledgements behind it) and recs must stay untouched
// until it is called. An error returned means nothing was queued and done
// is not called. The context only decides whether the records are queued.
func (s *Store) AppendRawAsync(ctx context.Context, recs []*[RecordSize]byte, done func(first uint64, entry time.Time, err error)) error {
	if len(recs) == 0 || len(recs) > s.opts.MaxBatch {
		return fmt.Errorf("pms: %d records in one append, want 1 to %d", len(recs), s.opts.MaxBatch)
	}
	for i, b := range recs {
		if err := CheckRaw(b); err != nil {
			return fmt.Errorf("record %d of %d: %w", i+1, len(recs), err)
		}
	}
	req := requestPool.Get().(*request)
	req.kind, req.raw, req.n, req.cb = reqAppend, recs, len(recs), done
	if err := s.do(ctx, req); err != nil {
		requestPool.Put(req.reset())
		return err
	}
	return nil
}

// CheckRaw is the cheap part of Decode that AppendRaw relies on: magic,
// version, kind, classes and the state trailer's CRC and disposition. The
// body CRC is not checked, since the store computes it afresh.
func CheckRaw(b *[RecordSize]byte) error {
	if b[0] != magic0 || b[1] != magic1 {
		return ErrMagic
	}
	if b[2] != FormatVersion {
		return fmt.Errorf("%w: %d", ErrVersion, b[2])
	}
	if k := Kind(b[3]); k != KindSM && k != KindChat {
		return fmt.Errorf("%w: %d", ErrKind, k)
	}
	if Class(b[srcClassOff]) > maxClass || Class(b[dstClassOff]) > maxClass {
		return fmt.Errorf("%w: class %d or %d", ErrFieldRange, b[srcClassOff], b[dstClassOff])
	}
	if binary.BigEndian.Uint32(b[stateCRCOff:]) != stateCRC(b[:]) {
		return ErrStateCRC
	}
	if Disposition(b[stateOffset]) > maxDisposition {
		return fmt.Errorf("%w: disposition %d", ErrFieldRange, b[stateOffset])
	}
	return nil
}

// Update replaces the state trailer of the active record at index, durably.
// A historical record is immutable: updating it fails with ErrHistorical.
func (s *Store) Update(ctx context.Context, index uint64, st State) error {
	req := requestPool.Get().(*request)
	req.kind, req.index, req.state = reqUpdate, index, st
	err := s.do(ctx, req)
	requestPool.Put(req.reset())
	return err
}

// UpdateClass is Update for a caller that knows the record's destination
// class (the core, which admitted it): the trailer is written without
// reading the record first, one system call fewer per discharge. Whether
// the record is still active is the store's own knowledge (its set of
// active records), so a historical record is refused all the same. A
// class that does not match the record's makes a trailer that fails its
// checks on decode; the core's class comes from the record it stored.
func (s *Store) UpdateClass(ctx context.Context, index uint64, class Class, st State) error {
	req := requestPool.Get().(*request)
	req.kind, req.index, req.state = reqUpdate, index, st
	req.class, req.hasClass = class, true
	err := s.do(ctx, req)
	requestPool.Put(req.reset())
	return err
}

// UpdateClassAsync is UpdateClass for a caller that must not wait: done
// gets the outcome once the batch holding the update is durable (or has
// failed), on a store goroutine, and must neither block nor wait for the
// store. If UpdateClassAsync returns an error, done is not called.
func (s *Store) UpdateClassAsync(ctx context.Context, index uint64, class Class, st State, done func(error)) error {
	req := requestPool.Get().(*request)
	req.kind, req.index, req.state = reqUpdate, index, st
	req.class, req.hasClass = class, true
	req.updated = done
	if err := s.do(ctx, req); err != nil {
		requestPool.Put(req.reset())
		return err
	}
	return nil
}

// do queues a request in the open batch and waits for the batch's outcome
// (an asynchronous request's callback gets it instead).
func (s *Store) do(ctx context.Context, req *request) error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once queued, an asynchronous request belongs to the store.
	async := req.isAsync()
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return ErrClosed
	}
	var b *batch
	if k := len(s.open); k > 0 {
		b = s.open[k-1]
	}
	if b == nil || (len(b.reqs) > 0 && b.records+req.n > s.opts.MaxBatch) {
		// Too big for the open batch: it starts the next one.
		b = newBatch()
		s.open = append(s.open, b)
	}
	b.reqs = append(b.reqs, req)
	b.records += req.n
	s.pending.Add(1)
	done := b.done
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if async {
		return nil
	}
	// Once queued, the request is written whatever the context says, so
	// wait for the outcome rather than report a write as failed.
	<-done
	return req.err
}

// isAsync reports whether a callback, not a waiting caller, gets the
// request's outcome.
func (r *request) isAsync() bool { return r.cb != nil || r.updated != nil }

func (r *request) reset() *request {
	r.recs, r.raw, r.err, r.state, r.n, r.cb, r.updated = nil, nil, nil, State{}, 0, nil, nil
	r.class, r.hasClass = 0, false
	return r
}

// Read returns the record at an absolute index as it is on disk now.
func (s *Store) Read(index uint64, r *Record) error {
	var b [RecordSize]byte
	if err := s.ReadRaw(index, &b); err != nil {
		return err
	}
	return Decode(b[:], r)
}

// ReadRaw returns the bytes of the record at an absolute index as they are
// on disk now, unchecked: for handing a record on as it is.
func (s *Store) ReadRaw(index uint64, b *[RecordSize]byte) error {
	next := s.nextPub.Load()
	if index < s.base || index >= next {
		return fmt.Errorf("%w: %d", ErrNotFound, index)
	}
	if _, err := s.f.ReadAt(b[:], int64(index-s.base)*RecordSize); err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	return nil
}

// Close writes what is queued, stops the committer and closes the file.
func (s *Store) Close() error {
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	// The committer is gone, so nothing starts another extension.
	close(s.extend)
	s.extWg.Wait()
	close(s.histWr)
	s.histWg.Wait()
	var cerr error
	for _, sf := range append(s.syncFiles, s.extFile) {
		if err := sf.Close(); err != nil && cerr == nil {
			cerr = fmt.Errorf("close %s: %w", s.path, err)
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return cerr
}

// Healthy returns nil while the store accepts writes.
func (s *Store) Healthy() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Stats are the store's figures at one moment.
type Stats struct {
	Base         uint64 // absolute index of the first record in pms.bin
	Next         uint64 // absolute index of the next record
	Active       int64
	HistoricalMB uint64
	// Flushes counts the calls that made written records durable
	// (fdatasync, or a write with RWF_DSYNC), and FlushTime is the time
	// they took in all: the disk's share of every acknowledgement.
	Flushes   int64
	FlushTime time.Duration
}

// Stats returns current figures; safe from any goroutine.
func (s *Store) Stats() Stats {
	return Stats{
		Base: s.base, Next: s.nextPub.Load(), Active: s.activePub.Load(), HistoricalMB: s.histMBPub.Load(),
		Flushes: s.syncCount.Load(), FlushTime: time.Duration(s.syncNanos.Load()),
	}
}

// Path is the store file's path.
func (s *Store) Path() string { return s.path }

// publish copies the acknowledged state out (under cmu, or before the
// goroutines start).
func (s *Store) publish() {
	s.nextPub.Store(s.durableNext)
	s.activePub.Store(int64(s.active.count))
	s.histMBPub.Store(s.histMB)
	s.m.set(s)
}

// commit is the committer goroutine: it closes batches (see linger),
// writes each with one pwrite and hands it to a syncer, keeping at most
// SyncDepth batches and MaxBatch records between their write and their
// acknowledgement. The latter bound is what recovery relies on: only the
// last DefaultMaxBatch records can be torn by a crash.
func (s *Store) commit() {
	defer close(s.done)
	defer func() {
		close(s.toSync)
		s.syncWg.Wait()
	}()
	for {
		s.qmu.Lock()
		for len(s.open) == 0 || len(s.open[0].reqs) == 0 {
			if s.closed {
				s.qmu.Unlock()
				return
			}
			s.qmu.Unlock()
			<-s.wake
			s.qmu.Lock()
		}
		s.qmu.Unlock()
		reset := s.linger()
		s.qmu.Lock()
		b := s.open[0]
		s.open[0] = nil
		s.open = s.open[1:]
		if len(s.open) == 0 {
			s.open = s.open[:0:0]
		}
		s.qmu.Unlock()
		s.pending.Add(-int64(len(b.reqs)))
		s.settle(len(b.reqs), reset)
		// Room for the batch's records: acknowledgements free it.
		for {
			s.cmu.Lock()
			ok := s.flightRecs == 0 || s.flightRecs+b.records <= s.opts.MaxBatch
			s.cmu.Unlock()
			if ok {
				break
			}
			<-s.slot
		}
		s.write(b)
		if s.opts.SyncDepth == 1 {
			// Nothing else could be written meanwhile: sync here, on
			// the descriptor that wrote, and save a hand-off to another
			// goroutine (about 20 µs of wake-up on the reference machine).
			s.syncBatch(s.f, b)
			continue
		}
		s.toSync <- b
	}
}

// linger decides when the batch at the head of the queue closes. Under
// load the writers released by the last acknowledgements are waking up and
// about to send again; waiting for them makes them share one fdatasync
// instead of each costing one. The batch closes:
//
//   - once as many new requests wait as were acknowledged since the last
//     batch closed (owed): everyone expected is back (a lone writer never
//     waits). Requests already queued when those were released do not
//     count: they are not the ones owed;
//   - once half of them are, if nothing is syncing and more than one sync
//     may run: the other half forms the next batch, whose sync overlaps
//     this one's instead of waiting behind it;
//   - after lingerGap without a new request, or maxLinger in all, when
//     writers do not come back (they had other work, or stopped); the gap
//     counts before the first owed writer is back only if waiting for it
//     has not been paying off (firstScore);
//   - while every sync slot is busy, never: requests pile up in the batch,
//     and released writers join it when the slot frees.
//
// It reports whether it gave up waiting, which makes the committer forget
// the writers still owed.
func (s *Store) linger() (reset bool) {
	var (
		start, last time.Time
		seen        int64 = -1
		seenOwed    int64 = -1
		waited      bool  // waited past the gap for the first owed writer
	)
	// Wait for the first owed writer while that has been paying off, and
	// now and then anyway, to notice when it starts to again.
	s.lingers++
	waitFirst := s.firstScore >= 0 || s.lingers%16 == 0
	for {
		if s.slotsBusy() {
			// Nothing could start now: wait for a sync to finish rather
			// than spin (a completion always follows, and Close waits for
			// it), and start timing afresh after it.
			<-s.slot
			seen = -1
			continue
		}
		pending := s.pending.Load()
		s.omu.Lock()
		n, owed := max(pending-s.waiting, 0), s.owed
		s.omu.Unlock()
		if n >= owed || s.mustClose() {
			return false
		}
		if n*2 >= owed && s.opts.SyncDepth > 1 && s.idle() {
			return false
		}
		now := time.Now()
		if n != seen || owed != seenOwed {
			if seen < 0 {
				start = now
			}
			seen, seenOwed, last = n, owed, now
		}
		// While none of the owed writers is back, silence ends the wait
		// only if waiting for the first of them has not been paying: it
		// may be a round trip away (a client at the other end of the core
		// socket), and not waiting for it costs it, and everyone it would
		// have joined, a whole sync; but writers that come back later than
		// the limit anyway are not worth waiting for at all.
		if n == 0 && waitFirst && now.Sub(last) > lingerGap {
			waited = true
		}
		if (n > 0 || !waitFirst) && now.Sub(last) > lingerGap || now.Sub(start) > maxLinger {
			if waited && n == 0 {
				// Waited past the gap for nobody.
				s.firstScore = max(s.firstScore-1, -8)
			}
			// The rest are not coming soon.
			return true
		}
		if waited && n > 0 {
			// Waited past the gap, and they came.
			s.firstScore = min(s.firstScore+1, 8)
			waited = false
		}
		runtime.Gosched()
	}
}

// settle accounts for a batch of n requests that closed: it takes the
// requests that were waiting first (they are the oldest), then what is
// owed; or it forgets everything owed when the committer gave up waiting.
func (s *Store) settle(n int, reset bool) {
	s.omu.Lock()
	defer s.omu.Unlock()
	m := int64(n)
	fromWaiting := min(m, s.waiting)
	s.waiting -= fromWaiting
	s.owed = max(s.owed-(m-fromWaiting), 0)
	if reset {
		s.owed = 0
	}
}

// release records that n requests were acknowledged: those writers are
// owed, and whatever is queued now was not among them.
func (s *Store) release(n int) {
	s.omu.Lock()
	s.owed += int64(n)
	s.waiting = s.pending.Load()
	s.omu.Unlock()
}

// mustClose reports whether the head batch must close without waiting:
// the store is closing, or the batch is full (a second one has begun).
func (s *Store) mustClose() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return s.closed || len(s.open) > 1
}

// slotsBusy reports whether SyncDepth batches are between their write and
// their completion.
func (s *Store) slotsBusy() bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return len(s.flight) >= s.opts.SyncDepth
}

// idle reports whether no batch is syncing.
func (s *Store) idle() bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return len(s.flight) == 0
}

// write places a batch's records, gives them their indexes and entry
// time, writes them with one pwrite, rewrites the state trailers the batch
// carries, and puts the batch in flight.
func (s *Store) write(b *batch) {
	var ioErr error
	if p := s.failed.Load(); p != nil {
		ioErr = *p
	}
	now := nanos(s.opts.Now())
	if now < s.lastEntry {
		now = s.lastEntry
	}
	pos := s.next
	nbuf := 0
	for _, r := range b.reqs {
		if ioErr != nil {
			break
		}
		switch r.kind {
		case reqAppend:
			s.placeAppend(r, pos, now, nbuf)
			pos += uint64(r.n)
			nbuf += r.n * RecordSize
			b.appended += r.n
		case reqUpdate:
			r.err = s.applyUpdate(r)
			var ioe ioError
			if errors.As(r.err, &ioe) {
				ioErr = r.err
			}
			if r.err == nil {
				b.updated++
				if r.state.Disposition.Historical() {
					b.removed = append(b.removed, r.index)
					s.cmu.Lock()
					s.retiring[r.index]++
					s.cmu.Unlock()
				}
			}
		}
	}
	if ioErr == nil && len(s.dirty) > 0 {
		ioErr = s.flushDirty()
	}
	s.dirty = s.dirty[:0]
	// Only now may the batch's records take their places in the mirror:
	// they reuse the slots of the records 16,384 older, which this batch's
	// updates (flushed just above from those slots) may have touched.
	if ioErr == nil {
		for i := range nbuf / RecordSize {
			copy(s.mirrorSlot(s.next+uint64(i)), s.buf[i*RecordSize:(i+1)*RecordSize])
		}
	}
	if ioErr == nil && nbuf > 0 {
		s.reserve(int64(pos-s.base) * RecordSize)
		off := int64(s.next-s.base) * RecordSize
		if s.opts.SyncDepth == 1 && b.appended == len(b.reqs) && !s.noDSync {
			// The batch is this one write: make it durable in the same
			// call (see writeDSync).
			ioErr = s.writeDSync(b, s.buf[:nbuf], off)
		} else if _, werr := s.f.WriteAt(s.buf[:nbuf], off); werr != nil {
			ioErr = fmt.Errorf("write %s: %w", s.path, werr)
		}
	}
	b.err = ioErr
	if ioErr == nil {
		s.next = pos
		if b.appended > 0 {
			s.lastEntry = now
		}
	}
	b.end = s.next
	s.cmu.Lock()
	s.flight = append(s.flight, b)
	s.flightRecs += b.records
	s.cmu.Unlock()
}

// reserve is called by the committer before it writes records up to byte
// end of pms.bin. Below allocEnd those bytes are zero tail: writing them
// changes no file size, which makes the fdatasync that follows cheaper.
// Past allocEnd the write is a plain append, allowed only while no
// extension is writing zeros there (the committer waits for it to end;
// the switchboard_pms_preallocation_waits_total metric counts this, which
// means the tail was too short for the rate of appends). When less than
// half a preallocation of zeros is left, reserve hands the extender the
// next one.
func (s *Store) reserve(end int64) {
	s.amu.Lock()
	for end > s.allocEnd && s.extending {
		s.m.preallocWaits.Inc()
		s.extDone.Wait()
	}
	s.allocEnd = max(s.allocEnd, end)
	if s.prealloc == 0 || s.extending || s.allocEnd-end >= s.prealloc/2 {
		s.amu.Unlock()
		return
	}
	s.extending = true
	from := s.allocEnd
	s.amu.Unlock()
	s.extend <- from // never blocks: one extension at a time
}

// extender writes the zero tail: given the file's size, it writes
// Preallocate bytes of zeros from there, makes them durable (so that the
// committer's fdatasync does not carry them), and publishes the new size.
// A failure (a full disk) turns preallocation off with a warning: appends
// go on without it, and fail on their own if the disk is full.
func (s *Store) extender() {
	defer s.extWg.Done()
	zeros := make([]byte, 1<<20)
	for from := range s.extend {
		to := from + s.prealloc
		err := s.writeZeros(zeros, from, to)
		s.amu.Lock()
		if err != nil {
			s.log.Warn("cannot preallocate the message store; appending without a zero tail", "file", s.path, "error", err)
			s.prealloc = 0
		} else {
			s.allocEnd = max(s.allocEnd, to)
			s.m.preallocated.Set(float64(to))
		}
		s.extending = false
		s.extDone.Broadcast()
		s.amu.Unlock()
	}
}

func (s *Store) writeZeros(zeros []byte, from, to int64) error {
	for off := from; off < to; {
		n := min(int64(len(zeros)), to-off)
		if _, err := s.extFile.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("write %s: %w", s.path, err)
		}
		off += n
	}
	return s.syncFile(s.extFile)
}

// placeAppend copies a request's records, encoded by Append (or given to
// AppendRaw), into the batch buffer at offset off, and gives them their
// indexes (from pos) and entry time.
func (s *Store) placeAppend(r *request, pos uint64, now int64, off int) {
	r.first, r.entry = pos, now
	if r.raw != nil {
		for i, rb := range r.raw {
			copy(s.buf[off+i*RecordSize:], rb[:])
		}
	} else {
		copy(s.buf[off:], r.enc)
	}
	for i := range r.n {
		b := s.buf[off+i*RecordSize : off+(i+1)*RecordSize]
		binary.BigEndian.PutUint64(b[indexOff:], pos+uint64(i))
		binary.BigEndian.PutUint64(b[entryOff:], uint64(now))
		binary.BigEndian.PutUint32(b[bodyCRCOff:], bodyCRC(b))
		if r.raw != nil {
			copy(r.raw[i][:], b)
		}
	}
}

// syncer makes written batches durable, one fdatasync each, on its own
// descriptor.
func (s *Store) syncer(f *os.File) {
	defer s.syncWg.Done()
	for b := range s.toSync {
		s.syncBatch(f, b)
	}
}

// syncBatch makes one written batch durable and completes it.
func (s *Store) syncBatch(f *os.File, b *batch) {
	var err error
	if b.err == nil && !b.durable && (b.appended > 0 || b.updated > 0) {
		t0 := time.Now()
		if serr := unix.Fdatasync(int(f.Fd())); serr != nil {
			err = fmt.Errorf("fdatasync %s: %w", s.path, serr)
		}
		s.countSync(time.Since(t0))
	}
	s.complete(b, err)
}

// countSync records one flush to the disk that took d.
func (s *Store) countSync(d time.Duration) {
	s.m.syncSeconds.Observe(d.Seconds())
	s.m.syncs.Inc()
	s.syncCount.Add(1)
	s.syncNanos.Add(int64(d))
}

// writeDSync writes a batch that consists of appended records only, all
// in p at byte off, with pwritev2(RWF_DSYNC): the call returns once the
// data, and the file size if it grew, are on disk, as fdatasync would
// make them, and the batch needs no fdatasync of its own. RWF_DSYNC syncs
// only the range written, which is why a batch that also rewrites state
// trailers elsewhere takes the pwrite and fdatasync path. On the
// reference machine the one call took 270–300 µs where pwrite and
// fdatasync took 330–360 µs (docs/benchmarks.md). A kernel or file system
// that refuses the flag gets pwrite and fdatasync from then on.
func (s *Store) writeDSync(b *batch, p []byte, off int64) error {
	fd := int(s.f.Fd())
	t0 := time.Now()
	for wrote := false; len(p) > 0; {
		n, err := unix.Pwritev2(fd, [][]byte{p}, off, unix.RWF_DSYNC)
		if err == unix.EINTR {
			continue
		}
		if !wrote && (err == unix.EOPNOTSUPP || err == unix.ENOSYS) {
			// Not supported here: write plainly; syncBatch syncs.
			s.noDSync = true
			if _, werr := s.f.WriteAt(p, off); werr != nil {
				return fmt.Errorf("write %s: %w", s.path, werr)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("write %s (RWF_DSYNC): %w", s.path, err)
		}
		p, off, wrote = p[n:], off+int64(n), true
	}
	b.durable = true
	s.countSync(time.Since(t0))
	return nil
}

// complete records a batch's sync outcome and acknowledges, in file order,
// every batch whose turn has come.
func (s *Store) complete(b *batch, err error) {
	var async []*request
	s.cmu.Lock()
	b.synced, b.syncErr = true, err
	for len(s.flight) > 0 && s.flight[0].synced {
		h := s.flight[0]
		s.flight[0] = nil
		s.flight = s.flight[1:]
		s.flightRecs -= h.records
		async = s.finish(h, async)
	}
	s.cmu.Unlock()
	select {
	case s.slot <- struct{}{}:
	default:
	}
	// Asynchronous requests learn their outcome outside cmu, so that
	// their callbacks (which take the core's lock) never hold up the
	// acknowledgement of the next batch. (Handing the callbacks to a
	// goroutine of their own, so that the committer could start the next
	// batch sooner, measured slower: smaller batches, more syncs.)
	for _, r := range async {
		if r.cb != nil {
			r.cb(r.first, fromNanos(r.entry), r.err)
		} else {
			r.updated(r.err)
		}
		requestPool.Put(r.reset())
	}
}

// finish acknowledges or fails one batch, under cmu, in file order, and
// returns async with the batch's asynchronous requests added. Those are
// collected before done is closed: after that, the waiting writers reuse
// their requests.
func (s *Store) finish(b *batch, async []*request) []*request {
	for _, r := range b.reqs {
		if r.isAsync() {
			async = append(async, r)
		}
	}
	err := b.err
	if err == nil {
		err = b.syncErr
	}
	if err == nil {
		if p := s.failed.Load(); p != nil {
			// An earlier batch failed: nothing after it is acknowledged,
			// whatever its own sync said.
			err = *p
		}
	}
	if err != nil {
		if !errors.Is(err, ErrFailed) {
			// After a failed write or fsync the page cache and the disk
			// may disagree; nothing more can be acknowledged safely.
			err = fmt.Errorf("%w: %w", ErrFailed, err)
			s.failed.CompareAndSwap(nil, &err)
		}
		if !s.failLogged {
			s.failLogged = true
			s.m.writeErrors.Inc()
			s.log.Error("message store write failed; refusing further writes", "file", s.path, "error", err)
		}
		for _, r := range b.reqs {
			if r.err == nil {
				r.err = err
			}
		}
		for _, idx := range b.removed {
			s.unretireLocked(idx)
		}
		close(b.done)
		return async
	}
	for _, r := range b.reqs {
		if r.kind != reqAppend {
			continue
		}
		if r.raw != nil {
			for i, rb := range r.raw {
				if PeekDisposition(rb[:]) == Active {
					s.active.add(r.first + uint64(i))
				}
			}
			continue
		}
		for i, rec := range r.recs {
			if rec.State.Disposition == Active {
				s.active.add(r.first + uint64(i))
			}
		}
	}
	for _, idx := range b.removed {
		s.active.remove(idx)
		s.unretireLocked(idx)
	}
	s.durableNext = b.end
	s.advanceHistory()
	s.publish()
	s.release(len(b.reqs))
	// One close wakes every writer of the batch.
	close(b.done)
	s.m.appends.Add(float64(b.appended))
	s.m.updates.Add(float64(b.updated))
	if b.appended > 0 {
		s.m.batchRecords.Observe(float64(b.appended))
	}
	return async
}

// applyUpdate rewrites one state trailer in place (made durable by the
// batch's fdatasync). It reads the record first: the destination class
// decides the trailer's layout, and a historical record must not change.
func (s *Store) applyUpdate(r *request) error {
	if r.index < s.base || r.index >= s.next {
		return fmt.Errorf("%w: %d", ErrNotFound, r.index)
	}
	off := int64(r.index-s.base) * RecordSize
	class := r.class
	mirrored := s.mirrored(r.index)
	if r.hasClass {
		if !s.isActive(r.index) {
			return fmt.Errorf("%w: %d", ErrHistorical, r.index)
		}
	} else {
		var b [RecordSize]byte
		if mirrored {
			copy(b[:], s.mirrorSlot(r.index))
		} else if _, err := s.f.ReadAt(b[:], off); err != nil {
			return ioError{fmt.Errorf("read %s: %w", s.path, err)}
		}
		var cur Record
		if err := Decode(b[:], &cur); err != nil {
			return fmt.Errorf("record %d: %w", r.index, err)
		}
		if cur.State.Disposition.Historical() {
			return fmt.Errorf("%w: %d", ErrHistorical, r.index)
		}
		class = cur.DstClass
	}
	if r.state.Disposition.Historical() && r.state.Discharged.IsZero() {
		r.state.Discharged = s.opts.Now()
	}
	if mirrored {
		// Written with its neighbours once the batch's updates are in.
		if err := EncodeState(s.mirrorSlot(r.index)[stateOffset:], class, &r.state); err != nil {
			return err
		}
		s.dirty = append(s.dirty, r.index)
		return nil
	}
	var st [StateSize]byte
	if err := EncodeState(st[:], class, &r.state); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(st[:], off+stateOffset); err != nil {
		return ioError{fmt.Errorf("write %s: %w", s.path, err)}
	}
	return nil
}

// isActive reports whether a record is active for an update: in the set
// of active records (which a batch joins when it is acknowledged, before
// anyone can know the new records' indexes) and not made historical by a
// batch written but not yet acknowledged.
func (s *Store) isActive(index uint64) bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.active.has(index) && s.retiring[index] == 0
}

// unretireLocked forgets one retirement of index once its batch is
// acknowledged or failed; s.cmu held.
func (s *Store) unretireLocked(index uint64) {
	if n := s.retiring[index]; n <= 1 {
		delete(s.retiring, index)
	} else {
		s.retiring[index] = n - 1
	}
}

// ioError marks an update that failed in the file itself, as opposed to
// one refused for its target: the former fails the store.
type ioError struct{ error }

func (e ioError) Unwrap() error { return e.error }

// advanceHistory moves the historical megabyte count forward when the
// oldest active record has crossed a megabyte boundary. It runs after the
// fdatasync that made the discharges durable, so historical-mb never claims
// a record whose discharge could still be lost.
func (s *Store) advanceHistory() {
	var h uint64
	if oldest, ok := s.active.oldest(); ok {
		h = (oldest - s.base) / RecordsPerMB
	} else {
		h = (s.durableNext - s.base) / RecordsPerMB
	}
	if h <= s.histMB {
		return
	}
	s.histMB = h
	// Keep only the newest value for the writer.
	select {
	case <-s.histWr:
	default:
	}
	s.histWr <- h
}

// historyWriter rewrites historical-mb off the commit path: the file is only
// an optimisation of startup, so it may lag.
func (s *Store) historyWriter() {
	defer s.histWg.Done()
	for h := range s.histWr {
		if err := WriteHistoricalMB(s.opts.Dir, h); err != nil {
			s.log.Warn("cannot update historical-mb", "error", err)
		}
	}
}
