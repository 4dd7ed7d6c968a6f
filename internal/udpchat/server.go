package udpchat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"switchboard/internal/chat"
	"switchboard/internal/tokenbucket"
)

// Error descriptions sent in Error packets. They are part of the protocol
// as this server speaks it (docs/udpchat.md): clients may match on them.
const (
	ErrTextNameTaken     = "username is already present"
	ErrTextNameInvalid   = "username is invalid"
	ErrTextNameAccount   = "username is registered; log in with CPT"
	ErrTextUserNotFound  = "user not found"
	ErrTextNotRegistered = "not registered"
	ErrTextAddrInUse     = "address is registered under another name"
	ErrTextServerFull    = "server is full"
	ErrTextTooManyFromIP = "too many users from this address"
	ErrTextMessage       = "message is invalid"
	ErrTextTooLong       = "message is too long"
	ErrTextNoNumber      = "no phone number to send SMS from"
	ErrTextRefused       = "message refused"
	ErrTextShutdown      = "server is shutting down"
	ErrTextUnknownOp     = "unknown opcode"
	ErrTextMalformed     = "malformed packet"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("udpchat: server closed")

// ServerConfig tunes the server. Zero values take the defaults of
// docs/udpchat.md.
type ServerConfig struct {
	// Lobby is the public group broadcasts are stored in and read from;
	// the chat service must have it among its public groups.
	Lobby string
	// MaxDatagram is the largest datagram accepted; larger ones are
	// dropped. User lists are split to fit it.
	MaxDatagram int
	// IdleTimeout ends a session whose address has sent nothing for so
	// long.
	IdleTimeout time.Duration
	// ListInterval is how often every registered client gets the user
	// list unasked (the spec's "at regular intervals"); 0 takes the
	// default, negative turns it off.
	ListInterval time.Duration
	// MaxClients bounds the sessions; MaxPerIP the sessions of one source
	// IP (a spoofed registration subscribes its victim to the lobby, so
	// the sessions one address can be given must be few).
	MaxClients int
	MaxPerIP   int
	// ListEvery is the least time between two list replies to one
	// session: a 3-byte request answered with the whole list is the
	// protocol's largest amplification.
	ListEvery time.Duration
	// Rate and Burst are each registered client's token bucket, in
	// packets per second.
	Rate  float64
	Burst int
	// ErrorRate and ErrorBurst bound the answers to each unregistered
	// source IP (register attempts, and the Error packets to other
	// requests), so that a spoofed source cannot turn the server into a
	// reflector.
	ErrorRate  float64
	ErrorBurst int
	// ErrorRateTotal bounds those answers over all unregistered sources
	// together (burst: twice the rate), so that a flood from many
	// spoofed addresses is bounded too.
	ErrorRateTotal float64
	// DupWindow is how long an identical packet from the same address is
	// taken for a network duplicate: it is answered again, not acted on
	// again.
	DupWindow time.Duration
	// SendQueue bounds the datagrams waiting to be sent; beyond it new
	// ones are dropped and counted (UDP promises no delivery, and
	// queueing without bound would let one burst take the memory).
	SendQueue int
	// Version is reported in the info reply.
	Version string
	Metrics *Metrics
}

func (c *ServerConfig) setDefaults() {
	if c.Lobby == "" {
		c.Lobby = "lobby"
	}
	if c.MaxDatagram <= 0 {
		c.MaxDatagram = 1472
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.ListInterval == 0 {
		c.ListInterval = 30 * time.Second
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 10000
	}
	if c.MaxPerIP <= 0 {
		c.MaxPerIP = 16
	}
	if c.ListEvery <= 0 {
		c.ListEvery = 5 * time.Second
	}
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.Burst <= 0 {
		c.Burst = 400
	}
	if c.ErrorRate <= 0 {
		c.ErrorRate = 20
	}
	if c.ErrorBurst <= 0 {
		c.ErrorBurst = 40
	}
	if c.ErrorRateTotal <= 0 {
		c.ErrorRateTotal = 2000
	}
	if c.DupWindow <= 0 {
		c.DupWindow = 2 * time.Second
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1 << 16
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// Server is the CHAT UDP server over the chat service. One Server serves
// one socket.
//
// Goroutines: the reader (Serve), which owns the request handling and is
// the only one to add sessions; the senders, one per send queue, which
// own the socket's writes; the ticker, which expires idle sessions and sends the periodic
// lists. Lock order: Server.mu, then client.mu; the outbox lock is a
// leaf.
type Server struct {
	cfg  ServerConfig
	chat *chat.Service
	m    *Metrics

	// outs are the send queues, each with its own sending goroutine, so
	// that sending (most of the server's work in a broadcast) can use
	// more than one core. A destination always uses the same one (by
	// port), which keeps each client's datagrams in order.
	outs []outbox

	mu        sync.Mutex
	clients   map[netip.AddrPort]*client
	perIP     map[netip.Addr]int                 // sessions per source IP
	sources   map[netip.Addr]*tokenbucket.Bucket // unregistered sources' answer budgets
	strangers tokenbucket.Bucket                 // all unregistered sources' budget
	pc        *ipv4.PacketConn
	conn      *net.UDPConn
	writers   []*net.UDPConn // the senders' duplicate descriptors
	closing   bool
	wg        sync.WaitGroup // sender and ticker
	posts     sync.WaitGroup // messages in the store's hands
	done      chan struct{}
	served    chan struct{}
}

// NewServer creates a server over the chat service.
func NewServer(cfg ServerConfig, svc *chat.Service) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:     cfg,
		chat:    svc,
		m:       cfg.Metrics,
		clients: map[netip.AddrPort]*client{},
		sources: map[netip.Addr]*tokenbucket.Bucket{},
		perIP:   map[netip.Addr]int{},
		done:    make(chan struct{}),
		served:  make(chan struct{}),
	}
	s.outs = make([]outbox, max(1, min(runtime.GOMAXPROCS(0), maxSenders)))
	for i := range s.outs {
		s.outs[i].init(cfg.SendQueue/len(s.outs), s.m)
	}
	return s
}

// Serve reads and answers datagrams on conn until Shutdown, then returns
// ErrServerClosed. It takes ownership of conn. An IPv4 socket is read and
// written in batches (recvmmsg, sendmmsg); the batch calls fall back to
// one datagram per call where the platform has none.
func (s *Server) Serve(conn *net.UDPConn) error {
	defer close(s.served)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close()
		return ErrServerClosed
	}
	// Large socket buffers: a thousand clients' requests arriving at
	// once overflow the default 208 KiB receive buffer (a small datagram
	// costs the kernel about a kilobyte of it), and a broadcast puts a
	// thousand datagrams into the send buffer in one sendmmsg. The kernel
	// caps both at net.core.rmem_max and wmem_max; best effort.
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	s.conn = conn
	s.pc = ipv4.NewPacketConn(conn)
	s.mu.Unlock()
	// Each sender after the first writes through a descriptor of its own
	// for the same socket (a dup): Go serializes the system calls of one
	// descriptor, and the senders exist to send in parallel.
	var writers []*net.UDPConn
	s.wg.Add(1 + len(s.outs))
	for i := range s.outs {
		pc := s.pc
		if i > 0 {
			if w, err := dupConn(conn); err == nil {
				writers = append(writers, w)
				pc = ipv4.NewPacketConn(w)
			}
		}
		go func() {
			defer s.wg.Done()
			s.outs[i].run(pc)
		}()
	}
	s.mu.Lock()
	s.writers = writers
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.tick()
	}()
	err := s.read()
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrServerClosed
	}
	return fmt.Errorf("udpchat: read: %w", err)
}

