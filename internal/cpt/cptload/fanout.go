// Package cptload is a CPT load generator. Run measures group fan-out:
// one or more senders pipeline SENDs into a group that many connections
// follow, and the MSG lines those connections receive are counted
// (`switchboard bench cpt`). RunIdle measures what idle logged-in
// connections cost the server (`switchboard bench cpt-idle`). WriteStore
// makes a large synthetic message store for SYNC benchmarks.
//
// The generator speaks CPT over raw TCP with the least parsing it can
// (a receiver only looks at the first four bytes of a line), because on
// a small machine it shares the cores with the server it measures. It
// works against any CPT server.
package cptload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/loadstat"
)

// Config describes one fan-out run.
type Config struct {
	// Addr is the CPT server's address.
	Addr string
	// Receivers is how many connections follow the group(s) and only
	// read (default 1000).
	Receivers int
	// Senders is how many connections send (default 1).
	Senders int
	// Window is how many SENDs one sender may have unanswered (default
	// 1000). Strict makes it 1: each SEND waits for its ACK.
	Window int
	Strict bool
	// Size is the length of each message text in bytes (default 32; at
	// least the stamp, about 20 bytes, is used).
	Size int
	// Duration is how long the senders send, warm-up included (default
	// 10s).
	Duration time.Duration
	// Warmup is the start of the run left out of the rates (default a
	// fifth of Duration, at most 2s; negative: none).
	Warmup time.Duration
	// Group is the group's name (default "bench").
	Group string
	// SplitGroups gives every sender a group of its own, Group-0,
	// Group-1, ..., and divides the receivers evenly among them. Without
	// it every sender posts to Group and every receiver follows it.
	SplitGroups bool
	// Count, if positive, stops each sender after that many SENDs.
	Count int
	// Names is the prefix of the login names (default "lg" and a random
	// tag, so that runs at once do not collide). Only MSG lines from
	// senders with this prefix are counted, so that messages of an
	// earlier run into the same group do not inflate a run's figures.
	Names string
	// Metrics, if set, is the server's Prometheus URL: the run reads the
	// server's CPU time from it at both ends of the measured window.
	Metrics string
	// Drain bounds the wait for the last ACKs and deliveries after the
	// senders stop (default 15s).
	Drain time.Duration
	// Dialers is how many connections are set up at once (default 32).
	Dialers int
}

