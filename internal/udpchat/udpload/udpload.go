// Package udpload is the CHAT UDP load generator behind `switchboard
// bench udpchat`: many registered clients on their own sockets, either
// one or more senders broadcasting to all (fan-out), or every client
// sending private messages to the others (request rate).
package udpload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"switchboard/internal/udpchat"
)

// Modes.
const (
	Broadcast = "broadcast"
	Private   = "private"
)

// Config describes a run.
type Config struct {
	Addr string
	// Mode is Broadcast or Private.
	Mode string
	// Clients are the registered clients (receivers, and in Private
	// mode also senders).
	Clients int
	// Senders broadcast (Broadcast mode; they are among Clients).
	Senders int
	// Window is how many requests each sender has unanswered at most.
	Window int
	// Size is the text length.
	Size     int
	Duration time.Duration
	Warmup   time.Duration
	// Names prefixes the client names (default random, so that runs do
	// not collide).
	Names string
}

func (c *Config) setDefaults() {
	if c.Mode == "" {
		c.Mode = Broadcast
	}
	if c.Clients <= 0 {
		c.Clients = 1000
	}
	if c.Senders <= 0 {
		c.Senders = 1
	}
	c.Senders = min(c.Senders, c.Clients)
	if c.Window <= 0 {
		c.Window = 32
	}
	if c.Size <= 0 {
		c.Size = 32
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = min(c.Duration/5, 2*time.Second)
	} else if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Names == "" {
		c.Names = fmt.Sprintf("u%05x", rand.Uint32()&0xfffff)
	}
}

// Result is what a run measured over its window (the run without the
// warm-up).
type Result struct {
	Mode              string
	Clients, Senders  int
	Window            int
	Elapsed           time.Duration
	Requests, Answers int64 // sent, and answered (OK or own echo)
	Errors            int64 // Error answers
	Deliveries        int64 // 21/23 datagrams the clients read from others
	Lost              int64 // requests given up without an answer (whole run)
	AnswerP50         time.Duration
	AnswerP99         time.Duration
	ClientCPU         float64
}

// DeliveryRate is datagrams delivered to clients per second.
func (r Result) DeliveryRate() float64 { return float64(r.Deliveries) / r.Elapsed.Seconds() }

// AnswerRate is requests answered per second.
func (r Result) AnswerRate() float64 { return float64(r.Answers) / r.Elapsed.Seconds() }

func (r Result) String() string {
	var b strings.Builder
	switch r.Mode {
	case Broadcast:
		fmt.Fprintf(&b, "broadcast: %d sender(s) window %d, %d clients: %.0f datagrams/s delivered, %.0f broadcasts/s stored",
			r.Senders, r.Window, r.Clients, r.DeliveryRate(), r.AnswerRate())
	default:
		fmt.Fprintf(&b, "private: %d clients window %d: %.0f requests/s answered, %.0f datagrams/s delivered",
			r.Clients, r.Window, r.AnswerRate(), r.DeliveryRate())
	}
	fmt.Fprintf(&b, " over %v; answer latency p50 %v p99 %v; client CPU %.2f cores",
		r.Elapsed.Round(time.Millisecond), r.AnswerP50, r.AnswerP99, r.ClientCPU/r.Elapsed.Seconds())
	if r.Errors > 0 {
		fmt.Fprintf(&b, "; %d Error answers", r.Errors)
	}
	if r.Lost > 0 {
		fmt.Fprintf(&b, "; %d requests unanswered", r.Lost)
	}
	return b.String()
}

// client is one registered socket.
type client struct {
	name string
	conn *net.UDPConn
	pc   *ipv4.PacketConn

	deliveries atomic.Int64
	answers    atomic.Int64
	errs       atomic.Int64
	lost       atomic.Int64
	// window holds a token per unanswered request; the reader returns
	// them.
	window chan time.Time
	mu     sync.Mutex
	lat    []time.Duration
}

