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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"switchboard/internal/loadstat"
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
	c.Warmup = loadstat.Warmup(c.Warmup, c.Duration)
	if c.Names == "" {
		c.Names = fmt.Sprintf("u%05x", rand.Uint32()&0xfffff)
	}
}

// Result is what a run measured over its window (the run without the
// warm-up).
type Result struct {
	Mode             string
	Clients, Senders int
	Window           int
	Elapsed          time.Duration
	Answers          int64 // requests answered OK or with their own echo
	Errors           int64 // Error answers
	Deliveries       int64 // 21/23 datagrams the clients read from others
	Lost             int64 // requests given up without an answer (whole run)
	AnswerP50        time.Duration
	AnswerP99        time.Duration
	ClientCPU        float64
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

// client is one registered socket. The sockets are raw non-blocking file
// descriptors read by one epoll loop rather than a goroutine each: a
// thousand goroutines each woken for one datagram would cost the load
// generator more CPU than the server spends sending, on the same two
// cores, and the run would measure the generator.
type client struct {
	name string
	fd   int

	deliveries atomic.Int64
	answers    atomic.Int64
	errs       atomic.Int64
	lost       atomic.Int64
	// window holds a token per unanswered request; the reader returns
	// them.
	window chan time.Time
	lat    []time.Duration // owned by the read loop
}

// Run registers the clients, loads the server for the duration and
// reports.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	if cfg.Mode != Broadcast && cfg.Mode != Private {
		return Result{}, fmt.Errorf("udpload: unknown mode %q", cfg.Mode)
	}
	ra, err := net.ResolveUDPAddr("udp4", cfg.Addr)
	if err != nil {
		return Result{}, err
	}
	server := &unix.SockaddrInet4{Port: ra.Port}
	copy(server.Addr[:], ra.IP.To4())
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return Result{}, fmt.Errorf("udpload: epoll: %w", err)
	}
	defer unix.Close(epfd)
	clients := make([]*client, 0, cfg.Clients)
	defer func() {
		for _, c := range clients {
			unix.Close(c.fd)
		}
	}()
	for i := 0; i < cfg.Clients; i++ {
		c, err := newClient(fmt.Sprintf("%s-%d", cfg.Names, i), server, cfg.Window)
		if err != nil {
			return Result{}, fmt.Errorf("udpload: client %d: %w", i, err)
		}
		clients = append(clients, c)
		if err := c.register(); err != nil {
			return Result{}, fmt.Errorf("udpload: register %s: %w", c.name, err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			return Result{}, fmt.Errorf("udpload: epoll: %w", err)
		}
	}
	senders := clients[:cfg.Senders]
	if cfg.Mode == Private {
		senders = clients
	}
	var counting, stopping atomic.Bool
	var readers, wg sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		readLoop(epfd, clients, &counting, &stopping)
	}()
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
	cpuStart := loadstat.ProcessCPU()
	select {
	case <-time.After(cfg.Duration - cfg.Warmup):
	case <-ctx.Done():
	}
	counting.Store(false)
	elapsed := time.Since(t0)
	cpu := loadstat.ProcessCPU() - cpuStart
	stop()
	wg.Wait()
	stopping.Store(true)
	readers.Wait()
	res := Result{Mode: cfg.Mode, Clients: cfg.Clients, Senders: len(senders), Window: cfg.Window, Elapsed: elapsed, ClientCPU: cpu}
	var lat []time.Duration
	for _, c := range clients {
		res.Deliveries += c.deliveries.Load()
		res.Answers += c.answers.Load()
		res.Errors += c.errs.Load()
		res.Lost += c.lost.Load()
		lat = append(lat, c.lat...)
		_, _ = unix.Write(c.fd, udpchat.AppendPacket(nil, udpchat.OpLogout))
	}
	res.AnswerP50, res.AnswerP99, _ = loadstat.Percentiles(lat)
	return res, ctx.Err()
}