// Addr is the socket's address (valid once Serve runs).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.LocalAddr()
}

// Shutdown stops reading, waits (within ctx) for the answers owed to
// messages already handed to the store, logs every session out and
// closes the socket.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	conn := s.conn
	s.mu.Unlock()
	close(s.done)
	if conn == nil {
		return
	}
	// Unblock the reader without closing the socket the sender still
	// writes the last answers on.
	_ = conn.SetReadDeadline(time.Unix(1, 0))
	<-s.served
	posted := make(chan struct{})
	go func() {
		s.posts.Wait()
		close(posted)
	}()
	select {
	case <-posted:
	case <-ctx.Done():
	}
	s.mu.Lock()
	for _, c := range s.clients {
		c.sess.Logout()
		s.forgetLocked(c)
	}
	s.mu.Unlock()
	for i := range s.outs {
		s.outs[i].close()
	}
	s.wg.Wait()
	s.mu.Lock()
	for _, w := range s.writers {
		w.Close()
	}
	s.mu.Unlock()
	conn.Close()
}

// dupConn opens a second descriptor for conn's socket.
func dupConn(conn *net.UDPConn) (*net.UDPConn, error) {
	f, err := conn.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	u, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, errors.New("udpchat: not a UDP socket")
	}
	return u, nil
}

