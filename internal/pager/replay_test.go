package pager

import (
	"net"
	"testing"
	"time"
)

// rawPeer sends hand-made datagrams to a server and reads its answers.
type rawPeer struct {
	t    *testing.T
	keys *Keys
	conn *net.UDPConn
}

func newRawPeer(t *testing.T, addr string) *rawPeer {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	k, err := NewKeys(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, keys: k, conn: conn}
}

func (r *rawPeer) seal(client uint32, at time.Time, p Packet) []byte {
	r.t.Helper()
	pt, err := p.Marshal(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	h := Header{Magic: MagicToServer, ClientID: client, Nonce: NewNonce()}
	b, err := r.keys.Seal(nil, &h, at, pt)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rawPeer) send(b []byte) {
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// answer waits up to d for an answer; ok is false if none came.
func (r *rawPeer) answer(d time.Duration) (Packet, bool) {
	buf := make([]byte, MaxDatagram+1)
	r.conn.SetReadDeadline(time.Now().Add(d))
	n, err := r.conn.Read(buf)
	if err != nil {
		return Packet{}, false
	}
	_, _, pt, err := r.keys.Open(make([]byte, MaxDatagram), buf[:n], MagicToStation)
	if err != nil {
		r.t.Fatalf("undecryptable answer: %v", err)
	}
	p, err := Parse(pt)
	if err != nil {
		r.t.Fatal(err)
	}
	return p, true
}

// quiet is how long a test waits to see that no answer comes. A dropped
// datagram has no signal; its counter is polled first, so this only
// confirms that nothing was sent after the drop was counted.
const quiet = 100 * time.Millisecond

func waitCounter(t *testing.T, ts *testServer, reason string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.dropped(reason) < want {
		if time.Now().After(deadline) {
			t.Fatalf("dropped{%s} = %v, want %v", reason, ts.dropped(reason), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestReplayDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	d := r.seal(0, time.Now(), Packet{Seq: 1, Options: OptSMS, Number: num1, Party: 1})
	r.send(d)
	if a, ok := r.answer(5 * time.Second); !ok || a.Status != StatusOK || a.Options&OptAck == 0 {
		t.Fatalf("first copy: %+v %v", a, ok)
	}
	r.send(d)
	waitCounter(t, ts, dropReplay, 1)
	if _, ok := r.answer(quiet); ok {
		t.Error("a replayed datagram was answered")
	}
	if n := len(ts.sms.all()); n != 1 {
		t.Errorf("%d SMS sent, want 1", n)
	}
}

func TestRetransmissionAnsweredOnce(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	p := Packet{Seq: 77, Options: OptSMS, Number: num1, Party: 5}
	for range 3 {
		// Sealed afresh each time, as a client retransmits.
		r.send(r.seal(0, time.Now(), p))
		if a, ok := r.answer(5 * time.Second); !ok || a.Seq != 77 || a.Status != StatusOK {
			t.Fatalf("answer %+v %v", a, ok)
		}
	}
	if n := len(ts.sms.all()); n != 1 {
		t.Errorf("%d SMS for one request sent three times, want 1", n)
	}
}

func TestStaleDropped(t *testing.T) {
	ts := startServer(t, Config{ReplayWindow: 10 * time.Second}, nil)
	r := newRawPeer(t, ts.addr)
	r.send(r.seal(0, time.Now().Add(-time.Minute), Packet{Seq: 1, Options: OptAdd, Number: num1}))
	r.send(r.seal(0, time.Now().Add(time.Minute), Packet{Seq: 2, Options: OptAdd, Number: num1}))
	waitCounter(t, ts, dropStale, 2)
	if _, ok := r.answer(quiet); ok {
		t.Error("a stale datagram was answered")
	}
	if len(ts.s.Waitlist()) != 0 {
		t.Error("a stale datagram changed the list")
	}
}

func TestTamperDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	d := r.seal(0, time.Now(), Packet{Seq: 1, Options: OptAdd, Number: num1})
	for i := range d {
		b := append([]byte(nil), d...)
		b[i] ^= 0x01
		r.send(b)
	}
	r.send(d[:len(d)-1])         // truncated
	r.send(append(d, 0))         // extended
	r.send(make([]byte, len(d))) // zeros
	waitCounter(t, ts, dropAuth, float64(len(d)-1+2))
	waitCounter(t, ts, dropMagic, 2)
	if _, ok := r.answer(quiet); ok {
		t.Error("a tampered datagram was answered")
	}
	if len(ts.s.Waitlist()) != 0 {
		t.Error("a tampered datagram changed the list")
	}
	// The genuine one still works: tampered copies did not burn its nonce.
	r.send(d)
	if a, ok := r.answer(5 * time.Second); !ok || a.Status != StatusOK {
		t.Fatalf("genuine datagram after the tampered ones: %+v %v", a, ok)
	}
}

func TestReflectedAnswerDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	r.send(r.seal(0, time.Now(), Packet{Seq: 1, Options: OptAdd, Number: num1}))
	buf := make([]byte, MaxDatagram+1)
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r.send(buf[:n]) // the server's own answer, sent back to it
	waitCounter(t, ts, dropMagic, 1)
}

func TestForgedProofDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	// Sealed with the right key, but the proof is for another nonce.
	other := NewNonce()
	p := Packet{Seq: 1, Options: OptAddClient, ClientID: 5, Proof: r.keys.Proof(5, OptAddClient, other[:])}
	r.send(r.seal(0, time.Now(), p))
	waitCounter(t, ts, dropProof, 1)
	ts.s.mu.Lock()
	n := len(ts.s.stations)
	ts.s.mu.Unlock()
	if n != 0 {
		t.Error("a forged proof registered a station")
	}
}

func TestReplayWindowUnit(t *testing.T) {
	w := newReplayWindow(10*time.Second, 2)
	now := time.Unix(1000, 0)
	a, b, c := NewNonce(), NewNonce(), NewNonce()
	if err := w.check(&a, now, now); err != nil {
		t.Fatal(err)
	}
	if err := w.check(&a, now, now.Add(time.Second)); err != ErrReplay {
		t.Fatalf("reuse: %v", err)
	}
	if err := w.check(&b, now, now); err != nil {
		t.Fatal(err)
	}
	if err := w.check(&c, now, now); err != ErrReplay {
		t.Fatalf("full window: %v, want refusal", err)
	}
	later := now.Add(21 * time.Second)
	if err := w.check(&c, later, later); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if err := w.check(&a, now, later); err != ErrStale {
		t.Fatalf("old timestamp: %v", err)
	}
}

// TestFloodDoesNotStarveClients: while junk datagrams pour in, a real
// client's requests are still answered.
func TestFloodDoesNotStarveClients(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	r := newRawPeer(t, ts.addr)
	junk := garbage(256, true)
	stop := make(chan struct{})
	flooded := make(chan int, 1)
	go func() {
		n := 0
		defer func() { flooded <- n }()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); n++ {
			select {
			case <-stop:
				return
			default:
			}
			r.conn.Write(junk[n&255])
		}
	}()
	c := ts.dial(t, 0, nil)
	for i := range 20 {
		if err := c.Add(ctx(t), uint64(16195550000+i)); err != nil {
			close(stop)
			t.Fatalf("request %d during the flood: %v", i, err)
		}
	}
	close(stop)
	n := <-flooded
	if got := ts.dropped(dropAuth); got == 0 || n == 0 {
		t.Fatalf("no flood happened: sent %d, dropped %v", n, got)
	}
	if len(ts.s.Waitlist()) != 20 {
		t.Errorf("%d numbers listed, want 20", len(ts.s.Waitlist()))
	}
	t.Logf("%d junk datagrams sent, %v rejected, during 20 requests", n, ts.dropped(dropAuth))
}
