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
// fdatasync (about 170 µs on the reference machine).
const (
	maxLinger = 150 * time.Microsecond
	lingerGap = 20 * time.Microsecond
)

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
	// Now is the clock; tests replace it.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 || o.MaxBatch > DefaultMaxBatch {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
}

// Store appends records durably and updates the state of active ones. One
// goroutine, the committer, owns the file and every field below the line:
// callers hand it requests over a channel and wait for the group commit that
// carries theirs, so any number of concurrent appenders share one fdatasync.
type Store struct {
	opts   Options
	log    *slog.Logger
	m      *Metrics
	f      *os.File
	path   string
	reqs   chan *request
	done   chan struct{}
	histWr chan uint64
	histWg sync.WaitGroup

	// mu guards closed against the channel close in Close: senders hold it
	// shared while they send.
	mu     sync.RWMutex
	closed bool

	failed atomic.Pointer[error]
	// Published copies of committer state, for Stats and metrics.
	nextPub   atomic.Uint64
	activePub atomic.Int64
	histMBPub atomic.Uint64

	// Owned by the committer after Open returns.
	base      uint64 // absolute index of position 0 of pms.bin
	next      uint64 // absolute index the next record gets
	lastEntry int64  // entry times never go backwards in file order
	active    activeSet
	histMB    uint64
	buf       []byte
	batch     []*request
	removed   []uint64
}

type reqKind uint8

const (
	reqAppend reqKind = iota
	reqUpdate
)