// socketBuffer is the socket buffer size asked for.
const socketBuffer = 4 << 20

// readBatch is how many datagrams one recvmmsg takes.
const readBatch = 64

func (s *Server) read() error {
	msgs := make([]ipv4.Message, readBatch)
	// One byte more than the limit tells an oversize datagram (which the
	// kernel truncates to the buffer) from one exactly at the limit.
	bufs := make([]byte, readBatch*(s.cfg.MaxDatagram+1))
	for i := range msgs {
		msgs[i].Buffers = [][]byte{bufs[i*(s.cfg.MaxDatagram+1) : (i+1)*(s.cfg.MaxDatagram+1)]}
	}
	for {
		n, err := s.pc.ReadBatch(msgs, 0)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				select {
				case <-s.done:
					return err
				default:
				}
				continue
			}
			select {
			case <-s.done:
				return err
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// ICMP errors from an earlier send (ECONNREFUSED on a
			// port nobody listens on) surface on reads; they say
			// nothing about this socket.
			s.m.readErrors.Inc()
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			ua, ok := msgs[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			ap := ua.AddrPort()
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			b := msgs[i].Buffers[0][:msgs[i].N]
			s.handle(ap, ua, b, now)
		}
		s.signalAll()
	}
}

// handle acts on one datagram. Everything it answers goes to the outbox;
// read signals the sender once per batch.
func (s *Server) handle(ap netip.AddrPort, ua *net.UDPAddr, b []byte, now time.Time) {
	s.m.received.Inc()
	s.mu.Lock()
	c := s.clients[ap]
	s.mu.Unlock()
	if len(b) > s.cfg.MaxDatagram {
		s.m.bad("oversize")
		s.answerOnce(c, ap, ua, now, ErrTextMalformed)
		return
	}
	p, err := Decode(b)
	if err != nil {
		reason := "short"
		if errors.Is(err, ErrLength) {
			reason = "length"
		}
		s.m.bad(reason)
		s.answerOnce(c, ap, ua, now, ErrTextMalformed)
		return
	}
	if c == nil {
		s.unregistered(ap, ua, p, now)
		return
	}
	c.heard(now)
	if !c.allow(now, s.cfg.Rate, s.cfg.Burst) {
		// A registered client over its budget gets nothing: answering
		// would cost what the limit is there to save.
		s.m.bad("rate_limited")
		return
	}
	switch p.Op {
	case OpRegister:
		if string(p.Data) == c.name {
			// A resend after a lost OK.
			s.reply(c.ua, AppendOK(nil))
			return
		}
		s.m.refused("address_in_use")
		s.reply(c.ua, AppendError(nil, ErrTextAddrInUse))
	case OpLogout:
		s.logout(c)
		s.reply(c.ua, AppendOK(nil))
	case OpInfo:
		s.reply(c.ua, s.info(now))
	case OpList:
		if now.Sub(c.lastList) < s.cfg.ListEvery {
			s.m.bad("list_rate_limited")
			return
		}
		c.lastList = now
		for _, pkt := range AppendLists(nil, s.chat.Online(), s.cfg.MaxDatagram) {
			s.reply(c.ua, pkt)
		}
	case OpBroadcast:
		s.broadcast(c, p.Data, now)
	case OpPrivate:
		s.private(c, p.Data, now)
	default:
		s.m.bad("unknown_opcode")
		s.reply(c.ua, AppendError(nil, ErrTextUnknownOp))
	}
}