// Run registers the clients, loads the server for the duration and
// reports.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	if cfg.Mode != Broadcast && cfg.Mode != Private {
		return Result{}, fmt.Errorf("udpload: unknown mode %q", cfg.Mode)
	}
	ra, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return Result{}, err
	}
	clients := make([]*client, cfg.Clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	for i := range clients {
		conn, err := net.DialUDP("udp", nil, ra)
		if err != nil {
			return Result{}, fmt.Errorf("udpload: client %d: %w", i, err)
		}
		_ = conn.SetReadBuffer(4 << 20)
		c := &client{name: fmt.Sprintf("%s-%d", cfg.Names, i), conn: conn, pc: ipv4.NewPacketConn(conn), window: make(chan time.Time, cfg.Window)}
		clients[i] = c
		if err := c.register(); err != nil {
			return Result{}, fmt.Errorf("udpload: register %s: %w", c.name, err)
		}
	}
	senders := clients[:cfg.Senders]
	if cfg.Mode == Private {
		senders = clients
	}
	var counting atomic.Bool
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.read(&counting)
		}()
	}
	runCtx, stop := context.WithCancel(ctx)
	text := bytes.Repeat([]byte("x"), cfg.Size)
	for i, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.send(runCtx, cfg, clients, i, text)
		}()
	}
	select {
	case <-time.After(cfg.Warmup):
	case <-ctx.Done():
	}
	counting.Store(true)
	t0 := time.Now()
	cpuStart := cpuTime()
	select {
	case <-time.After(cfg.Duration - cfg.Warmup):
	case <-ctx.Done():
	}
	counting.Store(false)
	elapsed := time.Since(t0)
	cpu := cpuTime() - cpuStart
	stop()
	res := Result{Mode: cfg.Mode, Clients: cfg.Clients, Senders: len(senders), Window: cfg.Window, Elapsed: elapsed, ClientCPU: cpu}
	var lat []time.Duration
	for _, c := range clients {
		res.Deliveries += c.deliveries.Load()
		res.Answers += c.answers.Load()
		res.Errors += c.errs.Load()
		res.Lost += c.lost.Load()
		c.mu.Lock()
		lat = append(lat, c.lat...)
		c.mu.Unlock()
	}
	res.Requests = res.Answers + res.Errors
	for _, c := range clients {
		_, _ = c.conn.Write(udpchat.AppendPacket(nil, udpchat.OpLogout))
		c.conn.Close()
	}
	wg.Wait()
	clients = nil
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.AnswerP50 = lat[len(lat)/2]
		res.AnswerP99 = lat[len(lat)*99/100]
	}
	return res, ctx.Err()
}

// register claims the client's name, resending a few times.
func (c *client) register() error {
	buf := make([]byte, 2048)
	for try := 0; try < 10; try++ {
		if _, err := c.conn.Write(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte(c.name))); err != nil {
			return err
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.conn.Read(buf)
		if err != nil {
			continue
		}
		p, err := udpchat.Decode(buf[:n])
		if err != nil {
			continue
		}
		_ = c.conn.SetReadDeadline(time.Time{})
		switch p.Op {
		case udpchat.OpOK:
			return nil
		case udpchat.OpError:
			return errors.New(string(p.Data))
		}
	}
	return errors.New("no answer")
}

// send keeps Window requests outstanding until ctx ends.
func (c *client) send(ctx context.Context, cfg Config, all []*client, me int, text []byte) {
	var pkt []byte
	stall := time.NewTimer(time.Hour)
	defer stall.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c.window <- time.Now():
		default:
			// The window is full. A request whose answer was lost
			// would hold its token for ever: after a second, the
			// oldest is given up.
			stall.Reset(time.Second)
			select {
			case <-ctx.Done():
				return
			case c.window <- time.Now():
			case <-stall.C:
				<-c.window
				c.lost.Add(1)
				continue
			}
		}
		pkt = pkt[:0]
		if cfg.Mode == Broadcast {
			// Distinct texts, so that the server's duplicate filter
			// sees new messages.
			pkt = udpchat.AppendPacket(pkt, udpchat.OpBroadcast, fmt.Appendf(nil, "%x ", rand.Uint64()), text)
		} else {
			to := all[rand.IntN(len(all))]
			if to == c && len(all) > 1 {
				to = all[(me+1)%len(all)]
			}
			pkt = udpchat.AppendNameText(pkt, udpchat.OpPrivate, []byte(to.name), append(fmt.Appendf(nil, "%x ", rand.Uint64()), text...))
		}
		if _, err := c.conn.Write(pkt); err != nil {
			return
		}
	}
}

// read counts what arrives: deliveries from others, and answers to our
// own requests, which return window tokens.
func (c *client) read(counting *atomic.Bool) {
	msgs := make([]ipv4.Message, 32)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	me := []byte(c.name)
	for {
		n, err := c.pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		for i := 0; i < n; i++ {
			b := msgs[i].Buffers[0][:msgs[i].N]
			if len(b) < udpchat.HeaderSize {
				continue
			}
			answer := false
			switch b[0] {
			case udpchat.OpOK:
				answer = true
				if counting.Load() {
					c.answers.Add(1)
				}
			case udpchat.OpError:
				answer = true
				if counting.Load() {
					c.errs.Add(1)
				}
			case udpchat.OpPublic, udpchat.OpDirect:
				data := b[udpchat.HeaderSize:]
				if b[0] == udpchat.OpPublic && len(data) > len(me) && data[len(me)] == 0 && bytes.Equal(data[:len(me)], me) {
					answer = true // our own broadcast back
					if counting.Load() {
						c.answers.Add(1)
					}
				} else if counting.Load() {
					c.deliveries.Add(1)
				}
			}
			if answer {
				select {
				case t0 := <-c.window:
					if counting.Load() {
						c.mu.Lock()
						if len(c.lat) < 100000 {
							c.lat = append(c.lat, time.Since(t0))
						}
						c.mu.Unlock()
					}
				default:
				}
			}
		}
	}
}

// cpuTime is this process's user and system CPU seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