func (c *Config) setDefaults() {
	if c.Receivers < 0 {
		c.Receivers = 0
	} else if c.Receivers == 0 {
		c.Receivers = 1000
	}
	if c.Senders <= 0 {
		c.Senders = 1
	}
	if c.Window <= 0 {
		c.Window = 1000
	}
	if c.Strict {
		c.Window = 1
	}
	if c.Size <= 0 {
		c.Size = 32
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	c.Warmup = loadstat.Warmup(c.Warmup, c.Duration)
	if c.Group == "" {
		c.Group = "bench"
	}
	if c.Names == "" {
		// A fixed width, so that no run's tag is a prefix of another's.
		c.Names = fmt.Sprintf("lg%06x", rand.Uint32()&0xffffff)
	}
	if c.Drain <= 0 {
		c.Drain = 15 * time.Second
	}
	if c.Dialers <= 0 {
		c.Dialers = 32
	}
}

// Result is what a fan-out run measured. The rates are over the measured
// window (the run without its warm-up); the totals are over the whole
// run, the drain after the senders stopped included.
type Result struct {
	Receivers, Senders, Window, Groups int
	SplitGroups                        bool

	// Elapsed is the measured window.
	Elapsed time.Duration
	// Deliveries are the MSG lines the receivers read in the window;
	// SenderDeliveries those the senders read (in one shared group every
	// sender also follows the group and gets the others' messages).
	Deliveries, SenderDeliveries int64
	// Acks are the ACKs the senders read in the window.
	Acks int64

	// Sent, Acked and Declined count SENDs and their answers.
	Sent, Acked, Declined int64
	// TotalDeliveries and TotalSenderDeliveries are all the MSG lines
	// read; Expected and ExpectedSender are how many every ACKed message
	// should have made (each ACKed message goes to every other member of
	// its group).
	TotalDeliveries, TotalSenderDeliveries int64
	Expected, ExpectedSender               int64
	// Cut counts connections that the server closed before the end.
	Cut int

	// AckP50 ... are SEND-to-ACK latencies in the window; MsgP50 and
	// MsgP99 SEND-to-MSG latencies seen by the first receiver.
	AckP50, AckP99, AckMax time.Duration
	MsgP50, MsgP99         time.Duration

	// ServerCPU is the server's CPU time in the window (seconds; 0
	// without Config.Metrics); ClientCPU this process's.
	ServerCPU, ClientCPU float64
}

// DeliveryRate is MSG lines received by the receivers per second.
func (r Result) DeliveryRate() float64 { return float64(r.Deliveries) / r.Elapsed.Seconds() }

// AckRate is messages stored (ACKed) per second.
func (r Result) AckRate() float64 { return float64(r.Acks) / r.Elapsed.Seconds() }

// Complete reports whether every ACKed message reached every member it
// should have.
func (r Result) Complete() bool {
	return r.TotalDeliveries == r.Expected && r.TotalSenderDeliveries == r.ExpectedSender && r.Cut == 0
}

func (r Result) String() string {
	var b strings.Builder
	mode := fmt.Sprintf("window %d", r.Window)
	if r.Window == 1 {
		mode = "strict"
	}
	groups := "one group"
	if r.SplitGroups {
		groups = fmt.Sprintf("%d groups", r.Groups)
	}
	fmt.Fprintf(&b, "%d sender(s) %s, %d receivers, %s: %.0f deliveries/s, %.0f ACKs/s over %v",
		r.Senders, mode, r.Receivers, groups, r.DeliveryRate(), r.AckRate(), r.Elapsed.Round(time.Millisecond))
	if r.SenderDeliveries > 0 {
		fmt.Fprintf(&b, " (+%.0f/s to senders)", float64(r.SenderDeliveries)/r.Elapsed.Seconds())
	}
	fmt.Fprintf(&b, "; ACK latency p50 %v p99 %v max %v", r.AckP50, r.AckP99, r.AckMax)
	if r.MsgP50 > 0 {
		fmt.Fprintf(&b, "; SEND-to-MSG p50 %v p99 %v", r.MsgP50, r.MsgP99)
	}
	secs := r.Elapsed.Seconds()
	if r.ServerCPU > 0 {
		fmt.Fprintf(&b, "; server CPU %.2f cores", r.ServerCPU/secs)
		if r.Deliveries > 0 {
			fmt.Fprintf(&b, " (%.0f ns/delivery)", r.ServerCPU*1e9/float64(r.Deliveries+r.SenderDeliveries))
		}
	}
	fmt.Fprintf(&b, "; client CPU %.2f cores", r.ClientCPU/secs)
	fmt.Fprintf(&b, "; totals: sent %d, acked %d", r.Sent, r.Acked)
	if r.Declined > 0 {
		fmt.Fprintf(&b, ", declined %d", r.Declined)
	}
	fmt.Fprintf(&b, ", deliveries %d of %d", r.TotalDeliveries, r.Expected)
	if r.ExpectedSender > 0 || r.TotalSenderDeliveries > 0 {
		fmt.Fprintf(&b, " (+%d of %d to senders)", r.TotalSenderDeliveries, r.ExpectedSender)
	}
	if r.Cut > 0 {
		fmt.Fprintf(&b, ", %d connections cut", r.Cut)
	}
	return b.String()
}

// lineBuf is the read buffer of every connection: large, so that a
// receiver takes many MSG lines per read system call.
const lineBuf = 64 << 10

// receiver is one connection that follows a group and counts MSG lines.
type receiver struct {
	_     [64]byte // keep the counter off its neighbours' cache lines
	n     atomic.Int64
	_     [56]byte
	nc    net.Conn
	br    *bufio.Reader
	group int
	// prefix is "MSG <group> <name prefix>": only this run's messages
	// count, not those of an earlier run into the same group that the
	// server may still be pushing.
	prefix []byte
	cut    bool // the read ended before the run closed the connection
	// lat, for the first receiver only, collects SEND-to-MSG latencies.
	lat []time.Duration
}

// sender is one connection that sends SENDs and reads their answers.
type sender struct {
	idx    int
	group  int
	prefix []byte // as receiver.prefix
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer

	sent     atomic.Int64 // SENDs written
	answered atomic.Int64 // ACKs and DECLINEs read
	acked    atomic.Int64
	declined atomic.Int64
	msgs     atomic.Int64 // MSG lines read (other senders' messages)
	// wake is signalled when answered moves, for the writer waiting on
	// its window.
	wake chan struct{}
	// ring holds the send time of SEND k at k % window, for the ACK
	// latency: answers come in command order.
	ring []atomic.Int64
	lat  []time.Duration // owned by the reader
	cut  bool
	done chan struct{} // closed when the reader ends
}

// run is everything one Run needs.
type run struct {
	cfg       Config
	groups    []string
	recv      []*receiver
	send      []*sender
	measuring atomic.Bool
	// measureFrom and measureTo bound the window in UnixNano: an ACK's
	// latency counts when its SEND was written inside it, even if the
	// ACK comes after (the window ends when the last SEND is written).
	measureFrom, measureTo atomic.Int64
	closing                atomic.Bool
	readers                sync.WaitGroup
}

// Run logs in the receivers and senders, makes every receiver follow its
// group, sends for cfg.Duration (or cfg.Count SENDs each), waits for the
// last answers and deliveries, and closes everything.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	r := &run{cfg: cfg}
	ngroups := 1
	if cfg.SplitGroups {
		ngroups = cfg.Senders
	}
	for g := range ngroups {
		name := cfg.Group
		if cfg.SplitGroups {
			name = cfg.Group + "-" + strconv.Itoa(g)
		}
		r.groups = append(r.groups, name)
	}
	defer r.close()
	if err := r.connect(ctx); err != nil {
		return Result{}, err
	}
	return r.measure(ctx)
}