// unregistered handles a datagram from an address without a session.
// A registration's OK (three bytes, shorter than any register packet) is
// free; every other answer is at most one short Error and comes out of
// the source IP's budget, so that a spoofed source cannot turn the
// server into a reflector.
func (s *Server) unregistered(ap netip.AddrPort, ua *net.UDPAddr, p Packet, now time.Time) {
	switch p.Op {
	case OpRegister:
		s.register(ap, ua, p.Data, now)
		return
	case OpLogout:
		// Logging out is idempotent: a resend after a lost OK, or a
		// logout after expiry, reaches the state it asks for. The OK is
		// no longer than the request.
		s.reply(ua, AppendOK(nil))
		return
	}
	reason, text := "not_registered", ErrTextNotRegistered
	switch p.Op {
	case OpBroadcast, OpPrivate, OpInfo, OpList:
	default:
		reason, text = "unknown_opcode", ErrTextUnknownOp
	}
	s.m.bad(reason)
	s.refuse(ap, ua, now, text)
}

// refuse sends an unregistered source one Error, if its budget allows.
func (s *Server) refuse(ap netip.AddrPort, ua *net.UDPAddr, now time.Time, text string) {
	if !s.sourceAllows(ap.Addr(), now) {
		s.m.bad("source_rate_limited")
		return
	}
	s.reply(ua, AppendError(nil, text))
}

// answerOnce sends one Error to a malformed datagram's source: to a
// registered client freely (within its budget), to anyone else out of
// the source's budget.
func (s *Server) answerOnce(c *client, ap netip.AddrPort, ua *net.UDPAddr, now time.Time, text string) {
	if c != nil {
		c.heard(now)
		if c.allow(now, s.cfg.Rate, s.cfg.Burst) {
			s.reply(c.ua, AppendError(nil, text))
		}
		return
	}
	s.refuse(ap, ua, now, text)
}

func (s *Server) register(ap netip.AddrPort, ua *net.UDPAddr, name []byte, now time.Time) {
	// Every registration attempt comes out of the source's budget,
	// answered or not: a session is what a spoofer wants most.
	if !s.sourceAllows(ap.Addr(), now) {
		s.m.bad("source_rate_limited")
		return
	}
	reason, text := s.claim(ap, ua, name, now)
	if reason != "" {
		s.m.refused(reason)
		s.reply(ua, AppendError(nil, text))
		return
	}
	s.m.registrations.Inc()
	s.reply(ua, AppendOK(nil))
}

