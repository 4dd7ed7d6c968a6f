package voice

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// channelWith makes a channel and joins members for uids, each bound by
// an acknowledged KEEPALIVE.
func channelWith(t *testing.T, h *testHub, uids ...uint64) (uint64, []*udpMember) {
	t.Helper()
	chid := must(t)(h.Create(uAdmin))
	var ms []*udpMember
	for i, uid := range uids {
		port := must(t)(h.Join(uid, uid, chid))
		m := newMember(t, uid, port)
		m.bindAck(uint32(i + 1))
		ms = append(ms, m)
	}
	return chid, ms
}

func TestRelayForwardsToOthers(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	_, ms := channelWith(t, h, uNone, uKick, uTarget)
	a, b, c := ms[0], ms[1], ms[2]
	pkt := a.user("from a")
	pkt[511] = 0xEE // the data is relayed whole, unchecked
	a.send(pkt)
	for _, m := range []*udpMember{b, c} {
		if got := m.recv(); !bytes.Equal(got, pkt) {
			t.Fatalf("uid %d got %x..., want a's packet", m.uid, got[:16])
		}
	}
	// No echo: the next packet a gets is b's, not its own (the relay
	// handles datagrams in order, so an echo would have come first).
	pb := b.user("from b")
	b.send(pb)
	if got := a.recv(); !bytes.Equal(got, pb) {
		t.Fatalf("a got %q, want b's packet", got[8:14])
	}
	if got := c.recv(); !bytes.Equal(got, pb) {
		t.Fatalf("c got %q", got[8:14])
	}
	waitFor(t, func() bool { return testutil.ToFloat64(h.m.forwarded) >= 4 })
}

func TestRelayEcho(t *testing.T) {
	cfg := testHubConfig()
	cfg.Echo = true
	h := newTestHub(t, cfg, matrixUsers())
	_, ms := channelWith(t, h, uNone, uKick)
	p := ms[0].user("echo")
	ms[0].send(p)
	if got := ms[0].recv(); !bytes.Equal(got, p) {
		t.Fatal("no echo")
	}
	if got := ms[1].recv(); !bytes.Equal(got, p) {
		t.Fatal("not forwarded")
	}
}

// TestRelayDropsBadInput sends every kind of bad datagram from a member's
// own socket, then a good one: the receiver's next packet is the good one,
// and each bad one is counted under its reason.
func TestRelayDropsBadInput(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	_, ms := channelWith(t, h, uNone, uKick)
	a, b := ms[0], ms[1]
	good := a.user("good")

	a.send(good[:511])                           // short
	a.send(append(append([]byte{}, good...), 0)) // long
	a.send([]byte{1})                            // tiny
	a.send(bytes.Repeat([]byte{0xAB}, 1400))     // garbage, long
	ka := make([]byte, PacketSize)
	PutSystem(ka, OpKeepalive, uNone, 0)
	ka[20] ^= 0xFF // wrong checksum
	a.send(ka)
	pos := make([]byte, PacketSize)
	PutSystem(pos, 1, uNone, 0) // magic with a non-negative op
	a.send(pos)
	join := make([]byte, PacketSize)
	PutSystem(join, OpJoin, uNone, 0) // a server op, unsigned, from a user
	a.send(join)
	stranger := make([]byte, PacketSize)
	PutUser(stranger, uAdmin, []byte("not joined")) // a registered uid that has not joined
	a.send(stranger)
	bad := make([]byte, PacketSize)
	PutUser(bad, 0x00000001FFFFFFFF, nil) // a forbidden uid
	a.send(bad)
	a.send(good)

	if got := b.recv(); !bytes.Equal(got, good) {
		t.Fatalf("b got %x..., want the good packet", got[:16])
	}
	// The counters are added after the batch is sent, so wait for them.
	want := map[int]float64{dropSize: 4, dropChecksum: 1, dropOp: 1, dropSystem: 1, dropUnknown: 1, dropInvalid: 1}
	waitFor(t, func() bool {
		for reason, n := range want {
			if h.dropped(reason) != n {
				return false
			}
		}
		return true
	})
	if got := h.dropped(dropSpoofed); got != 0 {
		t.Errorf("spoofed = %v", got)
	}
}

