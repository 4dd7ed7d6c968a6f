package voice

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"switchboard/internal/tokenbucket"
)

// batchConn is recvmmsg/sendmmsg on a UDP socket; ipv4 and ipv6
// PacketConns both provide it (their Message types are one type).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// bound is a member's UDP source address, fixed by its first packet after
// JOIN. Both forms are kept: AddrPort to compare without allocating, the
// UDPAddr to send to.
type bound struct {
	ap netip.AddrPort
	ua *net.UDPAddr
}

// member is one joined uid. addr and lastSeen are written only by the
// channel's relay goroutine (and at creation); other goroutines read them
// through the atomics.
type member struct {
	uid      uint64
	addr     atomic.Pointer[bound]
	lastSeen atomic.Int64 // Unix nanoseconds of the last packet (or of JOIN)
	// ack is the member's budget of signed ACKs; only the relay goroutine
	// uses it.
	ack tokenbucket.Bucket
}

// A member gets at most ackBurst signed ACKs at once and ackRate per
// second: a signature costs tens of microseconds, and a member asking for
// one with every packet must not starve its channel.
const (
	ackRate  = 10
	ackBurst = 5
)

// memberSet is an immutable membership, replaced whole on every change
// (copy on write), so that the relay reads it without a lock.
type memberSet struct {
	list  []*member
	byUID map[uint64]*member
}

var emptySet = &memberSet{byUID: map[uint64]*member{}}

// channel is one channel and its relay socket.
type channel struct {
	hub     *Hub
	id      uint64
	owner   uint64
	port    int
	conn    *net.UDPConn
	bc      batchConn
	members atomic.Pointer[memberSet]
	done    chan struct{}
	started bool
	// gso is whether the relay coalesces the forwards to one member into
	// one UDP GSO send (Config.GSO and a kernel that knows UDP_SEGMENT).
	gso bool
	// left keeps, under hub.mu, the bindings of members that were made
	// to LEAVE while active (heard from within RebindQuiet), so that a
	// JOIN of the same uid soon after gets the binding back instead of a
	// fresh one: otherwise a co-member, who learns every member's uid
	// from its relayed packets, could LEAVE and JOIN as it and bind its
	// own address first (docs/voice.md §2.4). The member that left is
	// kept, and the relay goes on updating its lastSeen from packets of
	// its bound address (through leftPub, a copy it reads without the
	// lock), so the binding lasts as long as that address is active, not
	// RebindQuiet from the LEAVE.
	left    map[uint64]*member
	leftPub atomic.Pointer[map[uint64]*member]
}

func newChannel(h *Hub, id, owner uint64, conn *net.UDPConn) *channel {
	ch := &channel{hub: h, id: id, owner: owner, conn: conn, done: make(chan struct{})}
	la := conn.LocalAddr().(*net.UDPAddr)
	ch.port = la.Port
	if la.IP.To4() != nil {
		ch.bc = ipv4.NewPacketConn(conn)
	} else {
		ch.bc = ipv6.NewPacketConn(conn)
	}
	if h.cfg.wrapConn != nil {
		ch.bc = h.cfg.wrapConn(ch.bc)
	}
	ch.members.Store(emptySet)
	if h.cfg.GSO {
		ch.gso = gsoSupported(conn)
		if !ch.gso {
			h.cfg.Metrics.gsoFallbackInc()
			// The kernel is the same for every channel: say it once.
			if h.gsoWarned.CompareAndSwap(false, true) {
				h.log.Warn("voice relay: the kernel has no UDP GSO, channels send one datagram per message")
			}
		}
	}
	return ch
}

// addLocked adds uid (or replaces its member, dropping its binding).
// Called with hub.mu held, which serialises every membership change.
func (ch *channel) addLocked(uid uint64, now time.Time) { ch.addBoundLocked(uid, now, nil) }

