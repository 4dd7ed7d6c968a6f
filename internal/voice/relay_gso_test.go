//go:build linux

package voice

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/ipv4"
)

// patterned is user packet seq of uid: every one of its 504 data bytes
// depends on both, so that a datagram cut, shifted or joined with another
// one in a GSO send does not compare equal.
func patterned(uid uint64, seq uint32) []byte {
	b := make([]byte, PacketSize)
	binary.BigEndian.PutUint64(b, uid)
	binary.BigEndian.PutUint32(b[8:], seq)
	for i := 12; i < PacketSize; i++ {
		b[i] = byte(uint64(i)*31 + uint64(seq)*7 + uid)
	}
	return b
}

// gatedConn holds a relay's reads while gated: a read then waits for a
// token on gate, and says on arrived that it is waiting, so that a test
// can queue a burst on the socket and have the relay take it in one
// recvmmsg. A token lasts until a read returns datagrams: a read that
// only hit the relay's housekeeping deadline does not use it up.
type gatedConn struct {
	batchConn
	gated   atomic.Bool
	gate    chan struct{}
	arrived chan struct{}
	pass    bool // a token is held; only the relay goroutine uses it
}

func (g *gatedConn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	if g.gated.Load() && !g.pass {
		select {
		case g.arrived <- struct{}{}:
		default:
		}
		<-g.gate
		g.pass = true
	}
	n, err := g.batchConn.ReadBatch(ms, flags)
	if n > 0 {
		g.pass = false
	}
	return n, err
}

// TestRelayDeliversEveryDatagramInOrder runs a channel of several members
// over real sockets, with GSO on and off and with echo on and off. The
// members send interleaved bursts (one packet each per round), and the
// relay takes each burst in one batch, so that every batch holds every
// sender and every destination is due several datagrams of it: with GSO
// they go out as one message per destination. Each receiver must get
// every datagram it is due, byte for byte, and each sender's in the order
// sent.
func TestRelayDeliversEveryDatagramInOrder(t *testing.T) {
	for _, gso := range []bool{true, false} {
		for _, echo := range []bool{false, true} {
			t.Run(fmt.Sprintf("gso=%v/echo=%v", gso, echo), func(t *testing.T) {
				cfg := testHubConfig()
				cfg.GSO, cfg.Echo, cfg.Batch = gso, echo, 64
				cfg.SocketBuffer = 1 << 20
				gc := &gatedConn{gate: make(chan struct{}), arrived: make(chan struct{}, 1)}
				cfg.wrapConn = func(bc batchConn) batchConn {
					gc.batchConn = bc
					return gc
				}
				h := newTestHub(t, cfg, matrixUsers())
				// Cleanups run last first: the gate opens before the hub
				// closes, so that the relay can see its socket closed.
				t.Cleanup(func() {
					gc.gated.Store(false)
					close(gc.gate)
				})
				uids := []uint64{uNone, uKick, uTarget, uAddUser, uRmCh}
				chid, ms := channelWith(t, h, uids...)
				h.mu.Lock()
				if got := h.channels[chid].gso; got != gso {
					t.Fatalf("channel gso = %v with voice.gso %v", got, gso)
				}
				h.mu.Unlock()
				for _, m := range ms {
					_ = m.conn.SetReadBuffer(1 << 20)
				}
				// Gate the reads, and wake the relay with a KEEPALIVE
				// (which forwards nothing) so that it comes to the gate.
				gc.gated.Store(true)
				ms[0].keepalive(0)
				<-gc.arrived
				// 12 rounds of 5 members: 60 datagrams, one batch of 64.
				const bursts, rounds = 10, 12
				next := map[[2]uint64]uint32{} // (receiver, sender) → the sequence number due
				buf := make([]byte, 2048)
				var seq uint32
				for range bursts {
					for range rounds {
						for _, m := range ms {
							m.send(patterned(m.uid, seq))
						}
						seq++
					}
					gc.gate <- struct{}{}
					due := rounds * (len(ms) - 1)
					if echo {
						due = rounds * len(ms)
					}
					for _, r := range ms {
						for range due {
							_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
							n, _, err := r.conn.ReadFromUDP(buf)
							if err != nil {
								t.Fatalf("uid %d: %v after %v", r.uid, err, next)
							}
							if n != PacketSize {
								t.Fatalf("uid %d got a %d-byte datagram", r.uid, n)
							}
							from := binary.BigEndian.Uint64(buf)
							if from == r.uid && !echo {
								t.Fatalf("uid %d got its own packet without echo", r.uid)
							}
							k := [2]uint64{r.uid, from}
							want := patterned(from, next[k])
							if !bytes.Equal(buf[:n], want) {
								t.Fatalf("uid %d: from %d got seq %d, want seq %d intact",
									r.uid, from, binary.BigEndian.Uint32(buf[8:]), next[k])
							}
							next[k]++
						}
					}
					<-gc.arrived
				}
				for _, r := range ms {
					_ = r.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					if n, _, err := r.conn.ReadFromUDP(buf); err == nil {
						t.Fatalf("uid %d got an extra %d-byte datagram", r.uid, n)
					}
				}
				per := uint64(len(ms) - 1)
				if echo {
					per++
				}
				// The binding ACKs are forwards too: one per member.
				want := float64(uint64(bursts*rounds*len(ms))*per + uint64(len(ms)))
				waitFor(t, func() bool { return testutil.ToFloat64(h.m.forwarded) == want })
				if e := testutil.ToFloat64(h.m.sendErrors); e != 0 {
					t.Fatalf("send errors %v", e)
				}
				if f := testutil.ToFloat64(h.m.gsoFallback); f != 0 {
					t.Fatalf("GSO fallbacks %v", f)
				}
			})
		}
	}
}

