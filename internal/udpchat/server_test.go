package udpchat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/config"
	"switchboard/internal/cpt"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
	"switchboard/internal/udpchat"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// world is a running switchboard with its CHAT UDP and CPT listeners.
type world struct {
	t       *testing.T
	srv     *server.Server
	udpAddr string
	cptAddr string
}

func testConfig(t *testing.T) *config.Config {
	c := servertest.Config(t)
	// Tests ask for lists often; TestListRate tests the limit.
	c.UDPChat.ListEvery.Duration = time.Millisecond
	return c
}

func startWorld(t *testing.T, c *config.Config) *world {
	t.Helper()
	s, _ := servertest.Start(t, c)
	return &world{t: t, srv: s, udpAddr: s.UDPChatAddr().String(), cptAddr: s.CPTAddrs()[0].String()}
}

func (w *world) client(t *testing.T) *udpchat.Client {
	t.Helper()
	c, err := udpchat.Dial(w.udpAddr, udpchat.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (w *world) register(t *testing.T, name string) *udpchat.Client {
	t.Helper()
	c := w.client(t)
	if err := c.Register(ctx(t), name); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return c
}

func (w *world) cpt(t *testing.T, name string) *cpt.Client {
	t.Helper()
	c, err := cpt.Dial(ctx(t), w.cptAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(ctx(t), name, ""); err != nil {
		t.Fatalf("CONNECT %s: %v", name, err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// next is the next pushed packet of op, skipping the periodic lists.
func next(t *testing.T, c *udpchat.Client, op byte) udpchat.Packet {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p, ok := <-c.Events():
			if !ok {
				t.Fatal("client closed")
			}
			if p.Op == op {
				return p
			}
			if p.Op != udpchat.OpListReply {
				t.Fatalf("got opcode %d (%q), want %d", p.Op, p.Data, op)
			}
		case <-timeout:
			t.Fatalf("no packet of opcode %d within 5 s", op)
		}
	}
}

func expectFrom(t *testing.T, c *udpchat.Client, op byte, sender, text string) {
	t.Helper()
	p := next(t, c, op)
	from, got, err := udpchat.SplitNameText(p.Data)
	if err != nil || string(from) != sender || string(got) != text {
		t.Fatalf("got %q, want %s\\0%s", p.Data, sender, text)
	}
}

// quiet checks that no packet but a periodic list arrives for a while.
// It is the one place a test waits for nothing to happen, so it needs a
// time; the server answers within microseconds.
func quiet(t *testing.T, c *udpchat.Client) {
	t.Helper()
	timeout := time.After(200 * time.Millisecond)
	for {
		select {
		case p := <-c.Events():
			if p.Op != udpchat.OpListReply {
				t.Fatalf("unexpected packet %d %q", p.Op, p.Data)
			}
		case <-timeout:
			return
		}
	}
}

func serverError(t *testing.T, err error, want string) {
	t.Helper()
	var se *udpchat.ServerError
	if !errors.As(err, &se) || se.Text != want {
		t.Fatalf("got %v, want Error %q", err, want)
	}
}

func TestRegisterListInfoLogout(t *testing.T) {
	w := startWorld(t, testConfig(t))
	amy := w.register(t, "amy")
	// A resent register (its OK lost) is answered OK again.
	if err := amy.Register(ctx(t), "amy"); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	serverError(t, amy.Register(ctx(t), "other"), udpchat.ErrTextAddrInUse)
	bob := w.register(t, "bob")

	thief := w.client(t)
	serverError(t, thief.Register(ctx(t), "amy"), udpchat.ErrTextNameTaken)
	for _, bad := range []string{"", "a b", "nul\x00", "ctl\x01", "del\x7f", strings.Repeat("x", 33), "\xff\xfe",
		"system", "SYSTEM", "+16195550100", "6195550100", "lobby"} {
		serverError(t, thief.Register(ctx(t), bad), udpchat.ErrTextNameInvalid)
	}

	names, err := amy.List(ctx(t))
	if err != nil || !slices.Equal(names, []string{"amy", "bob"}) {
		t.Fatalf("list %q %v", names, err)
	}
	info, err := bob.Info(ctx(t))
	if err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ switchboard \S+$`).MatchString(info) {
		t.Fatalf("info %q %v", info, err)
	}
	// The info date is the server's now.
	if ts, _ := time.Parse(time.RFC3339, strings.Fields(info)[0]); time.Since(ts).Abs() > time.Minute {
		t.Fatalf("info date %s is not now", ts)
	}

	if err := bob.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Logging out again is OK: that is the state asked for.
	if err := bob.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}
	serverError(t, bob.Broadcast(ctx(t), "hi"), udpchat.ErrTextNotRegistered)
	if _, err := bob.Info(ctx(t)); err == nil {
		t.Fatal("info answered to an unregistered address")
	}
	if names, _ := amy.List(ctx(t)); !slices.Equal(names, []string{"amy"}) {
		t.Fatalf("list after logout %q", names)
	}
	// The name is free again, from any address.
	w.register(t, "bob")
}

func TestBroadcastReachesEveryoneIncludingSender(t *testing.T) {
	w := startWorld(t, testConfig(t))
	amy, bob, cat := w.register(t, "amy"), w.register(t, "bob"), w.register(t, "cat")
	// Broadcast returns when amy's own copy came back.
	if err := amy.Broadcast(ctx(t), "hello all"); err != nil {
		t.Fatal(err)
	}
	expectFrom(t, bob, udpchat.OpPublic, "amy", "hello all")
	expectFrom(t, cat, udpchat.OpPublic, "amy", "hello all")
	quiet(t, amy) // exactly one copy for the sender
	serverError(t, amy.Broadcast(ctx(t), "bad\ntext"), udpchat.ErrTextMessage)
}

func TestPrivateMessage(t *testing.T) {
	w := startWorld(t, testConfig(t))
	amy, bob := w.register(t, "amy"), w.register(t, "bob")
	if err := amy.Send(ctx(t), "bob", "psst"); err != nil {
		t.Fatal(err)
	}
	expectFrom(t, bob, udpchat.OpDirect, "amy", "psst")
	quiet(t, amy)
	serverError(t, amy.Send(ctx(t), "nobody", "hi"), udpchat.ErrTextUserNotFound)
	serverError(t, amy.Send(ctx(t), "bad name", "hi"), udpchat.ErrTextNameInvalid)
	serverError(t, amy.Send(ctx(t), "bob", "\x1b[2J"), udpchat.ErrTextMessage)
	// UDP users own no number, so they cannot text a phone.
	serverError(t, amy.Send(ctx(t), "+16195550100", "hi"), udpchat.ErrTextNoNumber)
}

// One chat world: names, private messages and the lobby are shared with
// CPT, and UDP messages are stored like all chat.
func TestCrossProtocol(t *testing.T) {
	w := startWorld(t, testConfig(t))
	alice := w.cpt(t, "alice")
	bob := w.register(t, "bob")

	// One namespace.
	serverError(t, w.client(t).Register(ctx(t), "alice"), udpchat.ErrTextNameTaken)
	x, err := cpt.Dial(ctx(t), w.cptAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var de *cpt.DeclineError
	if err := x.Connect(ctx(t), "bob", ""); !errors.As(err, &de) || de.Reason != "username_taken" {
		t.Fatalf("CPT CONNECT bob while bob is on UDP: %v", err)
	}
	if err := x.Connect(ctx(t), "lobby", ""); !errors.As(err, &de) || de.Reason != "username_invalid" {
		t.Fatalf("CPT CONNECT lobby: %v", err)
	}

	// UDP private → CPT push, and SYNC later.
	if err := bob.Send(ctx(t), "alice", "from udp"); err != nil {
		t.Fatal(err)
	}
	m := nextMsg(t, alice)
	if m.Sender != "bob" || m.Text != "from udp" || m.Group != "alice" {
		t.Fatalf("CPT got %+v", m)
	}
	got, err := alice.Sync(ctx(t), "", 0)
	if err != nil || len(got) != 1 || got[0].Sender != "bob" || got[0].Text != "from udp" {
		t.Fatalf("SYNC %+v %v", got, err)
	}

	// CPT SEND → UDP 23.
	if err := alice.Send(ctx(t), "bob", "from cpt"); err != nil {
		t.Fatal(err)
	}
	expectFrom(t, bob, udpchat.OpDirect, "alice", "from cpt")

	// The lobby: a UDP broadcast reaches a CPT user following it, and is
	// stored for SYNC; a CPT post there reaches UDP users as 21.
	if _, err := alice.Sync(ctx(t), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	if err := bob.Broadcast(ctx(t), "to the lobby"); err != nil {
		t.Fatal(err)
	}
	m = nextMsg(t, alice)
	if m.Group != "lobby" || m.Sender != "bob" || m.Text != "to the lobby" {
		t.Fatalf("CPT got %+v", m)
	}
	if err := alice.Send(ctx(t), "lobby", "cpt in the lobby"); err != nil {
		t.Fatal(err)
	}
	expectFrom(t, bob, udpchat.OpPublic, "alice", "cpt in the lobby")
	hist, err := alice.Sync(ctx(t), "lobby", 0)
	if err != nil || len(hist) != 2 || hist[0].Text != "to the lobby" || hist[1].Text != "cpt in the lobby" {
		t.Fatalf("lobby history %+v %v", hist, err)
	}
	// The user list is the whole world's.
	names, err := bob.List(ctx(t))
	if err != nil || !slices.Equal(names, []string{"alice", "bob"}) {
		t.Fatalf("list %q %v", names, err)
	}
}

func nextMsg(t *testing.T, c *cpt.Client) cpt.Message {
	t.Helper()
	select {
	case m := <-c.Messages():
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no MSG within 5 s")
	}
	return cpt.Message{}
}

// rawConn is a client socket that sends bytes as they are.
type rawConn struct {
	t *testing.T
	c *net.UDPConn
}

func (w *world) raw(t *testing.T) *rawConn { return w.rawFrom(t, nil) }

// rawFrom is raw from a given local address: the loopback /8 gives
// tests as many source IPs as they need.
func (w *world) rawFrom(t *testing.T, laddr *net.UDPAddr) *rawConn {
	t.Helper()
	ra, _ := net.ResolveUDPAddr("udp", w.udpAddr)
	c, err := net.DialUDP("udp", laddr, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next datagram, or nil if none comes within d.
func (r *rawConn) read(d time.Duration) []byte {
	buf := make([]byte, 70000)
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	n, err := r.c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func (r *rawConn) expect(want []byte) {
	r.t.Helper()
	got := r.read(5 * time.Second)
	if string(got) != string(want) {
		r.t.Fatalf("got %x (%q), want %x (%q)", got, got, want, want)
	}
}

func TestBadInput(t *testing.T) {
	c := testConfig(t)
	c.UDPChat.ErrorBurst = 3
	c.UDPChat.ErrorRate = 0.001 // no refill within the test
	w := startWorld(t, c)
	errPkt := func(text string) []byte { return udpchat.AppendError(nil, text) }

	// A registered client gets an Error for each bad packet.
	r := w.raw(t)
	r.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte("raw")))
	r.expect(udpchat.AppendOK(nil))
	for _, bad := range [][]byte{
		{},                      // empty
		{0x14},                  // one byte
		{0x14, 0x00},            // two
		{0x14, 0x00, 0x05, 'a'}, // LENGTH longer than the datagram
		{0x14, 0x00, 0x00, 'a'}, // shorter
		make([]byte, 1473),      // over max_datagram
	} {
		r.send(bad)
		r.expect(errPkt(udpchat.ErrTextMalformed))
	}
	r.send([]byte{99, 0, 0})
	r.expect(errPkt(udpchat.ErrTextUnknownOp))
	r.send(udpchat.AppendPacket(nil, udpchat.OpPrivate, []byte("no separator")))
	r.expect(errPkt(udpchat.ErrTextMalformed))
	r.send(udpchat.AppendNameText(nil, udpchat.OpPrivate, []byte("nu\x00l"), []byte("x")))
	r.expect(errPkt(udpchat.ErrTextMessage)) // split at the first NUL: the text holds the second

	// An unregistered source gets at most one short Error per request
	// and no more than its budget (error_burst 3) in all. It is another
	// IP than the registered client's, whose registration took from
	// 127.0.0.1's budget.
	u := w.rawFrom(t, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	for i := 0; i < 10; i++ {
		u.send([]byte{0x14, 0x00})
	}
	for i := 0; i < 10; i++ {
		u.send(udpchat.AppendPacket(nil, udpchat.OpInfo))
	}
	answers := 0
	for b := u.read(300 * time.Millisecond); b != nil; b = u.read(300 * time.Millisecond) {
		if b[0] != udpchat.OpError || len(b) > 3+len(udpchat.ErrTextMalformed) {
			t.Fatalf("unregistered source got %q", b)
		}
		answers++
	}
	if answers != 3 {
		t.Fatalf("unregistered source got %d answers to 20 requests, want 3 (its burst)", answers)
	}

	// The server is unaffected.
	amy := w.register(t, "amy")
	if _, err := amy.Info(ctx(t)); err != nil {
		t.Fatal(err)
	}
	metrics := scrape(t, w)
	for _, want := range []string{
		`switchboard_udpchat_bad_input_total{reason="short"} 13`, // 3 registered, 10 not
		`switchboard_udpchat_bad_input_total{reason="not_registered"} 10`,
		`switchboard_udpchat_bad_input_total{reason="length"} 2`,
		`switchboard_udpchat_bad_input_total{reason="oversize"} 1`,
		`switchboard_udpchat_bad_input_total{reason="unknown_opcode"} 1`,
		`switchboard_udpchat_bad_input_total{reason="malformed"} 1`,
		`switchboard_udpchat_bad_input_total{reason="source_rate_limited"} 17`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s; have:\n%s", want, grepLines(metrics, "switchboard_udpchat_bad_input_total"))
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func scrape(t *testing.T, w *world) string {
	t.Helper()
	resp, err := http.Get("http://" + w.srv.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A duplicated datagram is answered again but posted once.
func TestDuplicateDatagram(t *testing.T) {
	w := startWorld(t, testConfig(t))
	bob := w.register(t, "bob")
	r := w.raw(t)
	r.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte("amy")))
	r.expect(udpchat.AppendOK(nil))
	pkt := udpchat.AppendPacket(nil, udpchat.OpBroadcast, []byte("once"))
	echo := udpchat.AppendNameText(nil, udpchat.OpPublic, []byte("amy"), []byte("once"))
	r.send(pkt)
	r.expect(echo)
	r.send(pkt) // the network duplicated it
	r.expect(echo)
	expectFrom(t, bob, udpchat.OpPublic, "amy", "once")
	quiet(t, bob)

	priv := udpchat.AppendNameText(nil, udpchat.OpPrivate, []byte("bob"), []byte("just once"))
	r.send(priv)
	r.expect(udpchat.AppendOK(nil))
	r.send(priv)
	r.expect(udpchat.AppendOK(nil))
	expectFrom(t, bob, udpchat.OpDirect, "amy", "just once")
	quiet(t, bob)

	alice := w.cpt(t, "alice")
	hist, err := alice.Sync(ctx(t), "lobby", 0)
	if err != nil || len(hist) != 1 {
		t.Fatalf("lobby has %d messages (%v), want 1", len(hist), err)
	}
}

// lossyProxy relays datagrams between one client and the server,
// dropping some in each direction: the network the client sees.
type lossyProxy struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	drop   func(toServer bool, n int) bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, server string, drop func(toServer bool, n int) bool) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := net.ResolveUDPAddr("udp", server)
	up, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{conn: conn, server: sa, drop: drop}
	var mu sync.Mutex
	var client *net.UDPAddr
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 70000)
		for n := 0; ; n++ {
			k, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			client = from
			mu.Unlock()
			if !drop(true, n) {
				up.Write(buf[:k])
			}
		}
	}()
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 70000)
		for n := 0; ; n++ {
			k, err := up.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			to := client
			mu.Unlock()
			if to != nil && !drop(false, n) {
				conn.WriteToUDP(buf[:k], to)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		up.Close()
		p.wg.Wait()
	})
	return conn.LocalAddr().String()
}

// Lost requests and lost answers are made good by the client's resends,
// and a resend is never posted twice.
func TestLoss(t *testing.T) {
	w := startWorld(t, testConfig(t))
	bob := w.register(t, "bob")
	// Drop every other datagram each way: the first try of each request
	// is lost on the way in or its answer on the way out.
	addr := startProxy(t, w.udpAddr, func(toServer bool, n int) bool { return n%2 == 0 })
	amy, err := udpchat.Dial(addr, udpchat.ClientConfig{Retry: 100 * time.Millisecond, Tries: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer amy.Close()
	if err := amy.Register(ctx(t), "amy"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := amy.Send(ctx(t), "bob", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := amy.Broadcast(ctx(t), "through the storm"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		expectFrom(t, bob, udpchat.OpDirect, "amy", fmt.Sprintf("m%d", i))
	}
	expectFrom(t, bob, udpchat.OpPublic, "amy", "through the storm")
	quiet(t, bob)
}

func TestIdleExpiryAndPeriodicList(t *testing.T) {
	c := testConfig(t)
	// bob speaks at least every 1.1 s (a List gathers for up to 1 s);
	// amy never does.
	c.UDPChat.IdleTimeout.Duration = 2 * time.Second
	c.UDPChat.ListInterval.Duration = 100 * time.Millisecond
	w := startWorld(t, c)
	amy := w.register(t, "amy")
	bob := w.register(t, "bob")
	// The list comes unasked.
	p := next(t, bob, udpchat.OpListReply)
	if names := udpchat.SplitList(p.Data); !slices.Contains(names, "amy") {
		t.Fatalf("periodic list %q", names)
	}
	// bob keeps talking, amy falls silent and is dropped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		names, err := bob.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, "amy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("amy still registered after 10 s of silence")
		}
		time.Sleep(100 * time.Millisecond) // poll: expiry is the server's clock
	}
	serverError(t, amy.Broadcast(ctx(t), "anyone?"), udpchat.ErrTextNotRegistered)
}

// An address's session cannot be taken over from another address: the
// name is taken, and the other address's packets are its own.
func TestNoHijack(t *testing.T) {
	w := startWorld(t, testConfig(t))
	amy := w.register(t, "amy")
	bob := w.register(t, "bob")
	mallory := w.client(t)
	serverError(t, mallory.Register(ctx(t), "amy"), udpchat.ErrTextNameTaken)
	if err := mallory.Logout(ctx(t)); err != nil { // logs out nobody
		t.Fatal(err)
	}
	serverError(t, mallory.Send(ctx(t), "bob", "I am amy"), udpchat.ErrTextNotRegistered)
	quiet(t, bob)
	if names, _ := amy.List(ctx(t)); !slices.Equal(names, []string{"amy", "bob"}) {
		t.Fatalf("list %q", names)
	}
}

func TestRateLimitRegistered(t *testing.T) {
	c := testConfig(t)
	c.UDPChat.Rate = 0.001
	c.UDPChat.Burst = 5
	w := startWorld(t, c)
	r := w.raw(t)
	// Registering comes out of the source's budget; the session starts
	// with a full one.
	r.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte("fast")))
	r.expect(udpchat.AppendOK(nil))
	for i := 0; i < 20; i++ {
		r.send(udpchat.AppendPacket(nil, udpchat.OpInfo))
	}
	n := 0
	for b := r.read(300 * time.Millisecond); b != nil; b = r.read(300 * time.Millisecond) {
		n++
	}
	if n != 5 {
		t.Fatalf("%d answers to 20 requests with a burst of 5", n)
	}
	// Others are unaffected.
	if _, err := w.register(t, "slow").Info(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

// One source IP may hold max_per_ip sessions, and registrations come out
// of its answer budget, answered or not.
func TestPerIPLimits(t *testing.T) {
	c := testConfig(t)
	c.UDPChat.MaxPerIP = 2
	c.UDPChat.ErrorBurst = 4
	c.UDPChat.ErrorRate = 0.001
	w := startWorld(t, c)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)}
	regs := []struct{ name, want string }{
		{"one", ""}, {"two", ""}, {"three", udpchat.ErrTextTooManyFromIP}, {"four", "-"},
	}
	for _, r := range regs {
		rc := w.rawFrom(t, from)
		rc.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte(r.name)))
		got := rc.read(300 * time.Millisecond)
		switch r.want {
		case "":
			if string(got) != string(udpchat.AppendOK(nil)) {
				t.Fatalf("register %s: %q", r.name, got)
			}
		case "-": // the budget of 4 is spent: no answer at all
			if got != nil {
				t.Fatalf("register %s over the source's budget answered %q", r.name, got)
			}
		default:
			if string(got) != string(udpchat.AppendError(nil, r.want)) {
				t.Fatalf("register %s: %q, want Error %q", r.name, got, r.want)
			}
		}
		if r.name == "three" {
			// Spend the last token.
			rc.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte("three")))
			rc.read(300 * time.Millisecond)
		}
	}
	// Other addresses are unaffected.
	w.register(t, "elsewhere")
}

// A session gets a list reply at most once per list_every.
func TestListRate(t *testing.T) {
	c := testConfig(t)
	c.UDPChat.ListEvery.Duration = time.Hour
	w := startWorld(t, c)
	r := w.raw(t)
	r.send(udpchat.AppendPacket(nil, udpchat.OpRegister, []byte("lister")))
	r.expect(udpchat.AppendOK(nil))
	r.send(udpchat.AppendPacket(nil, udpchat.OpList))
	if got := r.read(5 * time.Second); got == nil || got[0] != udpchat.OpListReply {
		t.Fatalf("first list: %q", got)
	}
	r.send(udpchat.AppendPacket(nil, udpchat.OpList))
	if got := r.read(300 * time.Millisecond); got != nil {
		t.Fatalf("second list within list_every answered: %q", got)
	}
	if !strings.Contains(scrape(t, w), `switchboard_udpchat_bad_input_total{reason="list_rate_limited"} 1`) {
		t.Fatal("the refused list is not counted")
	}
}