// addBoundLocked adds uid with the binding of lb, a member that left (none
// if lb is nil), or replaces its member.
func (ch *channel) addBoundLocked(uid uint64, now time.Time, lb *member) {
	old := ch.members.Load()
	m := &member{uid: uid}
	m.lastSeen.Store(now.UnixNano())
	if lb != nil {
		m.addr.Store(lb.addr.Load())
		m.lastSeen.Store(lb.lastSeen.Load())
	}
	next := &memberSet{list: make([]*member, 0, len(old.list)+1), byUID: make(map[uint64]*member, len(old.list)+1)}
	for _, o := range old.list {
		if o.uid != uid {
			next.list = append(next.list, o)
			next.byUID[o.uid] = o
		}
	}
	next.list = append(next.list, m)
	next.byUID[uid] = m
	ch.members.Store(next)
}

// removeLocked removes uid and reports whether it was a member.
func (ch *channel) removeLocked(uid uint64) bool { return ch.takeLocked(uid) != nil }

// takeLocked removes uid and returns its member, or nil if it was none.
func (ch *channel) takeLocked(uid uint64) *member {
	old := ch.members.Load()
	gone := old.byUID[uid]
	if gone == nil {
		return nil
	}
	next := &memberSet{list: make([]*member, 0, len(old.list)), byUID: make(map[uint64]*member, len(old.list))}
	for _, o := range old.list {
		if o.uid != uid {
			next.list = append(next.list, o)
			next.byUID[o.uid] = o
		}
	}
	ch.members.Store(next)
	return gone
}

// keepLeftLocked remembers m's binding after a LEAVE if m was heard from
// within quiet, and forgets bindings that have been silent longer. The
// table holds only members that left while active and whose address is
// still sending, so it stays small; it is pruned whenever it grows past
// the channel's member limit.
func (ch *channel) keepLeftLocked(m *member, now time.Time, quiet time.Duration, limit int) {
	if m.addr.Load() == nil || now.Sub(time.Unix(0, m.lastSeen.Load())) >= quiet {
		return
	}
	if ch.left == nil {
		ch.left = make(map[uint64]*member)
	}
	if len(ch.left) >= limit {
		for uid, lm := range ch.left {
			if now.Sub(time.Unix(0, lm.lastSeen.Load())) >= quiet {
				delete(ch.left, uid)
			}
		}
	}
	ch.left[m.uid] = m
	ch.publishLeftLocked()
}

// takeLeftLocked returns, and forgets, the member uid left as if its bound
// address was heard from within quiet of now, else nil.
func (ch *channel) takeLeftLocked(uid uint64, now time.Time, quiet time.Duration) *member {
	lm, ok := ch.left[uid]
	if !ok {
		return nil
	}
	delete(ch.left, uid)
	ch.publishLeftLocked()
	if now.Sub(time.Unix(0, lm.lastSeen.Load())) >= quiet {
		return nil
	}
	return lm
}

// publishLeftLocked gives the relay a copy of left to read without the
// lock (the table is small and changes only on LEAVE and JOIN).
func (ch *channel) publishLeftLocked() {
	if len(ch.left) == 0 {
		ch.leftPub.Store(nil)
		return
	}
	cp := make(map[uint64]*member, len(ch.left))
	for uid, lm := range ch.left {
		cp[uid] = lm
	}
	ch.leftPub.Store(&cp)
}

func (ch *channel) start() {
	ch.started = true
	go ch.run()
}

// stop closes the socket and waits for the relay goroutine.
func (ch *channel) stop() {
	ch.conn.Close()
	if ch.started {
		<-ch.done
	}
}

// announce sends a signed system packet about uid to every bound member
// (when Config.Announce is on). It runs outside hub.mu; the socket is
// safe for concurrent writers.
func (ch *channel) announce(op Op, uid uint64) {
	if !ch.hub.cfg.Announce {
		return
	}
	var b [PacketSize]byte
	PutSigned(b[:], ch.hub.cfg.Key, op, uid, 0, ch.id, uint64(time.Now().UnixMilli()))
	for _, m := range ch.members.Load().list {
		if a := m.addr.Load(); a != nil {
			_, _ = ch.conn.WriteToUDP(b[:], a.ua)
		}
	}
}