// sent is one message a recordConn took: its address and a copy of each
// of its datagrams.
type sent struct {
	to   netip.AddrPort
	segs [][]byte
	oob  bool
}

// recordConn is a batchConn that records what is sent. refuse, if set,
// fails a message the way sendmmsg does: the messages before it are sent
// and counted, and the next call starts with it and gets the error.
type recordConn struct {
	refuse func(m *ipv4.Message) error
	calls  int
	msgs   []sent
}

func (c *recordConn) ReadBatch([]ipv4.Message, int) (int, error) { return 0, nil }

func (c *recordConn) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	c.calls++
	for i := range ms {
		if c.refuse != nil {
			if err := c.refuse(&ms[i]); err != nil {
				if i == 0 {
					return -1, &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendmmsg", err)}
				}
				return i, nil
			}
		}
		s := sent{to: ms[i].Addr.(*net.UDPAddr).AddrPort(), oob: len(ms[i].OOB) > 0}
		for _, b := range ms[i].Buffers {
			s.segs = append(s.segs, bytes.Clone(b))
		}
		c.msgs = append(c.msgs, s)
	}
	return len(ms), nil
}

// datagrams is what each destination received, in order.
func (c *recordConn) datagrams() map[netip.AddrPort][][]byte {
	got := map[netip.AddrPort][][]byte{}
	for _, m := range c.msgs {
		got[m.to] = append(got[m.to], m.segs...)
	}
	return got
}

// relayFixture is a relay of a channel of n bound members (uids 1000…,
// ports 20000…) over bc, without sockets, and the channel's metrics.
func relayFixture(t testing.TB, n int, gso bool, bc batchConn) (*relay, *Metrics) {
	cfg := testHubConfig()
	cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	h := &Hub{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	ch := &channel{hub: h, id: 1, bc: bc, gso: gso}
	ch.members.Store(emptySet)
	for i := range n {
		uid := uint64(1000 + i)
		ch.addLocked(uid, time.Now())
		ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(20000+i))
		ch.members.Load().byUID[uid].addr.Store(&bound{ap: ap, ua: net.UDPAddrFromAddrPort(ap)})
	}
	return &relay{ch: ch, gso: gso}, cfg.Metrics
}

// batchFrom makes a received batch of count packets, packet i from
// member i%senders, numbered per sender from seq[sender] on (seq is
// advanced).
func batchFrom(senders, count int, seq []uint32) []ipv4.Message {
	var in []ipv4.Message
	for i := range count {
		s := i % senders
		pkt := make([]byte, PacketSize+1)
		copy(pkt, patterned(uint64(1000+s), seq[s]))
		seq[s]++
		in = append(in, ipv4.Message{Buffers: [][]byte{pkt}, N: PacketSize,
			Addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + s}})
	}
	return in
}

// checkDelivery checks that each member j of n got, from every sender s
// but itself, the datagrams 0..sent[s]-1 in order and intact.
func checkDelivery(t *testing.T, got map[netip.AddrPort][][]byte, n int, sent []uint32) {
	t.Helper()
	for j := range n {
		to := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(20000+j))
		next := map[uint64]uint32{}
		for _, d := range got[to] {
			from := binary.BigEndian.Uint64(d)
			if from == uint64(1000+j) {
				t.Fatalf("member %d got its own packet", j)
			}
			if !bytes.Equal(d, patterned(from, next[from])) {
				t.Fatalf("member %d: from %d got seq %d, want %d intact", j, from, binary.BigEndian.Uint32(d[8:]), next[from])
			}
			next[from]++
		}
		for s, want := range sent {
			if s == j {
				continue
			}
			if next[uint64(1000+s)] != want {
				t.Fatalf("member %d got %d of sender %d's %d datagrams", j, next[uint64(1000+s)], s, want)
			}
		}
	}
}

