// Package voiceload is the load generator behind `switchboard bench
// voice`: it registers users on a KV server, makes channels, joins every
// member from its own UDP socket, has every member send 512-byte frames at
// a fixed rate and measures what the members receive: forwarded packets
// per second, one-way latency (send to arrival, one clock) and the
// server's CPU time from its /metrics.
package voiceload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"switchboard/internal/loadstat"
	"switchboard/internal/voice"
)

// Config is one run.
type Config struct {
	// Control is the KV control address; AdminUID registers the members
	// and makes the channels.
	Control  string
	AdminUID uint64
	Channels int
	Members  int // per channel
	// Rate is the packets per second each member sends (50: 20 ms
	// frames); 0 sends as fast as the sender goroutines can.
	Rate     float64
	Duration time.Duration
	Warmup   time.Duration
	// Metrics is the server's /metrics URL ("": no server CPU reading).
	Metrics string
	// Senders is how many goroutines share the sending (default 2).
	Senders int
	// NoRead leaves the members' sockets unread after binding, so that
	// the load generator spends its CPU on sending only: the kernel drops
	// what overflows their buffers, Received stays 0, and the server's
	// own forwarded counter (Metrics) is the measurement of its capacity.
	NoRead bool
	// GRO turns UDP_GRO on at the members' sockets, so that the relay's
	// GSO sends (voice.gso) arrive as one coalesced read each instead of
	// one datagram per read. It lowers the load generator's CPU (and the
	// server's, which then does not cut its sends into datagrams on
	// loopback); real clients may not do it, so runs with it are not the
	// same measurement as runs without.
	GRO bool
}

// Result is what a run measured over the measured window (after warm-up).
type Result struct {
	Elapsed         time.Duration
	Sent, Received  uint64
	ServerForwarded float64 // the server's own counter, when Metrics is set
	P50, P99, Max   time.Duration
	ServerCPU       float64 // seconds of CPU the server used
	ClientCPU       float64 // seconds of CPU this process used
	Expected        uint64  // Sent × (Members-1): what a lossless relay delivers
}

// ReceivedRate is forwarded packets per second as the members counted them.
func (r Result) ReceivedRate() float64 { return float64(r.Received) / r.Elapsed.Seconds() }

func (r Result) String() string {
	loss := 0.0
	if r.Expected > 0 {
		loss = 100 * (1 - float64(r.Received)/float64(r.Expected))
	}
	s := fmt.Sprintf("%.1fs: sent %d (%.0f/s), received %d forwarded packets (%.0f/s, %.2f%% short of %d), latency p50 %s p99 %s max %s",
		r.Elapsed.Seconds(), r.Sent, float64(r.Sent)/r.Elapsed.Seconds(), r.Received, r.ReceivedRate(), loss, r.Expected,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	if r.ServerCPU > 0 {
		s += fmt.Sprintf(", server CPU %.2f s (%.0f%% of one core), server forwarded %.0f/s", r.ServerCPU,
			100*r.ServerCPU/r.Elapsed.Seconds(), r.ServerForwarded/r.Elapsed.Seconds())
	}
	s += fmt.Sprintf(", client CPU %.2f s", r.ClientCPU)
	return s
}

type member struct {
	uid  uint64
	conn *net.UDPConn
	to   *net.UDPAddr
	seq  uint32
}

type receiver struct {
	n   atomic.Uint64
	lat []int32 // microseconds, measured window only; owned by its goroutine until the run ends
}

// Run does one run.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Senders < 1 {
		cfg.Senders = 2
	}

	if cfg.Channels < 1 || cfg.Members < 2 {
		return Result{}, errors.New("voiceload: at least one channel of two members")
	}
	host, _, err := net.SplitHostPort(cfg.Control)
	if err != nil {
		return Result{}, err
	}
	c, err := voice.Dial(ctx, cfg.Control)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	var members []*member
	defer func() {
		for _, m := range members {
			m.conn.Close()
		}
	}()
	var chids []uint64
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range chids {
			_, _ = c.Do(dctx, voice.Request{Cmd: voice.CmdDelete, UID: cfg.AdminUID, Chid: id})
		}
		for _, m := range members {
			_, _ = c.Do(dctx, voice.Request{Cmd: voice.CmdUnregister, UID: cfg.AdminUID, Target: m.uid})
		}
	}()
	for range cfg.Channels {
		rep, err := c.Do(ctx, voice.Request{Cmd: voice.CmdCreate, UID: cfg.AdminUID})
		if err != nil {
			return Result{}, err
		}
		chids = append(chids, rep.Result)
		for range cfg.Members {
			u, err := c.Do(ctx, voice.Request{Cmd: voice.CmdRegister, UID: cfg.AdminUID})
			if err != nil {
				return Result{}, err
			}
			port, err := c.Do(ctx, voice.Request{Cmd: voice.CmdJoin, UID: cfg.AdminUID, Target: u.Result, Chid: rep.Result})
			if err != nil {
				return Result{}, err
			}
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
			if err != nil {
				return Result{}, err
			}
			_ = conn.SetReadBuffer(4 << 20)
			if cfg.GRO {
				if err := enableGRO(conn); err != nil {
					conn.Close()
					return Result{}, err
				}
			}
			members = append(members, &member{uid: u.Result, conn: conn, to: &net.UDPAddr{IP: net.ParseIP(host), Port: int(port.Result)}})
		}
	}
	// Bind every member with an acknowledged KEEPALIVE.
	var pkt [voice.PacketSize]byte
	for _, m := range members {
		if err := bind(m, pkt[:]); err != nil {
			return Result{}, err
		}
	}

	var measuring atomic.Int64 // Unix nanos the measured window starts; 0 before
	recv := make([]*receiver, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		recv[i] = &receiver{}
		if cfg.NoRead {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			receive(m, recv[i], &measuring, cfg.GRO)
		}()
	}
	stop := make(chan struct{})
	var sent atomic.Uint64
	var swg sync.WaitGroup
	for s := range cfg.Senders {
		var mine []*member
		for i := s; i < len(members); i += cfg.Senders {
			mine = append(mine, members[i])
		}
		swg.Add(1)
		go func() {
			defer swg.Done()
			send(mine, cfg.Rate, stop, &sent, &measuring)
		}()
	}
	warm := cfg.Warmup
	if warm <= 0 {
		warm = min(cfg.Duration/5, 2*time.Second)
	}
	sleep(ctx, warm)
	cpu0, fwd0 := scrapeCPU(cfg.Metrics)
	client0 := loadstat.ProcessCPU()
	t0 := time.Now()
	measuring.Store(t0.UnixNano())
	sent0 := sent.Load()
	var recv0 uint64
	for _, r := range recv {
		recv0 += r.n.Load()
	}
	sleep(ctx, cfg.Duration-warm)
	measuring.Store(-1) // stop sampling latencies
	elapsed := time.Since(t0)
	sent1 := sent.Load()
	var recv1 uint64
	for _, r := range recv {
		recv1 += r.n.Load()
	}
	cpu1, fwd1 := scrapeCPU(cfg.Metrics)
	client1 := loadstat.ProcessCPU()
	close(stop)
	swg.Wait()
	for _, m := range members {
		_ = m.conn.SetReadDeadline(time.Now())
	}
	wg.Wait()
	res := Result{Elapsed: elapsed, Sent: sent1 - sent0, Received: recv1 - recv0,
		ServerCPU: cpu1 - cpu0, ServerForwarded: fwd1 - fwd0, ClientCPU: client1 - client0}
	res.Expected = res.Sent * uint64(cfg.Members-1)
	var lat []int32
	for _, r := range recv {
		lat = append(lat, r.lat...)
	}
	p50, p99, pmax := loadstat.Percentiles(lat)
	us := func(v int32) time.Duration { return time.Duration(v) * time.Microsecond }
	res.P50, res.P99, res.Max = us(p50), us(p99), us(pmax)
	return res, ctx.Err()
}