// housekeepEvery is how often the relay looks for silent members: every
// second, or more often for a short keepalive timeout, so that a member is
// removed at most a quarter of the timeout late.
func housekeepEvery(timeout time.Duration) time.Duration {
	return max(min(time.Second, timeout/4), time.Millisecond)
}

// relay is the state of one channel's relay goroutine: its receive and
// send batches, reused for every batch so that forwarding allocates
// nothing of its own.
type relay struct {
	ch *channel
	in []ipv4.Message
	// The forwards queued in this batch, in the order they were queued:
	// bufs[i] goes to the member at position dst[i] of the batch's member
	// set, whose address is daddr[dst[i]].
	bufs [][]byte
	dst  []int32
	ack  []byte // signed ACKs of this batch, PacketSize each
	cnt  relayCounts
	// gso coalesces the forwards to one destination into one message of
	// up to gsoMaxSegments datagrams; it starts as ch.gso and is turned
	// off for good when the kernel refuses a GSO send.
	gso bool
	// daddr holds the addresses of the batch's member set as queued, by
	// position: the destinations dst indexes. A member's address only
	// goes from unbound to bound, on this goroutine, and nothing is queued
	// to it before, so each position has one address in a batch.
	daddr []*net.UDPAddr
	// msgs are the messages of one flush; ends and sorted are the
	// counting sort that groups bufs by destination for GSO.
	msgs   []ipv4.Message
	ends   []int32
	sorted [][]byte
	single []ipv4.Message // the rest of a flush resent one datagram each after a GSO refusal
}

// noteLeft keeps the binding of a member that left alive while its bound
// address goes on sending (channel.left): a packet of uid from that
// address counts as heard, though it is not relayed.
func (r *relay) noteLeft(uid uint64, from net.Addr, nowNano int64) {
	left := r.ch.leftPub.Load()
	if left == nil {
		return
	}
	lm := (*left)[uid]
	src, ok := sourceOf(from)
	if lm == nil || !ok {
		return
	}
	if a := lm.addr.Load(); a != nil && a.ap == src {
		lm.lastSeen.Store(nowNano)
	}
}

// sourceOf is a datagram's source address as bindings hold it (IPv4 not
// mapped into IPv6), and false for an address that is not UDP.
func sourceOf(from net.Addr) (netip.AddrPort, bool) {
	ua, _ := from.(*net.UDPAddr)
	if ua == nil {
		return netip.AddrPort{}, false
	}
	src := ua.AddrPort()
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), true
}

// gsoMaxSegments bounds the datagrams of one GSO send. The kernel takes up
// to 64 (UDP_MAX_SEGMENTS, 128 since Linux 5.5) and at most 64 KiB of
// payload; 64 × 512 bytes is 32 KiB, inside both limits on every kernel
// with UDP GSO.
const gsoMaxSegments = 64

func (ch *channel) run() {
	defer close(ch.done)
	cfg := &ch.hub.cfg
	r := &relay{ch: ch, in: make([]ipv4.Message, cfg.Batch), gso: ch.gso}
	for i := range r.in {
		r.in[i].Buffers = [][]byte{make([]byte, PacketSize+1)}
	}
	every := housekeepEvery(cfg.KeepaliveTimeout)
	next := time.Now().Add(every)
	_ = ch.conn.SetReadDeadline(next)
	for {
		n, err := ch.bc.ReadBatch(r.in, 0)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient receive error (an ICMP error queued on the
			// socket) is not a reason to stop relaying.
			continue
		}
		now := time.Now()
		if n > 0 {
			r.batch(r.in[:n], now)
		}
		if !now.Before(next) {
			r.housekeep(now)
			next = now.Add(every)
			_ = ch.conn.SetReadDeadline(next)
		}
	}
}