// newClient opens a non-blocking socket connected to the server.
func newClient(name string, server *unix.SockaddrInet4, window int) (*client, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Connect(fd, server); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &client{name: name, fd: fd, window: make(chan time.Time, window)}, nil
}

// register claims the client's name, resending a few times.
func (c *client) register() error {
	buf := make([]byte, 2048)
	for try := 0; try < 10; try++ {
		if _, err := unix.Write(c.fd, udpchat.AppendPacket(nil, udpchat.OpRegister, []byte(c.name))); err != nil {
			return err
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 500); n <= 0 {
			continue
		}
		n, err := unix.Read(c.fd, buf)
		if err != nil {
			continue
		}
		p, err := udpchat.Decode(buf[:n])
		if err != nil {
			continue
		}
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
		for {
			_, err := unix.Write(c.fd, pkt)
			if err == unix.EAGAIN || err == unix.EINTR {
				runtime.Gosched()
				continue
			}
			if err != nil {
				return
			}
			break
		}
	}
}

// readLoop reads every client socket through one epoll set until
// stopping is set, counting what arrives: deliveries from others, and
// answers to a client's own requests, which return its window tokens.
// Each ready socket is drained with recvmmsg, many datagrams per system
// call: a read each would cost the generator more than the server.
func readLoop(epfd int, clients []*client, counting, stopping *atomic.Bool) {
	events := make([]unix.EpollEvent, 1024)
	const vlen = 64
	const size = 2048
	bufs := make([]byte, vlen*size)
	iovs := make([]unix.Iovec, vlen)
	msgs := make([]unix.Mmsghdr, vlen)
	for i := range msgs {
		iovs[i].Base = &bufs[i*size]
		iovs[i].SetLen(size)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	for !stopping.Load() {
		// A pause between rounds lets each socket's datagrams gather, so
		// that one recvmmsg takes several: a broadcast gives every
		// socket one datagram, and reading each alone would cost the
		// generator more than the server spends sending it. It adds up
		// to readPause to the measured answer latency.
		time.Sleep(readPause)
		n, err := unix.EpollWait(epfd, events, 50)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			c := clients[ev.Fd]
			// A bounded number of batches per socket and wake-up keeps
			// one busy socket from starving the rest.
			for k := 0; k < 4; k++ {
				got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&msgs[0])),
					vlen, unix.MSG_DONTWAIT, 0, 0)
				if errno != 0 || got == 0 {
					break
				}
				count := counting.Load()
				for i := 0; i < int(got); i++ {
					c.handle(bufs[i*size:i*size+int(msgs[i].Len)], count)
				}
				if got < vlen {
					break // drained; level-triggered epoll reports more
				}
			}
		}
	}
	runtime.KeepAlive(bufs)
}

// readPause is the read loop's pause between rounds.
const readPause = 2 * time.Millisecond

// handle counts one datagram.
func (c *client) handle(b []byte, counting bool) {
	if len(b) < udpchat.HeaderSize {
		return
	}
	answer := false
	switch b[0] {
	case udpchat.OpOK:
		answer = true
		if counting {
			c.answers.Add(1)
		}
	case udpchat.OpError:
		answer = true
		if counting {
			c.errs.Add(1)
		}
	case udpchat.OpPublic, udpchat.OpDirect:
		data := b[udpchat.HeaderSize:]
		me := c.name
		if b[0] == udpchat.OpPublic && len(data) > len(me) && data[len(me)] == 0 && string(data[:len(me)]) == me {
			answer = true // our own broadcast back
			if counting {
				c.answers.Add(1)
			}
		} else if counting {
			c.deliveries.Add(1)
		}
	}
	if !answer {
		return
	}
	select {
	case t0 := <-c.window:
		if counting && len(c.lat) < 100000 {
			c.lat = append(c.lat, time.Since(t0))
		}
	default:
	}
}
