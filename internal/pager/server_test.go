package pager

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("test secret of at least 16 bytes")

// fakeSMS records the SMS the server asks for; fail makes it refuse.
type fakeSMS struct {
	mu   sync.Mutex
	sent []string // number + "|" + text
	fail error
	got  chan struct{}
}

func (f *fakeSMS) NotifySMS(ctx context.Context, number, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.sent = append(f.sent, number+"|"+text)
	if f.got != nil {
		select {
		case f.got <- struct{}{}:
		default:
		}
	}
	return nil
}

func (f *fakeSMS) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// fakeCaller is an in-test Caller: a unit test of how the pager reports
// a call's outcome, not a SIP test.
type fakeCaller struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeCaller) Call(ctx context.Context, number string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, number)
	return f.err
}

type testServer struct {
	s    *Server
	addr string
	reg  *prometheus.Registry
	sms  *fakeSMS
	done chan error
}

func startServer(t *testing.T, cfg Config, caller Caller) *testServer {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	ts := &testServer{reg: prometheus.NewRegistry(), sms: &fakeSMS{}, done: make(chan error, 1)}
	cfg.Metrics = NewMetrics(ts.reg)
	s, err := New(cfg, ts.sms, caller)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ts.s, ts.addr = s, conn.LocalAddr().String()
	go func() { ts.done <- s.Serve(conn) }()
	t.Cleanup(func() {
		s.Shutdown()
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		conn.Close()
	})
	return ts
}