// connect sets up every connection: CONNECT, then SYNC of the group from
// now, which makes the connection follow it (the MSG lines of the reply,
// messages of this very second, are not counted).
func (r *run) connect(ctx context.Context) error {
	cfg := &r.cfg
	r.recv = make([]*receiver, cfg.Receivers)
	r.send = make([]*sender, cfg.Senders)
	type job struct {
		name  string
		group int
		set   func(net.Conn, *bufio.Reader)
	}
	jobs := make(chan job)
	errc := make(chan error, cfg.Dialers)
	var wg sync.WaitGroup
	for range cfg.Dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				nc, br, err := login(ctx, cfg.Addr, j.name, r.groups[j.group])
				if err != nil {
					errc <- err
					// Drain the rest so that the producer is not stuck.
					for range jobs {
					}
					return
				}
				j.set(nc, br)
			}
		}()
	}
	var mu sync.Mutex
	produce := func() {
		defer close(jobs)
		for i := range cfg.Receivers {
			g := i % len(r.groups)
			j := job{name: fmt.Sprintf("%sr%d", cfg.Names, i), group: g, set: func(nc net.Conn, br *bufio.Reader) {
				mu.Lock()
				r.recv[i] = &receiver{nc: nc, br: br, group: g, prefix: r.msgPrefix(g)}
				mu.Unlock()
			}}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
		for i := range cfg.Senders {
			g := 0
			if cfg.SplitGroups {
				g = i
			}
			j := job{name: fmt.Sprintf("%ss%d", cfg.Names, i), group: g, set: func(nc net.Conn, br *bufio.Reader) {
				mu.Lock()
				r.send[i] = &sender{idx: i, group: g, prefix: r.msgPrefix(g), nc: nc, br: br, bw: bufio.NewWriterSize(nc, lineBuf),
					wake: make(chan struct{}, 1), ring: make([]atomic.Int64, cfg.Window), done: make(chan struct{})}
				mu.Unlock()
			}}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}
	produce()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	return ctx.Err()
}

// msgPrefix is the start of a MSG line of this run in group g.
func (r *run) msgPrefix(g int) []byte {
	return []byte("MSG " + r.groups[g] + " " + r.cfg.Names)
}

// login dials, logs in as name and SYNCs group from now.
func login(ctx context.Context, addr, name, group string) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (net.Conn, *bufio.Reader, error) {
		nc.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("CONNECT %s\nSYNC %s %d\n", name, group, time.Now().Unix())
	if _, err := nc.Write([]byte(req)); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(nc, lineBuf)
	l, err := br.ReadSlice('\n')
	if err != nil {
		return fail(err)
	}
	if string(l) != "ACCEPT\n" {
		return fail(fmt.Errorf("CONNECT answered %q", bytes.TrimSpace(l)))
	}
	for {
		l, err := br.ReadSlice('\n')
		if err != nil {
			return fail(err)
		}
		if string(l) == "ENDSYNC\n" {
			break
		}
		if !bytes.HasPrefix(l, []byte("MSG ")) {
			return fail(fmt.Errorf("SYNC answered %q", bytes.TrimSpace(l)))
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// snapshot is the counters at one instant.
type snapshot struct {
	at                 time.Time
	deliveries, sdeliv int64
	acks               int64
	serverCPU          float64
	clientCPU          float64
}

func (r *run) snap() snapshot {
	s := snapshot{at: time.Now(), clientCPU: loadstat.ProcessCPU()}
	for _, rc := range r.recv {
		s.deliveries += rc.n.Load()
	}
	for _, sd := range r.send {
		s.acks += sd.acked.Load()
		s.sdeliv += sd.msgs.Load()
	}
	if r.cfg.Metrics != "" {
		if m, err := loadstat.Scrape(r.cfg.Metrics); err == nil {
			s.serverCPU = m["process_cpu_seconds_total"]
		}
	}
	return s
}

func (r *run) measure(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	for i, rc := range r.recv {
		r.readers.Add(1)
		go func() {
			defer r.readers.Done()
			r.receive(rc, i == 0)
		}()
	}
	for _, sd := range r.send {
		r.readers.Add(1)
		go func() {
			defer r.readers.Done()
			r.readAnswers(sd)
		}()
	}
	start := time.Now()
	var t1 snapshot
	r.measureTo.Store(math.MaxInt64)
	if cfg.Warmup == 0 {
		// Without a warm-up the window opens before the first SEND is
		// written, so that every SEND's ACK latency is in it (a short run
		// can be over before a window opened after the writers started).
		t1 = r.snap()
		r.measureFrom.Store(start.UnixNano())
		r.measuring.Store(true)
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	writeErrs := make([]error, len(r.send))
	for i, sd := range r.send {
		writers.Add(1)
		go func() {
			defer writers.Done()
			writeErrs[i] = r.write(sd, stop)
		}()
	}
	writersDone := make(chan struct{})
	go func() {
		writers.Wait()
		close(writersDone)
	}()

	warm := time.NewTimer(cfg.Warmup)
	end := time.NewTimer(cfg.Duration)
	defer warm.Stop()
	defer end.Stop()
	if cfg.Warmup != 0 {
		select {
		case <-warm.C:
			t1 = r.snap()
			r.measureFrom.Store(time.Now().UnixNano())
			r.measuring.Store(true)
		case <-writersDone:
		case <-ctx.Done():
		}
	}
	if t1.at.IsZero() {
		// The senders finished (or the run was cancelled) within the
		// warm-up: measure from the start, which is all there is.
		t1 = snapshot{at: start}
		r.measureFrom.Store(start.UnixNano())
	} else {
		select {
		case <-end.C:
		case <-writersDone:
		case <-ctx.Done():
		}
	}
	t2 := r.snap()
	r.measureTo.Store(time.Now().UnixNano())
	r.measuring.Store(false)
	close(stop)
	<-writersDone

	// Drain: every SEND written gets its answer, then every ACKed message
	// reaches its members.
	deadline := time.Now().Add(cfg.Drain)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for _, sd := range r.send {
		for sd.answered.Load() < sd.sent.Load() && time.Now().Before(deadline) {
			select {
			case <-sd.wake:
			case <-sd.done:
			case <-tick.C:
			}
			if isClosed(sd.done) {
				break
			}
		}
	}
	res := Result{Receivers: cfg.Receivers, Senders: cfg.Senders, Window: cfg.Window,
		Groups: len(r.groups), SplitGroups: cfg.SplitGroups}
	ackedBy := make([]int64, len(r.groups))
	members := make([]int64, len(r.groups))
	for _, rc := range r.recv {
		members[rc.group]++
	}
	for _, sd := range r.send {
		ackedBy[sd.group] += sd.acked.Load()
	}
	for g := range r.groups {
		res.Expected += ackedBy[g] * members[g]
	}
	for _, sd := range r.send {
		res.ExpectedSender += ackedBy[sd.group] - sd.acked.Load()
	}
	for time.Now().Before(deadline) {
		var got, sgot int64
		for _, rc := range r.recv {
			got += rc.n.Load()
		}
		for _, sd := range r.send {
			sgot += sd.msgs.Load()
		}
		if got >= res.Expected && sgot >= res.ExpectedSender {
			break
		}
		<-tick.C
	}
	r.close()

	res.Elapsed = t2.at.Sub(t1.at)
	if res.Elapsed <= 0 {
		res.Elapsed = time.Nanosecond
	}
	res.Deliveries = t2.deliveries - t1.deliveries
	res.SenderDeliveries = t2.sdeliv - t1.sdeliv
	res.Acks = t2.acks - t1.acks
	if t1.serverCPU > 0 {
		res.ServerCPU = t2.serverCPU - t1.serverCPU
	}
	res.ClientCPU = t2.clientCPU - t1.clientCPU
	var acks []time.Duration
	for _, sd := range r.send {
		res.Sent += sd.sent.Load()
		res.Acked += sd.acked.Load()
		res.Declined += sd.declined.Load()
		res.TotalSenderDeliveries += sd.msgs.Load()
		acks = append(acks, sd.lat...)
		if sd.cut {
			res.Cut++
		}
	}
	for _, rc := range r.recv {
		res.TotalDeliveries += rc.n.Load()
		if rc.cut {
			res.Cut++
		}
	}
	res.AckP50, res.AckP99, res.AckMax = loadstat.Percentiles(acks)
	if len(r.recv) > 0 {
		res.MsgP50, res.MsgP99, _ = loadstat.Percentiles(r.recv[0].lat)
	}
	for _, err := range writeErrs {
		if err != nil && res.Cut == 0 {
			return res, err
		}
	}
	return res, nil
}

// close closes every connection and waits for the readers.
func (r *run) close() {
	if r.closing.Swap(true) {
		return
	}
	for _, rc := range r.recv {
		if rc != nil {
			rc.nc.Close()
		}
	}
	for _, sd := range r.send {
		if sd != nil {
			sd.nc.Close()
		}
	}
	r.readers.Wait()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// receive counts the MSG lines of one receiver until its connection
// closes.
func (r *run) receive(rc *receiver, sample bool) {
	for {
		l, err := rc.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue // a line longer than the buffer: its end is counted
			}
			rc.cut = !r.closing.Load()
			return
		}
		if !bytes.HasPrefix(l, rc.prefix) {
			continue
		}
		rc.n.Add(1)
		if sample && r.measuring.Load() {
			if t, ok := msgStamp(l); ok {
				rc.lat = append(rc.lat, time.Since(t))
			}
		}
	}
}

// readAnswers reads one sender's ACKs, DECLINEs and MSG lines.
func (r *run) readAnswers(sd *sender) {
	defer close(sd.done)
	w := int64(len(sd.ring))
	var answered, published int64
	publish := func() {
		if answered != published {
			published = answered
			sd.answered.Store(answered)
			select {
			case sd.wake <- struct{}{}:
			default:
			}
		}
	}
	for {
		l, err := sd.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			publish()
			sd.cut = !r.closing.Load()
			return
		}
		switch {
		case bytes.HasPrefix(l, sd.prefix):
			sd.msgs.Add(1)
		case len(l) >= 4 && string(l[:4]) == "MSG ":
			// A message of an earlier run into the same group.
		case string(l) == "ACK\n":
			if sent := sd.ring[answered%w].Load(); sent >= r.measureFrom.Load() && r.measureFrom.Load() != 0 && sent <= r.measureTo.Load() {
				sd.lat = append(sd.lat, time.Duration(time.Now().UnixNano()-sent))
			}
			answered++
			sd.acked.Add(1)
		case bytes.HasPrefix(l, []byte("DECLINE")):
			answered++
			sd.declined.Add(1)
		}
		if sd.br.Buffered() == 0 || answered-published >= w/4+1 {
			publish()
		}
	}
}

// write sends SENDs while the window allows, until stop or Count.
func (r *run) write(sd *sender, stop <-chan struct{}) error {
	cfg := &r.cfg
	w := int64(cfg.Window)
	group := r.groups[sd.group]
	var seq int64
	line := make([]byte, 0, 64+cfg.Size+len(group))
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		out := seq - sd.answered.Load()
		if out >= w {
			select {
			case <-sd.wake:
				continue
			case <-stop:
				return nil
			case <-sd.done:
				return fmt.Errorf("sender %d: connection closed", sd.idx)
			}
		}
		n := w - out
		if cfg.Count > 0 {
			n = min(n, int64(cfg.Count)-seq)
			if n <= 0 {
				return nil
			}
		}
		now := time.Now().UnixNano()
		for range n {
			sd.ring[seq%w].Store(now)
			line = appendSend(line[:0], group, sd.idx, seq, now, cfg.Size)
			if _, err := sd.bw.Write(line); err != nil {
				return err
			}
			seq++
		}
		sd.sent.Store(seq)
		if err := sd.bw.Flush(); err != nil {
			return err
		}
	}
}

// appendSend appends "SEND group text" where the text is stamped
// "<sender>.<seq>.<nanos>." in base 36 and padded with x to size, so that
// no two texts are equal and a receiver can tell the send time.
func appendSend(b []byte, group string, idx int, seq, nanos int64, size int) []byte {
	b = append(b, "SEND "...)
	b = append(b, group...)
	b = append(b, ' ')
	start := len(b)
	b = strconv.AppendInt(b, int64(idx), 36)
	b = append(b, '.')
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, '.')
	b = strconv.AppendInt(b, nanos, 36)
	b = append(b, '.')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return append(b, '\n')
}

// msgStamp reads the send time from a MSG line of a stamped text:
// "MSG <group> <sender> <ts> <idx>.<seq>.<nanos>.xxx".
func msgStamp(l []byte) (time.Time, bool) {
	for range 4 {
		i := bytes.IndexByte(l, ' ')
		if i < 0 {
			return time.Time{}, false
		}
		l = l[i+1:]
	}
	parts := bytes.SplitN(l, []byte("."), 4)
	if len(parts) < 4 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(string(parts[2]), 36, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
