package voice

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type testControl struct {
	*testHub
	c    *Control
	addr string
}

func newTestControl(t *testing.T, cc ControlConfig) *testControl {
	t.Helper()
	return newTestControlHub(t, cc, testHubConfig())
}

// newTestControlHub is newTestControl over a hub of cfg.
func newTestControlHub(t *testing.T, cc ControlConfig, cfg Config) *testControl {
	t.Helper()
	h := newTestHub(t, cfg, matrixUsers())
	if cc.IdleTimeout == 0 {
		cc.IdleTimeout = 5 * time.Second
	}
	cc.WriteTimeout = 5 * time.Second
	if cc.MaxConns == 0 {
		cc.MaxConns = 100
	}
	cc.Metrics = h.m
	c := NewControl(cc, h.Hub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Shutdown(ctx)
		<-done
	})
	return &testControl{testHub: h, c: c, addr: ln.Addr().String()}
}

func (tc *testControl) dial(t *testing.T) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", tc.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc.(*net.TCPConn)
}

func readN(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// The reference client: one 36-byte frame with junk, one reply, close.
func TestControlOneShotWithJunk(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	nc := tc.dial(t)
	frame := unhex(t, "00000000 0000000000000064 deadbeefdeadbeef deadbeefdeadbeef deadbeefdeadbeef") // CREATE uid 100
	nc.Write(frame)
	if got := readN(t, nc, 8); !bytes.Equal(got, unhex(t, "0000000000000001")) {
		t.Fatalf("reply %x, want channel 1", got)
	}
	nc.CloseWrite()
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the request: %d, %v; want EOF", n, err)
	}
}

// A client that sends only the fields it needs is answered at once,
// without waiting for the rest of the frame.
func TestControlShortFormAnsweredAtOnce(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	nc := tc.dial(t)
	nc.Write(unhex(t, "00000004 0000000000000000")) // REGISTER auid 0: 4 + 8 of 4 + 16 bytes
	nc.Write(unhex(t, "0000000000000000"))          // perm (ignored)
	got := readN(t, nc, 8)
	if u := beUint64(got); !ValidUID(u) {
		t.Fatalf("register answered %x", got)
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// Several full frames on one connection are answered in order, error
// reports included.
func TestControlSeveralRequests(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	nc := tc.dial(t)
	var out []byte
	for _, r := range []Request{
		{Cmd: CmdCreate, UID: uAdmin},
		{Cmd: CmdCreate, UID: uNone}, // no permission
		{Cmd: CmdGetPort, Chid: 1},
		{Cmd: CmdGetChannels},
		{Cmd: CmdJoin, UID: uNone, Target: uNone, Chid: 1},
	} {
		out, _ = AppendRequest(out, r)
	}
	// An unknown command type in a full frame, then one more request.
	out = append(out, unhex(t, "00000009 0000000000000000 0000000000000000 0000000000000000 0000000000000000")...)
	out, _ = AppendRequest(out, Request{Cmd: CmdLeave, UID: uNone, Target: uNone, Chid: 1})
	nc.Write(out)
	// 8 + 12 + 8 + 24 + 8 + 12 + 8 bytes of replies; the port is known
	// once the first request has made the channel.
	got := readN(t, nc, 80)
	port, _ := tc.Port(1)
	want := AppendResult(nil, 1)
	want = AppendError(want, CodeAccess)
	want = AppendResult(want, port)
	want = AppendChannels(want, []uint64{1})
	want = AppendResult(want, port)
	want = AppendError(want, CodeNotImplemented)
	want = AppendResult(want, 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("replies\n got %x\nwant %x", got, want)
	}
	if got := testutil.ToFloat64(tc.m.requests.WithLabelValues("create", "access")); got != 1 {
		t.Fatalf("create/access = %v", got)
	}
}

// A request cut short gets a param error report and the connection ends.
func TestControlShortRequest(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	nc := tc.dial(t)
	nc.Write(unhex(t, "00000002 00000000000000")) // JOIN, 7 of its 24 field bytes
	nc.CloseWrite()
	got, err := io.ReadAll(nc)
	if err != nil || !bytes.Equal(got, AppendError(nil, CodeParam)) {
		t.Fatalf("got %x, %v", got, err)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(tc.m.controlErrs.WithLabelValues("short")) == 1 })
}

// A client that connects and sends nothing is closed after the idle
// timeout.
func TestControlIdleTimeout(t *testing.T) {
	tc := newTestControl(t, ControlConfig{IdleTimeout: 100 * time.Millisecond})
	nc := tc.dial(t)
	start := time.Now()
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(tc.m.controlErrs.WithLabelValues("timeout")) == 1 })
}