func (ts *testServer) dial(t *testing.T, id uint32, onPush func(Packet)) *Client {
	t.Helper()
	c, err := Dial(ClientConfig{Server: ts.addr, Secret: testSecret, ID: id, OnPush: onPush, Retransmit: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (ts *testServer) dropped(reason string) float64 {
	return testutil.ToFloat64(ts.s.m.dropped.WithLabelValues(reason))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

const num1, num2 = 16195550100, 442079460000

func TestAddRemoveListIdempotent(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t, 0, nil)
	for range 2 { // the second add of the same number still acknowledges
		if err := c.Add(ctx(t), num1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Add(ctx(t), num2); err != nil {
		t.Fatal(err)
	}
	l, err := c.List(ctx(t))
	if err != nil || len(l) != 2 || l[0] != num1 || l[1] != num2 {
		t.Fatalf("List = %v, %v", l, err)
	}
	for range 2 { // removing an absent number still acknowledges
		if err := c.Remove(ctx(t), num1); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := c.List(ctx(t)); len(l) != 1 || l[0] != num2 {
		t.Fatalf("List after remove = %v", l)
	}
}

func TestListPages(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t, 0, nil)
	want := MaxListPerPacket*2 + 3
	for i := range want {
		if err := c.Add(ctx(t), 16195550000+uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := c.List(ctx(t))
	if err != nil || len(l) != want || l[want-1] != 16195550000+uint64(want-1) {
		t.Fatalf("List: %d numbers, %v", len(l), err)
	}
}

func TestNackReasons(t *testing.T) {
	ts := startServer(t, Config{MaxNumbers: 1}, nil)
	c := ts.dial(t, 0, nil)
	cases := []struct {
		name string
		p    Packet
		st   Status
	}{
		{"short number", Packet{Options: OptAdd, Number: 12}, StatusBadNumber},
		{"overlong number", Packet{Options: OptAdd, Number: 1234567890123456}, StatusBadNumber},
		{"add and remove", Packet{Options: OptAdd | OptRemove, Number: num1}, StatusBadRequest},
		{"overlong greeting", Packet{Options: OptSMS, Number: num1, Greeting: bytes.Repeat([]byte("a"), 65)}, StatusBadGreeting},
		{"greeting not utf-8", Packet{Options: OptSMS, Number: num1, Greeting: []byte{0xff, 'a'}}, StatusBadGreeting},
		{"calls disabled", Packet{Options: OptCall, Number: num1}, StatusCallsOff},
		{"client id 0", Packet{Options: OptAddClient, ClientID: 0}, StatusBadRequest},
		{"client bit with add", Packet{Options: OptAdd | OptAddClient, Number: num1}, StatusBadRequest},
		{"client bit with SMS", Packet{Options: OptSMS | OptRemoveClient, Number: num1}, StatusBadRequest},
	}
	for _, tc := range cases {
		_, err := c.Do(ctx(t), &tc.p)
		var ne *NackError
		if !errors.As(err, &ne) || ne.Status != tc.st || ne.Reason == "" {
			t.Errorf("%s: %v, want a NACK %s with a reason", tc.name, err, statusName(tc.st))
		}
	}
	if err := c.Add(ctx(t), num1); err != nil {
		t.Fatal(err)
	}
	var ne *NackError
	if err := c.Add(ctx(t), num2); !errors.As(err, &ne) || ne.Status != StatusListFull {
		t.Errorf("add past max_numbers: %v", err)
	}
	if len(ts.sms.all()) != 0 {
		t.Errorf("SMS sent for refused requests: %v", ts.sms.all())
	}
}

func TestNotifyGreetingTemplate(t *testing.T) {
	ts := startServer(t, Config{Greeting: "Party {n}: your table is ready"}, nil)
	c := ts.dial(t, 0, nil)
	if err := c.Notify(ctx(t), num1, 12, "Table {n} is ready!"); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), num2, 7, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx(t), num2, 3, "Come in"); err != nil {
		t.Fatal(err)
	}
	got := ts.sms.all()
	want := []string{"16195550100|Table 12 is ready!", "442079460000|Party 7: your table is ready", "442079460000|Come in (party 3)"}
	if len(got) != len(want) {
		t.Fatalf("SMS %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("SMS %d = %q, want %q", i, got[i], want[i])
		}
	}
	ts.sms.mu.Lock()
	ts.sms.fail = errors.New("core: upstream not permitted")
	ts.sms.mu.Unlock()
	var ne *NackError
	if err := c.Notify(ctx(t), num1, 1, ""); !errors.As(err, &ne) || ne.Status != StatusSMSRefused || ne.Reason != "core: upstream not permitted" {
		t.Errorf("refused SMS: %v", err)
	}
}

func TestNotifyAndRemove(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t, 0, nil)
	if err := c.Add(ctx(t), num1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx(t), &Packet{Options: OptSMS | OptRemove, Number: num1, Party: 4}); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.List(ctx(t)); len(l) != 0 {
		t.Errorf("number still listed after notify-and-remove: %v", l)
	}
}

func TestCallOutcomeReported(t *testing.T) {
	fc := &fakeCaller{}
	ts := startServer(t, Config{}, fc)
	c := ts.dial(t, 0, nil)
	if err := c.Call(ctx(t), num1); err != nil {
		t.Fatalf("call: %v", err)
	}
	fc.mu.Lock()
	fc.err = errors.New("sip: 486 Busy Here")
	fc.mu.Unlock()
	var ne *NackError
	if err := c.Call(ctx(t), num1); !errors.As(err, &ne) || ne.Status != StatusCallFailed || ne.Reason != "sip: 486 Busy Here" {
		t.Fatalf("failed call: %v", err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.calls) != 2 || fc.calls[0] != "16195550100" {
		t.Errorf("calls %v", fc.calls)
	}
}

func TestClientsAndUnknownDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	admin := ts.dial(t, 0, nil)
	st := ts.dial(t, 9, nil)
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := st.Add(short, num1); err == nil {
		t.Fatal("an unregistered station was answered")
	}
	if ts.dropped(dropUnknown) == 0 {
		t.Error("unknown client not counted")
	}
	if err := admin.AddClient(ctx(t), 9); err != nil {
		t.Fatal(err)
	}
	if err := st.Add(ctx(t), num1); err != nil {
		t.Fatalf("registered station: %v", err)
	}
	if err := admin.RemoveClient(ctx(t), 9); err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := st.Remove(short2, num1); err == nil {
		t.Fatal("a removed station was answered")
	}
}

func TestWrongSecretDropped(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c, err := Dial(ClientConfig{Server: ts.addr, Secret: []byte("another secret, 16+ bytes"), Retransmit: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Add(short, num1); err == nil {
		t.Fatal("answered a client with the wrong secret")
	}
	if ts.dropped(dropAuth) == 0 {
		t.Error("wrong-secret datagrams not counted")
	}
	if len(ts.s.Waitlist()) != 0 {
		t.Error("wrong-secret packet changed the list")
	}
}

// TestShutdownBeforeServe: a server stopped before its Serve goroutine
// got going (a later startup step failed) must not leave Serve blocked.
func TestShutdownBeforeServe(t *testing.T) {
	s, err := New(Config{Secret: testSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s.Shutdown()
	done := make(chan error, 1)
	go func() { done <- s.Serve(conn) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

// TestIPv6Listener: the batch reader decodes IPv6 sources too, so that
// answers find their way back.
func TestIPv6Listener(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	s, err := New(Config{Secret: testSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(conn) }()
	defer func() {
		s.Shutdown()
		<-done
		conn.Close()
	}()
	c, err := Dial(ClientConfig{Server: conn.LocalAddr().String(), Secret: testSecret, Retransmit: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Add(ctx(t), num1); err != nil {
		t.Fatalf("over IPv6: %v", err)
	}
}

// A NACK reason never carries a phone number, however it is written.
func TestReasonHidesNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"sipcall: busy: 486 Busy Here":     "sipcall: busy: 486 Busy Here",
		"cannot reach +1 619-555-0100 now": "cannot reach # now",
		"number 16195550100 refused":       "number # refused",
		"(619) 555.0100 is unknown":        "(# is unknown",
		"caf\u00e9 closed":                 "caf? closed",
	} {
		if got := reasonOf(errors.New(in)); got != want {
			t.Errorf("reasonOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// slowCaller rings for a while.
type slowCaller struct {
	ring  time.Duration
	calls atomic.Int32
}

func (c *slowCaller) Call(ctx context.Context, number string) error {
	c.calls.Add(1)
	select {
	case <-time.After(c.ring):
	case <-ctx.Done():
	}
	return nil
}

// A call that rings for longer than the replay window is placed once:
// the station's retransmissions meanwhile find it in progress.
func TestLongCallPlacedOnce(t *testing.T) {
	sc := &slowCaller{ring: 1500 * time.Millisecond}
	ts := startServer(t, Config{ReplayWindow: 500 * time.Millisecond}, sc)
	c := ts.dial(t, 0, nil)
	if err := c.Call(ctx(t), num1); err != nil {
		t.Fatalf("call: %v", err)
	}
	if n := sc.calls.Load(); n != 1 {
		t.Fatalf("placed %d calls for one request", n)
	}
}

// An overlong greeting gets its NACK, however long: the answer leaves the
// refused greeting out so that it fits a datagram.
func TestOverlongGreetingNacked(t *testing.T) {
	ts := startServer(t, Config{}, nil)
	c := ts.dial(t, 0, nil)
	var ne *NackError
	err := c.Notify(ctx(t), num1, 1, strings.Repeat("g", 300))
	if !errors.As(err, &ne) || ne.Status != StatusBadGreeting {
		t.Fatalf("300-byte greeting: %v", err)
	}
}