// TestCoalesceGroupsByDestination: with GSO, one batch becomes one
// message per destination (more when a destination is due more than
// gsoMaxSegments datagrams), each with the UDP_SEGMENT control message,
// and the datagrams keep their per-destination order.
func TestCoalesceGroupsByDestination(t *testing.T) {
	rc := &recordConn{}
	r, m := relayFixture(t, 10, true, rc)
	seq := make([]uint32, 10)
	// Two senders and 200 packets: every other member is due 200,
	// the senders 100 each, which takes 4 and 2 messages.
	r.batch(batchFrom(2, 200, seq), time.Now())
	if rc.calls != 1 {
		t.Fatalf("%d sendmmsg calls, want 1", rc.calls)
	}
	perDest := map[netip.AddrPort]int{}
	for _, s := range rc.msgs {
		if len(s.segs) > gsoMaxSegments {
			t.Fatalf("a message of %d segments", len(s.segs))
		}
		if s.oob != (len(s.segs) > 1) {
			t.Fatalf("a message of %d segments with control message %v", len(s.segs), s.oob)
		}
		perDest[s.to]++
	}
	if len(rc.msgs) != 2*2+8*4 {
		t.Fatalf("%d messages, want 36 (%v)", len(rc.msgs), perDest)
	}
	checkDelivery(t, rc.datagrams(), 10, seq)
	if f := testutil.ToFloat64(m.forwarded); f != 2*100+8*200 {
		t.Fatalf("forwarded %v, want one per datagram (1800)", f)
	}
}

// TestGSOOffSendsSingles: voice.gso = false sends one message per
// datagram, as before GSO.
func TestGSOOffSendsSingles(t *testing.T) {
	rc := &recordConn{}
	r, m := relayFixture(t, 10, false, rc)
	seq := make([]uint32, 10)
	r.batch(batchFrom(10, 64, seq), time.Now())
	for _, s := range rc.msgs {
		if len(s.segs) != 1 || s.oob {
			t.Fatalf("a message of %d datagrams (control message %v) with GSO off", len(s.segs), s.oob)
		}
	}
	if len(rc.msgs) != 64*9 {
		t.Fatalf("%d messages, want 576", len(rc.msgs))
	}
	checkDelivery(t, rc.datagrams(), 10, seq)
	if f := testutil.ToFloat64(m.forwarded); f != 576 {
		t.Fatalf("forwarded %v", f)
	}
}

// TestGSOFallback: a kernel that refuses GSO sends (EIO, as for a device
// without checksum offload) turns GSO off for the socket for good, and
// nothing is lost: the refused message and the rest of the flush go one
// datagram each. It is counted once.
func TestGSOFallback(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.EINVAL} {
		t.Run(errno.Error(), func(t *testing.T) {
			rc := &recordConn{refuse: func(m *ipv4.Message) error {
				if len(m.Buffers) > 1 {
					return errno
				}
				return nil
			}}
			r, m := relayFixture(t, 10, true, rc)
			seq := make([]uint32, 10)
			r.batch(batchFrom(10, 64, seq), time.Now())
			r.batch(batchFrom(10, 64, seq), time.Now())
			if r.gso {
				t.Fatal("GSO still on after EIO")
			}
			if got := testutil.ToFloat64(m.gsoFallback); got != 1 {
				t.Fatalf("fallbacks %v, want 1", got)
			}
			if f, e := testutil.ToFloat64(m.forwarded), testutil.ToFloat64(m.sendErrors); f != 2*576 || e != 0 {
				t.Fatalf("forwarded %v, send errors %v; want 1152, 0", f, e)
			}
			// The second batch went out in singles from the start: its
			// one sendmmsg was not refused.
			if rc.calls != 3 {
				t.Fatalf("%d sendmmsg calls, want 3 (refused, resent, second batch)", rc.calls)
			}
			checkDelivery(t, rc.datagrams(), 10, seq) // both batches, in order
		})
	}
}

// TestGSOSendErrorCountsDatagrams: a send error that is not a GSO refusal
// skips that message and counts each of its datagrams as a send error;
// GSO stays on and the other destinations get theirs.
func TestGSOSendErrorCountsDatagrams(t *testing.T) {
	bad := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 20003)
	rc := &recordConn{refuse: func(m *ipv4.Message) error {
		if m.Addr.(*net.UDPAddr).AddrPort() == bad {
			return syscall.EPERM
		}
		return nil
	}}
	r, m := relayFixture(t, 10, true, rc)
	seq := make([]uint32, 10)
	r.batch(batchFrom(10, 64, seq), time.Now())
	if !r.gso || testutil.ToFloat64(m.gsoFallback) != 0 {
		t.Fatal("a send error that is not a GSO refusal turned GSO off")
	}
	// Member 3 is due the 64 packets less its own 7.
	if f, e := testutil.ToFloat64(m.forwarded), testutil.ToFloat64(m.sendErrors); f != 576-57 || e != 57 {
		t.Fatalf("forwarded %v, send errors %v; want 519, 57", f, e)
	}
	if n := len(rc.datagrams()[bad]); n != 0 {
		t.Fatalf("the refused destination got %d", n)
	}
}