// TestRelaySpoofing: once a member's address is bound, its uid from any
// other address is dropped and counted; the member itself is unaffected.
func TestRelaySpoofing(t *testing.T) {
	cfg := testHubConfig()
	cfg.RebindQuiet = 500 * time.Millisecond
	h := newTestHub(t, cfg, matrixUsers())
	_, ms := channelWith(t, h, uNone, uKick)
	a, b := ms[0], ms[1]
	evil := newMember(t, uNone, uint64(a.to.Port)) // claims a's uid
	spoof := evil.user("spoofed")
	evil.send(spoof)
	ka := make([]byte, PacketSize)
	PutSystem(ka, OpKeepalive, uNone, 9) // a spoofed keepalive earns no ACK
	evil.send(ka)
	real := a.user("real")
	a.send(real)
	if got := b.recv(); !bytes.Equal(got, real) {
		t.Fatalf("b got %q, want a's real packet", got[8:16])
	}
	waitFor(t, func() bool { return h.dropped(dropSpoofed) == 2 })
	// And the spoofer was not bound as the sender of b's packets either:
	// b's packet reaches a, not evil.
	pb := b.user("to a")
	b.send(pb)
	if got := a.recv(); !bytes.Equal(got, pb) {
		t.Fatal("a did not get b's packet")
	}
	_ = evil.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := evil.conn.ReadFromUDP(make([]byte, 600)); err == nil {
		t.Fatalf("the spoofer received %d bytes", n)
	}
	// Joining again while the bound member is active keeps its binding:
	// a co-member who learnt the uid cannot take the stream over.
	must(t)(h.Join(uNone, uNone, 1))
	evil.send(evil.user("after a re-join"))
	a.send(real)
	if got := b.recv(); !bytes.Equal(got, real) {
		t.Fatal("a re-JOIN while a was active moved its binding")
	}
	waitFor(t, func() bool { return h.dropped(dropSpoofed) == 3 })
	// Once a has been silent for RebindQuiet, joining again rebinds: the
	// member moves to a new socket.
	waitFor(t, func() bool {
		h.mu.Lock()
		m := h.channels[1].members.Load().byUID[uNone]
		h.mu.Unlock()
		return time.Since(time.Unix(0, m.lastSeen.Load())) > h.cfg.RebindQuiet
	})
	must(t)(h.Join(uNone, uNone, 1))
	moved := newMember(t, uNone, uint64(a.to.Port))
	moved.bindAck(77)
	pm := moved.user("moved")
	moved.send(pm)
	if got := b.recv(); !bytes.Equal(got, pm) {
		t.Fatal("rebound member not heard")
	}
}

// TestRelayLeaveJoinKeepsBinding: a co-member who learnt a's uid from its
// relayed packets cannot take a's stream over by LEAVE and JOIN as a (uid
// = luid needs no permission): a member that leaves while active gets its
// binding back when it joins again within RebindQuiet, so a goes on being
// heard and the other address stays spoofed. A member that was silent for
// RebindQuiet before it left joins with a fresh binding.
func TestRelayLeaveJoinKeepsBinding(t *testing.T) {
	cfg := testHubConfig()
	cfg.RebindQuiet = 300 * time.Millisecond
	h := newTestHub(t, cfg, matrixUsers())
	chid, ms := channelWith(t, h, uNone, uKick)
	a, b := ms[0], ms[1]
	hello := a.user("hello")
	a.send(hello)
	got := b.recv()
	stolen := binary.BigEndian.Uint64(got[:8]) // b learns a's uid
	if stolen != uNone {
		t.Fatalf("relayed uid %d, want %d", stolen, uNone)
	}
	must(t)(h.Leave(stolen, stolen, chid))
	must(t)(h.Join(stolen, stolen, chid))
	evil := newMember(t, stolen, uint64(a.to.Port))
	spoofed := h.dropped(dropSpoofed)
	evil.send(evil.user("injected as a"))
	waitFor(t, func() bool { return h.dropped(dropSpoofed) == spoofed+1 })
	real := a.user("real a, still active")
	a.send(real)
	if got := b.recv(); !bytes.Equal(got, real) {
		t.Fatalf("b got %q, want a's packet", got[8:30])
	}

	// LEAVE, then wait past RebindQuiet while a goes on sending, then
	// JOIN: a's address was heard all along, so the binding is still a's.
	must(t)(h.Leave(stolen, stolen, chid))
	for end := time.Now().Add(2 * cfg.RebindQuiet); time.Now().Before(end); {
		a.send(a.user("still here"))
		time.Sleep(20 * time.Millisecond) // a's packets: the pace of a voice stream
	}
	must(t)(h.Join(stolen, stolen, chid))
	spoofed = h.dropped(dropSpoofed)
	evil.send(evil.user("injected after a wait"))
	waitFor(t, func() bool { return h.dropped(dropSpoofed) == spoofed+1 })
	a.send(real)
	for {
		// A "still here" sent just before the JOIN may be relayed
		// after it; it is a's too.
		got := b.recv()
		if bytes.Equal(got, real) {
			break
		}
		if !bytes.Equal(got, a.user("still here")) {
			t.Fatalf("after LEAVE, a wait and JOIN, b got %q, want a's packet", got[8:30])
		}
	}

	// Silent for RebindQuiet, then LEAVE and JOIN: the binding is gone,
	// and the first address heard from is the member's.
	waitFor(t, func() bool {
		h.mu.Lock()
		m := h.channels[chid].members.Load().byUID[uNone]
		h.mu.Unlock()
		return time.Since(time.Unix(0, m.lastSeen.Load())) > cfg.RebindQuiet
	})
	must(t)(h.Leave(uNone, uNone, chid))
	must(t)(h.Join(uNone, uNone, chid))
	moved := newMember(t, uNone, uint64(a.to.Port))
	moved.bindAck(78)
	pm := moved.user("moved")
	moved.send(pm)
	if got := b.recv(); !bytes.Equal(got, pm) {
		t.Fatal("the member that left while silent was not bound afresh")
	}
	h.mu.Lock()
	left := len(h.channels[chid].left)
	h.mu.Unlock()
	if left != 0 {
		t.Errorf("%d bindings kept after they were taken or expired", left)
	}
}