// claim makes a session for name at ap, or says why not (a metrics
// reason and the Error text).
func (s *Server) claim(ap netip.AddrPort, ua *net.UDPAddr, name []byte, now time.Time) (reason, text string) {
	if !chat.ValidUsername(name) {
		return "username_invalid", ErrTextNameInvalid
	}
	n := string(name)
	if s.chat.IsRegistered(n) {
		// The packet has no room for a password, so an account's name
		// is not to be had here: anyone could claim it.
		return "username_registered", ErrTextNameAccount
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "shutting_down", ErrTextShutdown
	case len(s.clients) >= s.cfg.MaxClients:
		return "server_full", ErrTextServerFull
	case s.perIP[ap.Addr()] >= s.cfg.MaxPerIP:
		return "too_many_from_ip", ErrTextTooManyFromIP
	}
	c := &client{srv: s, addr: ap, ua: ua, out: s.outFor(ua), name: n}
	c.lastHeard.Store(now.UnixNano())
	sess, err := s.chat.Login(n, c)
	switch {
	case errors.Is(err, chat.ErrNameTaken):
		return "username_taken", ErrTextNameTaken
	case errors.Is(err, chat.ErrNameReserved):
		return "username_invalid", ErrTextNameInvalid
	case err != nil:
		return "shutting_down", ErrTextShutdown
	}
	c.sess = sess
	sess.Join(s.cfg.Lobby)
	s.clients[ap] = c
	s.perIP[ap.Addr()]++
	s.m.clients.Inc()
	return "", ""
}

// forgetLocked takes c out of the session tables; s.mu held.
func (s *Server) forgetLocked(c *client) {
	delete(s.clients, c.addr)
	if n := s.perIP[c.addr.Addr()]; n <= 1 {
		delete(s.perIP, c.addr.Addr())
	} else {
		s.perIP[c.addr.Addr()] = n - 1
	}
	s.m.clients.Dec()
}

// logout ends c's session (a logout packet, expiry or shutdown).
func (s *Server) logout(c *client) {
	s.mu.Lock()
	if s.clients[c.addr] == c {
		s.forgetLocked(c)
	}
	s.mu.Unlock()
	c.sess.Logout()
}

// info is the 41 reply: the server's date (RFC 3339, UTC) and version,
// "2026-12-02T00:15:00Z switchboard 1.2.3".
func (s *Server) info(now time.Time) []byte {
	return AppendPacket(nil, OpInfoReply, []byte(now.UTC().Format(time.RFC3339)+" switchboard "+s.cfg.Version))
}

func (s *Server) broadcast(c *client, text []byte, now time.Time) {
	if chat.CheckText(text) != chat.TextOK {
		s.m.refused("message_invalid")
		s.reply(c.ua, AppendError(nil, ErrTextMessage))
		return
	}
	d, fresh := c.dup(OpBroadcast, text, now, s.cfg.DupWindow)
	if !fresh {
		s.m.bad("duplicate")
		d.resend(s, c.ua)
		return
	}
	// The echo is made now: text aliases the read buffer, which the
	// next datagram overwrites before the store answers.
	echo := AppendNameText(nil, OpPublic, []byte(c.name), text)
	s.posts.Add(1)
	// The lobby is one of the chat service's public groups, so Post files
	// it as a group whatever names are online.
	c.sess.Post(context.Background(), s.cfg.Lobby, text, func(_ uint64, err error) {
		defer s.posts.Done()
		if err != nil {
			d.answer(s, c.ua, AppendError(nil, postError(err)))
			return
		}
		// The spec's broadcast goes to every user including the sender:
		// the sender's copy, sent once the message is stored and handed
		// to everyone else, doubles as its acknowledgement.
		s.m.broadcasts.Inc()
		d.answer(s, c.ua, echo)
	})
}

func (s *Server) private(c *client, data []byte, now time.Time) {
	to, text, err := SplitNameText(data)
	if err != nil {
		s.m.bad("malformed")
		s.reply(c.ua, AppendError(nil, ErrTextMalformed))
		return
	}
	if chat.CheckName(to) != chat.NameOK {
		s.m.refused("username_invalid")
		s.reply(c.ua, AppendError(nil, ErrTextNameInvalid))
		return
	}
	if chat.CheckText(text) != chat.TextOK {
		s.m.refused("message_invalid")
		s.reply(c.ua, AppendError(nil, ErrTextMessage))
		return
	}
	target := string(to)
	if s.chat.Classify(target) == chat.TargetGroup {
		// Neither online nor an account: the spec's "destination user
		// wasn't found in list".
		s.m.refused("user_not_found")
		s.reply(c.ua, AppendError(nil, ErrTextUserNotFound))
		return
	}
	d, fresh := c.dup(OpPrivate, data, now, s.cfg.DupWindow)
	if !fresh {
		s.m.bad("duplicate")
		d.resend(s, c.ua)
		return
	}
	s.posts.Add(1)
	c.sess.Post(context.Background(), target, text, func(_ uint64, err error) {
		defer s.posts.Done()
		if err != nil {
			d.answer(s, c.ua, AppendError(nil, postError(err)))
			return
		}
		s.m.privates.Inc()
		d.answer(s, c.ua, AppendOK(nil))
	})
}