func bind(m *member, pkt []byte) error {
	buf := make([]byte, 600)
	for try := range 10 {
		voice.PutSystem(pkt, voice.OpKeepalive, m.uid, uint32(try+1))
		if _, err := m.conn.WriteToUDP(pkt, m.to); err != nil {
			return err
		}
		_ = m.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, _, err := m.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			if p, err := voice.DecodePacket(buf[:n]); err == nil && p.System && p.Op == voice.OpAck {
				_ = m.conn.SetReadDeadline(time.Time{})
				return nil
			}
		}
	}
	return fmt.Errorf("voiceload: uid %d not acknowledged", m.uid)
}

// receive counts a member's datagrams with recvmmsg and samples the
// latency of every frame sent in the measured window. With gro, a read
// may hold several datagrams coalesced by the kernel; every KV datagram
// is PacketSize bytes, so the read is cut at every PacketSize bytes.
func receive(m *member, r *receiver, measuring *atomic.Int64, gro bool) {
	pc := ipv4.NewPacketConn(m.conn)
	// A coalesced read is one GSO send of the relay: at most 64 datagrams
	// (32 KiB), inside the 64 KiB of a UDP datagram that a buffer of
	// that size always holds.
	size, count := voice.PacketSize, 64
	if gro {
		size, count = 64<<10, 4
	}
	ms := make([]ipv4.Message, count)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size)}
	}
	for {
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || isTimeout(err) {
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		start := measuring.Load()
		var count uint64
		for i := range n {
			b := ms[i].Buffers[0][:ms[i].N]
			for len(b) > 0 {
				seg := b[:min(len(b), voice.PacketSize)]
				b = b[len(seg):]
				f, err := voice.DecodeFrame(seg)
				if err != nil {
					continue
				}
				count++
				if start > 0 && f.Sent >= start {
					r.lat = append(r.lat, int32(min((now-f.Sent)/1000, 1<<31-1)))
				}
			}
		}
		r.n.Add(count)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// send makes every member of ms send a frame per tick (1/rate), paced by
// the wall clock so that a late tick sends what it owes.
func send(ms []*member, rate float64, stop <-chan struct{}, sent *atomic.Uint64, measuring *atomic.Int64) {
	var pkt [voice.PacketSize]byte
	pcm := make([]int16, voice.FrameSamples)
	interval := time.Duration(0)
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	next := time.Now()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
			next = next.Add(interval)
		}
		for _, m := range ms {
			voice.PutFrame(pkt[:], m.uid, m.seq, time.Now(), pcm)
			if _, err := m.conn.WriteToUDP(pkt[:], m.to); err == nil {
				m.seq++
				sent.Add(1)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// scrapeCPU reads the server's CPU seconds and forwarded-packet counter.
func scrapeCPU(u string) (cpu, forwarded float64) {
	if u == "" {
		return 0, 0
	}
	m, err := loadstat.Scrape(u)
	if err != nil {
		return 0, 0
	}
	return m["process_cpu_seconds_total"], m["switchboard_voice_packets_forwarded_total"]
}
