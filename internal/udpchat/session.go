package udpchat

import (
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/chat"
	"switchboard/internal/tokenbucket"
)

// client is one registered address: its chat session and what the reader
// knows about it. It is the session's chat.Endpoint.
type client struct {
	srv  *Server
	addr netip.AddrPort
	ua   *net.UDPAddr
	out  *outbox // the send queue of ua
	name string
	sess *chat.Session

	lastHeard atomic.Int64 // UnixNano of the last datagram

	// The rate budget and the last list reply; owned by the reader
	// goroutine.
	budget   tokenbucket.Bucket
	lastList time.Time

	// recent packets, for telling network duplicates from new messages.
	mu     sync.Mutex
	recent [recentPackets]*recentPacket
	next   int
}

// recentPackets is how many of a client's last messages are remembered.
const recentPackets = 8

var dupSeed = maphash.MakeSeed()

// recentPacket is one message packet and the answer it got.
type recentPacket struct {
	op   byte
	hash uint64
	at   time.Time

	mu    sync.Mutex
	reply []byte // nil while the store has it
}

func (c *client) heard(now time.Time) { c.lastHeard.Store(now.UnixNano()) }

// allow takes one packet from the client's budget.
func (c *client) allow(now time.Time, rate float64, burst int) bool {
	return c.budget.Take(now, rate, float64(burst))
}

// dup reports whether an identical message packet came from this address
// within window. If so it returns that packet's record (fresh false);
// otherwise it records this one (fresh true). A duplicate datagram must
// not post a message twice; the cost is that a user who really sends
// the same text twice within the window sees it sent once.
func (c *client) dup(op byte, data []byte, now time.Time, window time.Duration) (*recentPacket, bool) {
	h := maphash.Bytes(dupSeed, data)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range c.recent {
		if r == nil {
			continue
		}
		if now.Sub(r.at) >= window {
			// Past the window its answer is of no use; do not keep it
			// (eight answers per idle client add up).
			c.recent[i] = nil
			continue
		}
		if r.op == op && r.hash == h {
			return r, false
		}
	}
	r := &recentPacket{op: op, hash: h, at: now}
	c.recent[c.next] = r
	c.next = (c.next + 1) % recentPackets
	return r, true
}

// answer sends the packet's answer and keeps it for duplicates.
func (r *recentPacket) answer(s *Server, ua *net.UDPAddr, b []byte) {
	r.mu.Lock()
	r.reply = b
	r.mu.Unlock()
	o := s.outFor(ua)
	o.push(ua, b)
	o.signal()
}

// resend answers a duplicate as its original was answered; a duplicate of
// a message still being stored gets nothing (its answer is coming).
func (r *recentPacket) resend(s *Server, ua *net.UDPAddr) {
	r.mu.Lock()
	b := r.reply
	r.mu.Unlock()
	if b != nil {
		s.outFor(ua).push(ua, b)
	}
}

// Deliver queues a message pushed by the chat service: a broadcast in the
// lobby as 21, anything addressed to the user (a private message, an SMS
// to a number) as 23. Messages of other groups do not reach UDP users,
// who follow only the lobby.
func (c *client) Deliver(m *chat.Message) bool {
	var b []byte
	switch {
	case m.Group && m.Target == c.srv.cfg.Lobby:
		b = m.Wire(chat.WireUDP, encodePublic)
	case !m.Group:
		b = m.Wire(chat.WireUDP, encodeDirect)
	default:
		return false
	}
	if b == nil {
		c.srv.m.undeliverable.Inc()
		return false
	}
	return c.out.push(c.ua, b)
}

// Flush starts the sender on what Deliver queued.
func (c *client) Flush() { c.out.signal() }

// maxUDP is the largest UDP payload over IPv4.
const maxUDP = 65507

func encodePublic(m *chat.Message) []byte { return encodeFrom(OpPublic, m) }
func encodeDirect(m *chat.Message) []byte { return encodeFrom(OpDirect, m) }

// encodeFrom encodes a pushed message, or returns nil for one no datagram
// can carry (a CPT text near its line limit can be; the user reads it by
// CPT SYNC instead).
func encodeFrom(op byte, m *chat.Message) []byte {
	if HeaderSize+len(m.Sender)+1+len(m.Text) > maxUDP {
		return nil
	}
	return AppendNameText(nil, op, []byte(m.Sender), m.Text)
}