type request struct {
	kind  reqKind
	recs  []*Record
	enc   []byte // recs encoded by the caller, index and entry time still zero
	index uint64
	state State
	err   error
	done  chan struct{}
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

// Open opens or creates the store in opts.Dir, recovers it after a crash,
// and calls visit for every active record (in file order) before returning.
// The caller turns those into queues. A torn tail left by a crash during an
// unacknowledged write is cut off with a log line; anything else that looks
// wrong is an error naming the file, and nothing is changed.
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
		reqs:   make(chan *request, 4*opts.MaxBatch),
		done:   make(chan struct{}),
		histWr: make(chan uint64, 1),
		buf:    make([]byte, opts.MaxBatch*RecordSize),
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	s.f = f
	if err := s.recover(visit); err != nil {
		f.Close()
		return nil, err
	}
	s.publish()
	s.histWg.Add(1)
	go s.historyWriter()
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
	if size > 0 {
		first := make([]byte, min(size, RecordSize))
		if _, err := s.f.ReadAt(first, 0); err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		if !allZero(first) && (len(first) < 2 || first[0] != magic0 || first[1] != magic1) {
			return fmt.Errorf("%s: %w", s.path, ErrForeign)
		}
		var r Record
		if len(first) == RecordSize {
			switch err := Decode(first, &r); {
			case err == nil || errors.Is(err, ErrStateCRC):
				if r.Index != base && base != 0 {
					s.log.Warn("index-base disagrees with the first record; the record wins", "file", s.path, "index_base", base, "first_index", r.Index)
				}
				base = r.Index
			case errors.Is(err, ErrVersion):
				return fmt.Errorf("%s: %w", s.path, err)
			case size/RecordSize > DefaultMaxBatch:
				return fmt.Errorf("%s: first record unreadable: %w (%w)", s.path, ErrCorrupt, err)
			}
			// Otherwise the whole file may be one torn first batch; the
			// scan below decides.
		}
	}
	if rem := size % RecordSize; rem != 0 {
		s.log.Warn("cutting partial record at the end of the store", "file", s.path, "bytes", rem)
		size -= rem
		if err := s.truncate(size); err != nil {
			return err
		}
	}
	n := uint64(size / RecordSize)
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
		if err := s.truncate(int64(end) * RecordSize); err != nil {
			return err
		}
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
	for pos := start; pos < n; {
		cnt := min(n-pos, chunk)
		b := buf[:cnt*RecordSize]
		if _, err := s.f.ReadAt(b, int64(pos)*RecordSize); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read %s: %w", s.path, err)
		}
		for i := uint64(0); i < cnt; i++ {
			p := pos + i
			rec := b[i*RecordSize : (i+1)*RecordSize]
			err := Decode(rec, &r)
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

func (s *Store) sync() error {
	if err := unix.Fdatasync(int(s.f.Fd())); err != nil {
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
	req.kind, req.recs = reqAppend, recs
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
	return s.do(ctx, req)
}

// Update replaces the state trailer of the active record at index, durably.
// A historical record is immutable: updating it fails with ErrHistorical.
func (s *Store) Update(ctx context.Context, index uint64, st State) error {
	req := requestPool.Get().(*request)
	req.kind, req.index, req.state = reqUpdate, index, st
	return s.do(ctx, req)
}

func (s *Store) do(ctx context.Context, req *request) error {
	if p := s.failed.Load(); p != nil {
		requestPool.Put(req.reset())
		return *p
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		requestPool.Put(req.reset())
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		requestPool.Put(req.reset())
		return ctx.Err()
	}
	s.mu.RUnlock()
	// Once queued, the request is written whatever the context says, so
	// wait for the outcome rather than report a write as failed.
	<-req.done
	err := req.err
	requestPool.Put(req.reset())
	return err
}

func (r *request) reset() *request {
	r.recs, r.err, r.state = nil, nil, State{}
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
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	close(s.histWr)
	s.histWg.Wait()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}

// Healthy returns nil while the store accepts writes.
func (s *Store) Healthy() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
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
}

// Stats returns current figures; safe from any goroutine.
func (s *Store) Stats() Stats {
	return Stats{Base: s.base, Next: s.nextPub.Load(), Active: s.activePub.Load(), HistoricalMB: s.histMBPub.Load()}
}

// Path is the store file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) publish() {
	s.nextPub.Store(s.next)
	s.activePub.Store(int64(s.active.count))
	s.histMBPub.Store(s.histMB)
	s.m.set(s)
}

// commit is the committer goroutine: it gathers whatever requests are
// waiting, writes them with one pwrite, and makes them durable with one
// fdatasync.
func (s *Store) commit() {
	defer close(s.done)
	prev := 0 // requests in the previous batch
	for req := range s.reqs {
		s.batch = append(s.batch[:0], req)
		records := len(req.recs)
		start := time.Now()
		last := start
	gather:
		for records < s.opts.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break gather
				}
				last = time.Now()
				if records+len(r.recs) > s.opts.MaxBatch {
					// Too big for this batch: it starts the next one.
					s.runBatch()
					s.batch = append(s.batch[:0], r)
					records = len(r.recs)
					continue
				}
				s.batch = append(s.batch, r)
				records += len(r.recs)
			default:
				// Under load, the writers released by the last sync are
				// waking up and about to send again. While requests keep
				// arriving (each within lingerGap of the last, and for at
				// most maxLinger in all), wait for them, so that they share
				// this sync instead of each costing one.
				if prev <= 1 {
					// A lone writer never waits. (Stopping once as many
					// writers as last time are back would lock a split
					// batch into staying split, so the gap decides.)
					break gather
				}
				now := time.Now()
				if now.Sub(last) > lingerGap || now.Sub(start) > maxLinger {
					break gather
				}
				runtime.Gosched()
			}
		}
		prev = len(s.batch)
		s.runBatch()
	}
}

