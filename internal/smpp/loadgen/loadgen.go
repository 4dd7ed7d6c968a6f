// Package loadgen is an SMPP load generator and sink: `switchboard bench
// smpp` binds to any SMSC and submits as fast as its window (or a rate)
// allows; `switchboard bench smpp-sink` is an SMSC that stores nothing and
// measures what reaches it. Both speak SMPP through the project's own
// session layer, so they also work against other SMSCs.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/loadstat"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

// Config describes one load run.
type Config struct {
	Addr               string
	SystemID, Password string
	// Transmitter binds as a transmitter instead of a transceiver.
	Transmitter bool
	Binds       int           // sessions (default 4)
	Window      int           // submit_sm outstanding per session (default 100)
	Rate        int           // total submits per second; 0 = as fast as the windows allow
	Size        int           // characters of GSM text per message (default 20, at least 24 is used when stamping)
	Duration    time.Duration // default 10s
	Count       int           // stop after this many submits in total (0 = no limit)
	Src, Dst    string        // numbers; a Dst ending in "x" characters is filled with the sequence number
	RegDelivery bool          // ask for receipts
}

// Result is what a run measured.
type Result struct {
	Sent, OK  int64
	Errors    map[string]int64
	Elapsed   time.Duration
	P50, P99  time.Duration
	Max       time.Duration
	Receipts  int64
	Delivered int64 // deliver_sm other than receipts received
}

// Rate is accepted submits per second.
func (r Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "submitted %d, accepted %d in %v: %.0f msg/s; submit_sm_resp latency p50 %v p99 %v max %v",
		r.Sent, r.OK, r.Elapsed.Round(time.Millisecond), r.Rate(), r.P50, r.P99, r.Max)
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s %d", k, r.Errors[k])
		}
	}
	if r.Receipts > 0 || r.Delivered > 0 {
		fmt.Fprintf(&b, "; receipts %d, deliver_sm %d", r.Receipts, r.Delivered)
	}
	return b.String()
}

// Stamp puts a sequence number and the send time into a message text, so
// that a sink can measure end-to-end latency and no two texts are equal
// (an SMSC's duplicate detection must not fold them).
func Stamp(seq int64, now time.Time, size int) string {
	return string(AppendStamp(nil, seq, now, size))
}

// AppendStamp is Stamp appending to b, for the hot loop.
func AppendStamp(b []byte, seq int64, now time.Time, size int) []byte {
	start := len(b)
	b = append(b, "lg"...)
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, " t"...)
	b = strconv.AppendInt(b, now.UnixNano(), 36)
	b = append(b, ' ')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return b
}