// postError is the Error text for a message the chat service refused.
func postError(err error) string {
	switch {
	case errors.Is(err, chat.ErrNoNumber):
		return ErrTextNoNumber
	case errors.Is(err, chat.ErrTooLong):
		return ErrTextTooLong
	case errors.Is(err, chat.ErrClosed):
		return ErrTextShutdown
	case errors.Is(err, chat.ErrLoggedOut):
		return ErrTextNotRegistered
	}
	return ErrTextRefused
}

// reply queues one datagram.
func (s *Server) reply(ua *net.UDPAddr, b []byte) { s.outFor(ua).push(ua, b) }

// maxSenders bounds the sending goroutines.
const maxSenders = 4

// outFor is the send queue of a destination.
func (s *Server) outFor(ua *net.UDPAddr) *outbox { return &s.outs[ua.Port%len(s.outs)] }

// signalAll wakes every sender.
func (s *Server) signalAll() {
	for i := range s.outs {
		s.outs[i].signal()
	}
}

// sourceAllows takes one answer from an unregistered source IP's budget.
func (s *Server) sourceAllows(ip netip.Addr, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.sources[ip]
	if b == nil {
		if len(s.sources) >= maxSources {
			// Too many strangers at once: answer none of the new ones
			// until the ticker forgets the quiet ones.
			return false
		}
		b = new(tokenbucket.Bucket)
		s.sources[ip] = b
	}
	return b.Take(now, s.cfg.ErrorRate, float64(s.cfg.ErrorBurst)) &&
		s.strangers.Take(now, s.cfg.ErrorRateTotal, 2*s.cfg.ErrorRateTotal)
}

// maxSources bounds the unregistered sources remembered at once.
const maxSources = 1 << 16

// tick expires silent sessions, forgets quiet sources and sends the
// periodic user lists.
func (s *Server) tick() {
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	var lists <-chan time.Time
	if s.cfg.ListInterval > 0 {
		t := time.NewTicker(s.cfg.ListInterval)
		defer t.Stop()
		lists = t.C
	}
	for {
		select {
		case <-s.done:
			return
		case <-sweep.C:
			s.sweep(time.Now())
		case <-lists:
			s.sendLists()
		}
	}
}

// sweep ends sessions silent for IdleTimeout and drops source budgets
// that are full again.
func (s *Server) sweep(now time.Time) {
	var idle []*client
	s.mu.Lock()
	for _, c := range s.clients {
		if now.UnixNano()-c.lastHeard.Load() > int64(s.cfg.IdleTimeout) {
			idle = append(idle, c)
		}
	}
	for ip, b := range s.sources {
		if b.Full(now, s.cfg.ErrorRate, float64(s.cfg.ErrorBurst)) {
			delete(s.sources, ip)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		s.logout(c)
		s.m.expired.Inc()
	}
}

// sendLists sends every registered client the user list.
func (s *Server) sendLists() {
	pkts := AppendLists(nil, s.chat.Online(), s.cfg.MaxDatagram)
	s.mu.Lock()
	cs := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		// The periodic list must not crowd out answers and messages: a
		// queue more than half full skips this round's.
		if !c.out.roomFor(len(pkts)) {
			s.m.bad("list_skipped")
			continue
		}
		for _, p := range pkts {
			c.out.push(c.ua, p)
		}
	}
	s.signalAll()
}