// batch handles one received batch: decode each datagram, check who sent
// it, queue the forwards, then send them all with sendmmsg.
func (r *relay) batch(in []ipv4.Message, now time.Time) {
	cfg := &r.ch.hub.cfg
	set := r.ch.members.Load()
	nowNano := now.UnixNano()
	r.bufs, r.dst = r.bufs[:0], r.dst[:0]
	r.ack = r.ack[:0]
	if cap(r.daddr) < len(set.list) {
		r.daddr = make([]*net.UDPAddr, len(set.list))
	}
	r.daddr = r.daddr[:len(set.list)]
	r.cnt.received += uint64(len(in))
	for i := range in {
		m := &in[i]
		if m.N != PacketSize {
			r.cnt.dropped[dropSize]++
			continue
		}
		b := m.Buffers[0][:PacketSize]
		p, err := DecodePacket(b)
		switch {
		case errors.Is(err, ErrOp):
			r.cnt.dropped[dropOp]++
			continue
		case errors.Is(err, ErrChecksum):
			r.cnt.dropped[dropChecksum]++
			continue
		case err != nil:
			r.cnt.dropped[dropSize]++
			continue
		}
		if !ValidUID(p.UID) {
			r.cnt.dropped[dropInvalid]++
			continue
		}
		if p.System && p.Op != OpKeepalive {
			// JOIN, LEAVE and ACK come from the server, signed; users
			// may only send KEEPALIVE (§2.1).
			r.cnt.dropped[dropSystem]++
			continue
		}
		sender := set.byUID[p.UID]
		if sender == nil {
			r.noteLeft(p.UID, m.Addr, nowNano)
			r.cnt.dropped[dropUnknown]++
			continue
		}
		src, ok := sourceOf(m.Addr)
		if !ok {
			r.cnt.dropped[dropSpoofed]++
			continue
		}
		a := sender.addr.Load()
		if a == nil {
			// First packet since JOIN: this address is now the
			// member's, and the only one its uid is accepted from.
			a = &bound{ap: src, ua: net.UDPAddrFromAddrPort(src)}
			sender.addr.Store(a)
			r.cnt.bound++
		} else if a.ap != src {
			r.cnt.dropped[dropSpoofed]++
			continue
		}
		sender.lastSeen.Store(nowNano)
		if p.System {
			if p.Ack != 0 {
				if !sender.ack.Take(now, ackRate, ackBurst) {
					r.cnt.dropped[dropAckRate]++
					continue
				}
				// ACKs are rationed, so finding the sender's position
				// by a scan costs little.
				r.queueAck(p, a.ua, int32(slices.Index(set.list, sender)))
			}
			continue
		}
		for j, to := range set.list {
			if to == sender && !cfg.Echo {
				continue
			}
			if ta := to.addr.Load(); ta != nil {
				r.queue(b, ta.ua, int32(j))
			}
		}
	}
	r.flush()
	cfg.Metrics.addRelay(&r.cnt)
	r.cnt = relayCounts{}
}

// queue adds a forward of b to the member at position d of the batch's
// member set, whose address is to.
func (r *relay) queue(b []byte, to *net.UDPAddr, d int32) {
	r.bufs = append(r.bufs, b)
	r.dst = append(r.dst, d)
	r.daddr[d] = to
}

// queueAck answers a KEEPALIVE that carries an ack id with a signed ACK.
func (r *relay) queueAck(p Packet, to *net.UDPAddr, d int32) {
	cfg := &r.ch.hub.cfg
	if cap(r.ack)-len(r.ack) < PacketSize {
		// Growing would move the ACKs already queued; send what is
		// queued first.
		r.flush()
		r.ack = make([]byte, 0, max(4*PacketSize, 2*cap(r.ack)))
	}
	off := len(r.ack)
	r.ack = r.ack[:off+PacketSize]
	PutSigned(r.ack[off:], cfg.Key, OpAck, p.UID, p.Ack, r.ch.id, uint64(time.Now().UnixMilli()))
	r.queue(r.ack[off:off+PacketSize], to, d)
	r.cnt.acks++
}

// flush sends the queued datagrams: with GSO one message per destination
// (per gsoMaxSegments datagrams), else one message per datagram.
func (r *relay) flush() {
	if len(r.bufs) == 0 {
		return
	}
	if r.gso {
		r.send(r.coalesce())
	} else {
		r.msgs = r.msgs[:0]
		for i := range r.bufs {
			r.msgs = append(r.msgs, ipv4.Message{Buffers: r.bufs[i : i+1 : i+1], Addr: r.daddr[r.dst[i]]})
		}
		r.send(r.msgs)
	}
	r.bufs, r.dst = r.bufs[:0], r.dst[:0]
}