// runBatch writes one batch and answers its requests.
func (s *Store) runBatch() {
	if p := s.failed.Load(); p != nil {
		for _, r := range s.batch {
			r.err = *p
			r.done <- struct{}{}
		}
		return
	}
	now := nanos(s.opts.Now())
	if now < s.lastEntry {
		now = s.lastEntry
	}
	pos := s.next
	nbuf := 0
	appended, updated := 0, 0
	removed := s.removed[:0]
	var ioErr error
	for _, r := range s.batch {
		switch r.kind {
		case reqAppend:
			s.placeAppend(r, pos, now, nbuf)
			pos += uint64(len(r.recs))
			nbuf += len(r.recs) * RecordSize
			appended += len(r.recs)
		case reqUpdate:
			r.err = s.applyUpdate(r)
			var ioe ioError
			if errors.As(r.err, &ioe) && ioErr == nil {
				ioErr = r.err
			}
			if r.err == nil {
				updated++
				if r.state.Disposition.Historical() {
					removed = append(removed, r.index)
				}
			}
		}
	}
	err := ioErr
	if err == nil && nbuf > 0 {
		if _, werr := s.f.WriteAt(s.buf[:nbuf], int64(s.next-s.base)*RecordSize); werr != nil {
			err = fmt.Errorf("write %s: %w", s.path, werr)
		}
	}
	if err == nil && (nbuf > 0 || updated > 0) {
		t0 := time.Now()
		err = s.sync()
		s.m.syncSeconds.Observe(time.Since(t0).Seconds())
		s.m.syncs.Inc()
	}
	if err != nil {
		// After a failed write or fsync the page cache and the disk may
		// disagree; nothing more can be acknowledged safely.
		err = fmt.Errorf("%w: %w", ErrFailed, err)
		s.failed.Store(&err)
		s.m.writeErrors.Inc()
		s.log.Error("message store write failed; refusing further writes", "file", s.path, "error", err)
		for _, r := range s.batch {
			if r.err == nil {
				r.err = err
			}
			r.done <- struct{}{}
		}
		return
	}
	for _, r := range s.batch {
		if r.kind == reqAppend && r.err == nil {
			for _, rec := range r.recs {
				if rec.State.Disposition == Active {
					s.active.add(rec.Index)
				}
			}
		}
	}
	for _, idx := range removed {
		s.active.remove(idx)
	}
	s.removed = removed
	if appended > 0 {
		s.lastEntry = now
	}
	s.next = pos
	s.m.appends.Add(float64(appended))
	s.m.updates.Add(float64(updated))
	if appended > 0 {
		s.m.batchRecords.Observe(float64(appended))
	}
	s.advanceHistory()
	s.publish()
	for _, r := range s.batch {
		r.done <- struct{}{}
	}
}

// placeAppend copies a request's records, encoded by Append, into the
// batch buffer at offset off, and gives them their indexes (from pos) and
// entry time.
func (s *Store) placeAppend(r *request, pos uint64, now int64, off int) {
	entry := fromNanos(now)
	copy(s.buf[off:], r.enc)
	for i, rec := range r.recs {
		rec.Index = pos + uint64(i)
		rec.Entry = entry
		b := s.buf[off+i*RecordSize : off+(i+1)*RecordSize]
		binary.BigEndian.PutUint64(b[indexOff:], rec.Index)
		binary.BigEndian.PutUint64(b[entryOff:], uint64(now))
		binary.BigEndian.PutUint32(b[bodyCRCOff:], bodyCRC(b))
	}
}

// applyUpdate rewrites one state trailer in place (made durable by the
// batch's fdatasync). It reads the record first: the destination class
// decides the trailer's layout, and a historical record must not change.
func (s *Store) applyUpdate(r *request) error {
	if r.index < s.base || r.index >= s.next {
		return fmt.Errorf("%w: %d", ErrNotFound, r.index)
	}
	off := int64(r.index-s.base) * RecordSize
	var b [RecordSize]byte
	if _, err := s.f.ReadAt(b[:], off); err != nil {
		return ioError{fmt.Errorf("read %s: %w", s.path, err)}
	}
	var cur Record
	if err := Decode(b[:], &cur); err != nil {
		return fmt.Errorf("record %d: %w", r.index, err)
	}
	if cur.State.Disposition.Historical() {
		return fmt.Errorf("%w: %d", ErrHistorical, r.index)
	}
	if r.state.Disposition.Historical() && r.state.Discharged.IsZero() {
		r.state.Discharged = s.opts.Now()
	}
	var st [StateSize]byte
	if err := EncodeState(st[:], cur.DstClass, &r.state); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(st[:], off+stateOffset); err != nil {
		return ioError{fmt.Errorf("write %s: %w", s.path, err)}
	}
	return nil
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
		h = (s.next - s.base) / RecordsPerMB
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