// ParseStamp reads the send time back from a stamped text.
func ParseStamp(text string) (time.Time, bool) {
	i := strings.Index(text, " t")
	if !strings.HasPrefix(text, "lg") || i < 0 {
		return time.Time{}, false
	}
	rest := text[i+2:]
	if j := strings.IndexByte(rest, ' '); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.ParseInt(rest, 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// counter is the ESME side's handler of deliver_sm: it counts and
// answers.
type counter struct{ receipts, delivered atomic.Int64 }

func (c *counter) HandleRequest(s *smpp.Session, p pdu.PDU) {
	if sm, ok := p.Body.(*pdu.SM); ok && sm.Cmd == pdu.DeliverSM {
		if sm.ESMClass&0x3C == 0x04 {
			c.receipts.Add(1)
		} else {
			c.delivered.Add(1)
		}
		s.Respond(p.Header.Sequence, pdu.StatusOK, &pdu.SMResp{Cmd: pdu.DeliverSMResp})
		return
	}
	s.Respond(p.Header.Sequence, pdu.StatusInvCmdID, &pdu.GenericNackBody{})
}

// Run binds cfg.Binds sessions and submits until the duration or count is
// reached, then unbinds.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Binds <= 0 {
		cfg.Binds = 4
	}
	if cfg.Window <= 0 {
		cfg.Window = 100
	}
	if cfg.Size <= 0 {
		cfg.Size = 20
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	cnt := &counter{}
	var sessions []*smpp.Session
	var wg sync.WaitGroup
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range sessions {
			s.Unbind(uctx)
		}
		wg.Wait()
	}()
	bindCmd := pdu.BindTransceiver
	if cfg.Transmitter {
		bindCmd = pdu.BindTransmitter
	}
	for range cfg.Binds {
		conn, err := net.DialTimeout("tcp", cfg.Addr, 5*time.Second)
		if err != nil {
			return Result{}, err
		}
		s := smpp.NewSession(conn, smpp.SessionConfig{Window: cfg.Window, ResponseTimeout: 30 * time.Second}, cnt, nil, nil)
		wg.Add(1)
		go func() { defer wg.Done(); s.Run() }()
		sessions = append(sessions, s)
		resp, err := s.Call(ctx, &pdu.Bind{Cmd: bindCmd, SystemID: cfg.SystemID, Password: cfg.Password, InterfaceVersion: 0x34})
		if err != nil {
			return Result{}, fmt.Errorf("bind: %w", err)
		}
		if resp.Header.Status != pdu.StatusOK {
			return Result{}, fmt.Errorf("bind: %w", resp.Header.Status)
		}
	}

	var (
		seq     atomic.Int64
		okN     atomic.Int64
		mu      sync.Mutex
		errs    = map[string]int64{}
		lats    []time.Duration
		runCtx  context.Context
		cancel  context.CancelFunc
		limiter <-chan time.Time
	)
	runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	if cfg.Rate > 0 {
		// Ticks of 1 ms hand out rate/1000 tokens each.
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		limiter = tk.C
	}
	tokens := make(chan struct{}, cfg.Binds*cfg.Window)
	if limiter != nil {
		go func() {
			acc := 0.0
			for {
				select {
				case <-runCtx.Done():
					return
				case <-limiter:
					acc += float64(cfg.Rate) / 1000
					for ; acc >= 1; acc-- {
						select {
						case tokens <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	countErr := func(name string) {
		mu.Lock()
		errs[name]++
		mu.Unlock()
	}
	start := time.Now()
	// One producer per session keeps its window full with Go calls; the
	// answers are counted by callbacks on the session's reader. (A
	// goroutine per window slot, each blocked in Call, cost a wake-up and
	// a select per message: the generator's CPU counts in every figure it
	// reports.)
	var workers sync.WaitGroup
	for _, s := range sessions {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var inflight sync.WaitGroup
			// The callbacks of one session run one at a time on its
			// reader, except for timeouts and the close; local is
			// theirs, under lmu.
			var lmu sync.Mutex
			local := make([]time.Duration, 0, 4096)
			defer func() {
				inflight.Wait()
				mu.Lock()
				lats = append(lats, local...)
				mu.Unlock()
			}()
			for runCtx.Err() == nil {
				if limiter != nil {
					select {
					case <-tokens:
					case <-runCtx.Done():
						return
					}
				}
				n := seq.Add(1)
				if cfg.Count > 0 && n > int64(cfg.Count) {
					return
				}
				t0 := time.Now()
				sm := &pdu.SM{
					Cmd:          pdu.SubmitSM,
					Source:       pdu.Address{TON: 1, NPI: 1, Addr: cfg.Src},
					Dest:         pdu.Address{TON: 1, NPI: 1, Addr: fill(cfg.Dst, n)},
					ShortMessage: AppendStamp(make([]byte, 0, max(cfg.Size, 32)), n, t0, cfg.Size),
				}
				if cfg.RegDelivery {
					sm.RegisteredDelivery = 1
				}
				inflight.Add(1)
				err := s.Go(runCtx, sm, func(resp pdu.PDU, err error) {
					defer inflight.Done()
					switch {
					case err != nil:
						countErr(errName(err))
					case resp.Header.Status != pdu.StatusOK:
						countErr(resp.Header.Status.String())
					default:
						okN.Add(1)
						d := time.Since(t0)
						lmu.Lock()
						local = append(local, d)
						lmu.Unlock()
					}
				})
				if err != nil {
					inflight.Done()
					if runCtx.Err() != nil || errors.Is(err, smpp.ErrClosed) {
						// Nothing was sent: the run ended while waiting
						// for a slot, or the session closed (the calls
						// in flight are counted by their callbacks).
						return
					}
					countErr(errName(err))
				}
			}
		}()
	}
	workers.Wait()
	elapsed := time.Since(start)
	res := Result{OK: okN.Load(), Errors: errs, Elapsed: elapsed}
	res.Sent = res.OK
	for _, n := range errs {
		res.Sent += n
	}
	res.P50, res.P99, res.Max = loadstat.Percentiles(lats)
	res.Receipts, res.Delivered = cnt.receipts.Load(), cnt.delivered.Load()
	return res, nil
}

func errName(err error) string {
	switch {
	case errors.Is(err, smpp.ErrTimeout):
		return "timeout"
	case errors.Is(err, smpp.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}

// fill replaces trailing 'x' characters of a number pattern with the
// low digits of n.
func fill(pattern string, n int64) string {
	k := len(pattern) - len(strings.TrimRight(pattern, "x"))
	if k == 0 {
		return pattern
	}
	d := strconv.FormatInt(n, 10)
	if len(d) > k {
		d = d[len(d)-k:]
	}
	return pattern[:len(pattern)-k] + strings.Repeat("0", k-len(d)) + d
}

// SinkResult is what a sink measured.
type SinkResult struct {
	Received int64
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
}

func (r SinkResult) String() string {
	return fmt.Sprintf("received %d in %v: %.0f msg/s; stamp-to-sink latency p50 %v p99 %v max %v",
		r.Received, r.Elapsed.Round(time.Millisecond), float64(r.Received)/r.Elapsed.Seconds(), r.P50, r.P99, r.Max)
}

// Sink is an SMSC that accepts any bind (or the given credentials), answers
// every submit_sm and deliver_sm at once, and records stamp latencies.
type Sink struct {
	SystemID, Password string // empty: accept any
	// Status, if set, answers every submit_sm with it (throttle tests).
	Status atomic.Uint32

	mu      sync.Mutex // guards lats, first, last, waiters
	lats    []time.Duration
	first   time.Time
	last    time.Time
	waiters []sinkWaiter
	n       atomic.Int64
	ids     atomic.Uint64
	srvWG   sync.WaitGroup
	lnMu    sync.Mutex
	lns     []net.Listener
	sess    map[*smpp.Session]struct{}
	closing bool
}

type sinkWaiter struct {
	n    int64
	done chan struct{}
}

// WaitReceived returns once n messages have been taken, or when ctx ends.
func (k *Sink) WaitReceived(ctx context.Context, n int64) error {
	k.mu.Lock()
	if k.n.Load() >= n {
		k.mu.Unlock()
		return nil
	}
	w := sinkWaiter{n: n, done: make(chan struct{})}
	k.waiters = append(k.waiters, w)
	k.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve accepts sessions on ln until Close.
func (k *Sink) Serve(ln net.Listener) error {
	k.lnMu.Lock()
	k.lns = append(k.lns, ln)
	if k.sess == nil {
		k.sess = map[*smpp.Session]struct{}{}
	}
	k.lnMu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		s := smpp.NewSession(conn, smpp.SessionConfig{Window: 1000}, k, nil, nil)
		k.lnMu.Lock()
		if k.closing {
			k.lnMu.Unlock()
			conn.Close()
			continue
		}
		k.sess[s] = struct{}{}
		k.srvWG.Add(1)
		k.lnMu.Unlock()
		go func() {
			defer k.srvWG.Done()
			s.Run()
			k.lnMu.Lock()
			delete(k.sess, s)
			k.lnMu.Unlock()
		}()
	}
}

// Close stops the sink and waits for its sessions.
func (k *Sink) Close() {
	k.lnMu.Lock()
	k.closing = true
	for _, ln := range k.lns {
		ln.Close()
	}
	for s := range k.sess {
		s.Close()
	}
	k.lnMu.Unlock()
	k.srvWG.Wait()
}

// HandleRequest answers binds and messages.
func (k *Sink) HandleRequest(s *smpp.Session, p pdu.PDU) {
	hd := p.Header
	switch b := p.Body.(type) {
	case *pdu.Bind:
		resp := &pdu.BindResp{Cmd: b.Cmd.Response(), SystemID: "sink"}
		if k.SystemID != "" && (b.SystemID != k.SystemID || b.Password != k.Password) {
			s.Respond(hd.Sequence, pdu.StatusBindFail, resp)
			return
		}
		s.SetState(smpp.StateBoundTRX)
		s.Respond(hd.Sequence, pdu.StatusOK, resp)
	case *pdu.SM:
		if st := pdu.Status(k.Status.Load()); st != 0 && b.Cmd == pdu.SubmitSM {
			s.Respond(hd.Sequence, st, &pdu.SMResp{Cmd: b.Cmd.Response()})
			return
		}
		now := time.Now()
		id := strconv.FormatUint(k.ids.Add(1), 16)
		s.Respond(hd.Sequence, pdu.StatusOK, &pdu.SMResp{Cmd: b.Cmd.Response(), MessageID: id})
		t, ok := ParseStamp(string(b.ShortMessage))
		k.mu.Lock()
		n := k.n.Add(1)
		if k.first.IsZero() {
			k.first = now
		}
		k.last = now
		if ok {
			k.lats = append(k.lats, now.Sub(t))
		}
		kept := k.waiters[:0]
		for _, w := range k.waiters {
			if n >= w.n {
				close(w.done)
			} else {
				kept = append(kept, w)
			}
		}
		k.waiters = kept
		k.mu.Unlock()
	default:
		s.Respond(hd.Sequence, pdu.StatusInvCmdID, &pdu.GenericNackBody{})
	}
}

// Received is the number of messages taken so far.
func (k *Sink) Received() int64 { return k.n.Load() }

// Result summarizes what the sink saw.
func (k *Sink) Result() SinkResult {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := SinkResult{Received: k.n.Load(), Elapsed: k.last.Sub(k.first)}
	r.P50, r.P99, r.Max = loadstat.Percentiles(slices.Clone(k.lats))
	if r.Elapsed <= 0 {
		r.Elapsed = time.Nanosecond
	}
	return r
}

// Report prints the sink's progress every second until ctx ends.
func (k *Sink) Report(ctx context.Context, w io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	prev := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n := k.Received()
			if n != prev {
				fmt.Fprintf(w, "sink: %d msg/s, %d total\n", n-prev, n)
			}
			prev = n
		}
	}
}