// coalesce groups the queued datagrams by destination into GSO messages.
// The grouping is a stable counting sort on the destination's position,
// so that each destination gets its datagrams in the order they were
// queued, which is the order they arrived in.
func (r *relay) coalesce() []ipv4.Message {
	nd := len(r.daddr)
	if cap(r.ends) < nd {
		r.ends = make([]int32, nd)
	}
	ends := r.ends[:nd]
	clear(ends)
	for _, d := range r.dst {
		ends[d]++
	}
	// ends[d] becomes where destination d's datagrams start; placing
	// them moves it to where they end.
	var sum int32
	for d, c := range ends {
		ends[d] = sum
		sum += c
	}
	if cap(r.sorted) < len(r.bufs) {
		r.sorted = make([][]byte, len(r.bufs), 2*len(r.bufs))
	}
	sorted := r.sorted[:len(r.bufs)]
	for i, d := range r.dst {
		sorted[ends[d]] = r.bufs[i]
		ends[d]++
	}
	r.msgs = r.msgs[:0]
	start := 0
	for d, e := range ends {
		end := int(e)
		for s := start; s < end; s += gsoMaxSegments {
			e := min(s+gsoMaxSegments, end)
			m := ipv4.Message{Buffers: sorted[s:e:e], Addr: r.daddr[d]}
			if e-s > 1 {
				m.OOB = gsoControl
			}
			r.msgs = append(r.msgs, m)
		}
		start = end
	}
	return r.msgs
}

// send sends messages with sendmmsg and counts their datagrams: a message
// of k segments is k forwards, or k send errors. A send error skips that
// one message and carries on with the rest. When the kernel refuses a GSO
// message, GSO is turned off for this socket for good and the rest of the
// flush, that message included, goes one datagram per message.
func (r *relay) send(out []ipv4.Message) {
	for len(out) > 0 {
		n, err := r.ch.bc.WriteBatch(out, 0)
		if n < 0 {
			// x/net answers -1 when the first message failed.
			n = 0
		}
		for i := range out[:n] {
			r.cnt.forwarded += uint64(len(out[i].Buffers))
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if len(out[n].Buffers) > 1 && gsoRefused(err) {
				r.gsoOff(err)
				r.send(r.split(out[n:]))
				return
			}
			r.cnt.sendErrors += uint64(len(out[n].Buffers))
			out = out[n+1:]
			continue
		}
		if n == 0 {
			for i := range out {
				r.cnt.sendErrors += uint64(len(out[i].Buffers))
			}
			break
		}
		out = out[n:]
	}
}

// gsoOff turns GSO off for the rest of the socket's life.
func (r *relay) gsoOff(err error) {
	r.gso = false
	r.ch.hub.cfg.Metrics.gsoFallbackInc()
	r.ch.hub.log.Warn("voice relay: UDP GSO send refused, one datagram per message from now on", "channel", r.ch.id, "error", err)
}

// split turns messages into one message per datagram, in order.
func (r *relay) split(ms []ipv4.Message) []ipv4.Message {
	r.single = r.single[:0]
	for _, m := range ms {
		for i := range m.Buffers {
			r.single = append(r.single, ipv4.Message{Buffers: m.Buffers[i : i+1 : i+1], Addr: m.Addr})
		}
	}
	return r.single
}

// housekeep removes members silent for longer than the keepalive timeout.
func (r *relay) housekeep(now time.Time) {
	cutoff := now.Add(-r.ch.hub.cfg.KeepaliveTimeout).UnixNano()
	var stale []*member
	for _, m := range r.ch.members.Load().list {
		if m.lastSeen.Load() < cutoff {
			stale = append(stale, m)
		}
	}
	if len(stale) > 0 {
		r.ch.hub.expire(r.ch, stale)
	}
}