// A burst of pipelined requests is answered in full, and another client is
// served meanwhile.
func TestControlBurst(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	nc := tc.dial(t)
	const n = 20000
	frame, _ := AppendRequest(nil, Request{Cmd: CmdGetPort, Chid: 5})
	errc := make(chan error, 1)
	go func() {
		burst := bytes.Repeat(frame, n)
		_, err := nc.Write(burst)
		errc <- err
	}()
	other, err := Do(context.Background(), tc.addr, Request{Cmd: CmdCreate, UID: uAdmin})
	if err != nil || other.Result == 0 {
		t.Fatalf("other client: %+v, %v", other, err)
	}
	want := AppendError(nil, CodeInvalid)
	got := readN(t, nc, n*len(want))
	if !bytes.Equal(got, bytes.Repeat(want, n)) {
		t.Fatal("burst replies differ")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Refused requests are rate limited per address: past the burst, requests
// naming a uid are refused unread, GET_PORT still works.
func TestControlFailRateLimit(t *testing.T) {
	tc := newTestControl(t, ControlConfig{FailBurst: 3, FailRate: 0.001})
	ctx := context.Background()
	for i := range 3 {
		_, err := Do(ctx, tc.addr, Request{Cmd: CmdCreate, UID: uint64(5000 + i)})
		var re *RequestError
		if !errors.As(err, &re) || re.Code != CodeAccess {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, err := Do(ctx, tc.addr, Request{Cmd: CmdCreate, UID: uAdmin})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("limited admin request: %v", err)
	}
	if got := testutil.ToFloat64(tc.m.controlErrs.WithLabelValues("rate_limited")); got != 1 {
		t.Fatalf("rate_limited = %v", got)
	}
	if len(tc.Channels()) != 0 {
		t.Fatal("a limited request was executed")
	}
	if _, err := Do(ctx, tc.addr, Request{Cmd: CmdGetChannels}); err != nil {
		t.Fatal(err)
	}
}

func TestControlMaxConns(t *testing.T) {
	tc := newTestControl(t, ControlConfig{MaxConns: 1})
	first := tc.dial(t)
	// The first connection is being served: prove it with a request.
	f, _ := AppendRequest(nil, Request{Cmd: CmdGetChannels})
	first.Write(f)
	readN(t, first, 16)
	second := tc.dial(t)
	if n, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatalf("second connection read %d bytes", n)
	}
	waitFor(t, func() bool { return testutil.ToFloat64(tc.m.controlErrs.WithLabelValues("too_many_connections")) == 1 })
}

// The Client type sends several requests on one connection.
func TestClient(t *testing.T) {
	tc := newTestControl(t, ControlConfig{})
	ctx := context.Background()
	c, err := Dial(ctx, tc.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uid, err := c.Do(ctx, Request{Cmd: CmdRegister, UID: uAdmin, Perm: PermAddChannel})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Do(ctx, Request{Cmd: CmdCreate, UID: uid.Result})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Do(ctx, Request{Cmd: CmdGetChannels})
	if err != nil || len(list.Channels) != 1 || list.Channels[0] != ch.Result {
		t.Fatalf("channels %+v, %v", list, err)
	}
	_, err = c.Do(ctx, Request{Cmd: CmdDelete, UID: uNone, Chid: ch.Result})
	var re *RequestError
	if !errors.As(err, &re) || re.Code != CodeAccess || re.Cmd != CmdDelete {
		t.Fatalf("delete by a stranger: %v", err)
	}
}

// Shutdown before Serve has started must not leave Serve blocked in
// Accept.
func TestControlShutdownBeforeServe(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	c := NewControl(ControlConfig{IdleTimeout: time.Second, WriteTimeout: time.Second, MaxConns: 1}, h.Hub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Shutdown(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		ln.Close()
		<-done
		t.Fatal("Serve did not return after Shutdown")
	}
}

// One client address holds at most MaxConnsPerIP connections; another
// address is unaffected.
func TestControlPerIPConnections(t *testing.T) {
	tc := newTestControl(t, ControlConfig{MaxConnsPerIP: 2})
	a, b := tc.dial(t), tc.dial(t)
	defer a.Close()
	defer b.Close()
	// Both are registered once each has been answered.
	for _, nc := range []*net.TCPConn{a, b} {
		if _, err := nc.Write(getChannelsFrame()); err != nil {
			t.Fatal(err)
		}
		if _, err := readReply(nc); err != nil {
			t.Fatal(err)
		}
	}
	third := tc.dial(t)
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the third connection from one address got %d bytes", n)
	}
	other, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, mustTCPAddr(t, tc.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Write(getChannelsFrame()); err != nil {
		t.Fatal(err)
	}
	if _, err := readReply(other); err != nil {
		t.Fatalf("another address was refused: %v", err)
	}
}

func getChannelsFrame() []byte {
	f := make([]byte, FrameSize)
	binary.BigEndian.PutUint32(f, uint32(CmdGetChannels))
	return f
}

// readReply reads the first 8 bytes of a reply.
func readReply(nc *net.TCPConn) ([]byte, error) {
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 8)
	_, err := io.ReadFull(nc, b)
	return b, err
}

func mustTCPAddr(t *testing.T, s string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Anonymous registrations (auid 0) come out of the same per-address
// budget: one address cannot fill max_users at line rate.
func TestControlAnonymousRegisterBudget(t *testing.T) {
	tc := newTestControl(t, ControlConfig{FailBurst: 3, FailRate: 0.001})
	ctx := context.Background()
	for i := range 3 {
		if _, err := Do(ctx, tc.addr, Request{Cmd: CmdRegister}); err != nil {
			t.Fatalf("registration %d: %v", i, err)
		}
	}
	var re *RequestError
	if _, err := Do(ctx, tc.addr, Request{Cmd: CmdRegister}); !errors.As(err, &re) || re.Code != CodeAccess {
		t.Fatalf("a fourth anonymous registration: %v, want refused", err)
	}
	if got := testutil.ToFloat64(tc.m.controlErrs.WithLabelValues("rate_limited")); got != 1 {
		t.Fatalf("rate_limited = %v", got)
	}
}

// Open registrations from many addresses share one budget (the hub's
// open registration bucket), which the per-address budget alone does
// not give: four addresses of two registrations each get five in all.
func TestControlOpenRegisterManyAddresses(t *testing.T) {
	cfg := testHubConfig()
	cfg.OpenRegisterBurst, cfg.OpenRegisterRate = 5, 0.001
	tc := newTestControlHub(t, ControlConfig{FailBurst: 3, FailRate: 0.001}, cfg)
	ok := 0
	for ip := 2; ip <= 5; ip++ {
		for range 2 {
			nc, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(ip))}, mustTCPAddr(t, tc.addr))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := AppendRequest(nil, Request{Cmd: CmdRegister})
			if _, err := nc.Write(f); err != nil {
				t.Fatal(err)
			}
			b, err := readReply(nc)
			nc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if binary.BigEndian.Uint64(b) != 0 {
				ok++
			}
		}
	}
	if ok != 5 {
		t.Fatalf("%d open registrations from 4 addresses, want the shared burst of 5", ok)
	}
}