func TestRelayAckIsSigned(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	chid, ms := channelWith(t, h, uNone)
	s := ms[0].bindAck(4242)
	if s.UID != uNone || s.Chid != chid || time.Since(time.UnixMilli(int64(s.UnixMilli))) > time.Minute {
		t.Fatalf("ack %+v", s)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	var b [PacketSize]byte
	PutSigned(b[:], testKey, OpAck, uNone, 1, chid, 0)
	if _, err := VerifySigned(other, b[:]); err == nil {
		t.Fatal("verified with the wrong key")
	}
}

func TestKeepaliveExpiry(t *testing.T) {
	cfg := testHubConfig()
	cfg.KeepaliveTimeout = 300 * time.Millisecond
	cfg.Announce = true
	h := newTestHub(t, cfg, matrixUsers())
	chid, ms := channelWith(t, h, uNone, uKick)
	a, b := ms[0], ms[1]
	// b keeps sending keepalives; a falls silent. b is then told, with a
	// signed LEAVE, that a left.
	deadline := time.Now().Add(5 * time.Second)
	pub := testKey.Public().(ed25519.PublicKey)
	for {
		if time.Now().After(deadline) {
			t.Fatal("a was not expired")
		}
		b.keepalive(0)
		_ = b.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 600)
		n, _, err := b.conn.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		s, err := VerifySigned(pub, buf[:n])
		if err == nil && s.Op == OpLeave && s.UID == a.uid {
			break
		}
	}
	info, _ := h.Channel(chid)
	if len(info.Members) != 1 || info.Members[0].UID != b.uid {
		t.Fatalf("members after expiry: %+v", info.Members)
	}
	if got := testutil.ToFloat64(h.m.expired); got != 1 {
		t.Fatalf("expired = %v", got)
	}
	// a's packets are now those of a stranger.
	a.send(a.user("late"))
	b.send(b.user("marker"))
	waitFor(t, func() bool { return h.dropped(dropUnknown) == 1 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAnnounceJoin(t *testing.T) {
	cfg := testHubConfig()
	cfg.Announce = true
	h := newTestHub(t, cfg, matrixUsers())
	chid, ms := channelWith(t, h, uNone)
	must(t)(h.Join(uKick, uKick, chid))
	s, err := VerifySigned(testKey.Public().(ed25519.PublicKey), ms[0].recv())
	if err != nil || s.Op != OpJoin || s.UID != uKick || s.Chid != chid {
		t.Fatalf("announce %+v, %v", s, err)
	}
	// Unregistering a member removes it from its channels.
	must(t)(h.Unregister(uKick, uKick))
	s, err = VerifySigned(testKey.Public().(ed25519.PublicKey), ms[0].recv())
	if err != nil || s.Op != OpLeave || s.UID != uKick {
		t.Fatalf("announce %+v, %v", s, err)
	}
	if info, _ := h.Channel(chid); len(info.Members) != 1 {
		t.Fatalf("members %+v", info.Members)
	}
}

func TestDeleteStopsRelay(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	chid, ms := channelWith(t, h, uNone, uKick)
	must(t)(h.Delete(uAdmin, chid))
	// The port is closed: sending gets nothing back, and a new channel
	// may take the port.
	ms[0].send(ms[0].user("x"))
	_ = ms[1].conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := ms[1].conn.ReadFromUDP(make([]byte, 600)); err == nil {
		t.Fatal("a deleted channel still relays")
	}
}

// Signed ACKs are rationed per member: a flood of KEEPALIVEs asking for
// one gets the burst, the rest are dropped and counted.
func TestAckBudget(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	_, ms := channelWith(t, h, uNone)
	m := ms[0] // channelWith spent one ACK binding it
	for i := 0; i < 30; i++ {
		m.keepalive(uint32(1000 + i))
	}
	acks := 0
	buf := make([]byte, PacketSize+1)
	for {
		_ = m.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := m.conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		if s, err := VerifySigned(testKey.Public().(ed25519.PublicKey), buf[:n]); err == nil && s.Op == OpAck {
			acks++
		}
	}
	// The burst of 5, less the binding's, plus what 10/s refills while
	// the flood is read.
	if acks < 3 || acks > 8 {
		t.Fatalf("%d ACKs for 30 requests", acks)
	}
	waitFor(t, func() bool { return h.dropped(dropAckRate) >= 20 })
}
