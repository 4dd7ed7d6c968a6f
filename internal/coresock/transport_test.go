package coresock

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"switchboard/internal/pms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sockPath returns a socket path short enough for sun_path (108 bytes),
// which t.TempDir's long names can exceed.
func sockPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "core.sock")
}

// testServer runs a Server on a fresh socket until the test ends.
func testServer(t testing.TB, cfg Config, newHandler func(p *Peer) Handler) (*Server, string) {
	t.Helper()
	path := sockPath(t)
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: cfg}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(context.Background(), ln, newHandler) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, path
}

// coreHandler is a stand-in core: it answers PING at once, SUBMIT later from
// another goroutine with the index taken from the record (so that the test
// can check each response reached the call that sent it), and leaves
// MT_DISCHARGE unanswered.
type coreHandler struct {
	wg sync.WaitGroup
}

func (c *coreHandler) HandleRequest(p *Peer, h Header, body Body) {
	switch m := body.(type) {
	case *Ping:
		p.Reply(h, StatusOK, 0, nil)
	case *Submit:
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			var r pms.Record
			if err := m.Record.Decode(&r); err != nil {
				p.Reply(h, StatusMalformed, 0, nil)
				return
			}
			p.Reply(h, StatusOK, 0, &SubmitResp{Index: uint64(r.MR)<<32 | uint64(r.ConcatRef)})
		}()
	case *MTDischarge:
		// Never answered: for tests of calls outstanding at close.
	default:
		p.Reply(h, StatusUnknownType, 0, nil)
	}
}

func dial(t testing.TB, path string, cfg *Config) *Peer {
	t.Helper()
	p, err := Dial(context.Background(), path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawPair dials a listener whose one connection the test drives by hand
// (sv, the raw Conn), for tests of what a Peer does with what arrives.
func rawPair(t *testing.T, cfg *Config) (cl *Peer, sv *Conn) {
	t.Helper()
	path := sockPath(t)
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cl = dial(t, path, cfg)
	return cl, <-accepted
}

func submitFor(t testing.TB, mr uint8, ref uint16) *Submit {
	t.Helper()
	r := pms.Record{Kind: pms.KindSM, MR: mr, ConcatRef: ref,
		Src: pms.Address{TON: 1, NPI: 1, Digits: "16195550100"}, Dst: pms.Address{Digits: "12345"}}
	s := &Submit{}
	if err := s.Record.Encode(&r); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestListenModeAndBoundaries(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file %v, %v", fi.Mode(), err)
	}
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	cl, err := DialConn(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sv := <-accepted
	defer sv.Close()
	if cred, err := sv.PeerCred(); err != nil || int(cred.Pid) != os.Getpid() {
		t.Fatalf("PeerCred %+v, %v", cred, err)
	}
	// Packets of every size written back to back must come out one per
	// read with their sizes intact: SOCK_SEQPACKET keeps the boundaries,
	// which is why the protocol has no length field.
	sizes := []int{1, 8, 9, 300, MaxMessage, 2, MaxMessage - 1, 17}
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i)
		}
		if err := cl.WriteMessage(b); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, MaxMessage+1)
	for i, n := range sizes {
		got, err := sv.ReadMessage(buf)
		if err != nil || got != n || buf[0] != byte(i) || buf[got-1] != byte(i) {
			t.Fatalf("packet %d: read %d bytes (want %d), %v", i, got, n, err)
		}
	}
	if err := cl.WriteMessage(make([]byte, MaxMessage+1)); !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize write: %v", err)
	}
	if _, err := sv.ReadMessage(make([]byte, MaxMessage)); err == nil {
		t.Fatal("short read buffer accepted")
	}
}

func TestOversizeReadKeepsConnection(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln.SetMaxMessage(64)
	raw, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Close()
	big := make([]byte, 200)
	big[0] = 0xAA
	raw.Write(big)
	raw.Write([]byte{1, 2, 3})
	buf := make([]byte, 65)
	n, err := sv.ReadMessage(buf)
	if !errors.Is(err, ErrOversize) || n != 65 || buf[0] != 0xAA {
		t.Fatalf("oversize read: %d, %v", n, err)
	}
	n, err = sv.ReadMessage(buf)
	if err != nil || n != 3 || buf[2] != 3 {
		t.Fatalf("next read: %d, %v", n, err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := sockPath(t)
	// A listener that goes away without unlinking its file, as after
	// kill -9, leaves a socket nobody answers.
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale file missing: %v", err)
	}
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	c, err := DialConn(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestLiveSocketNotStolen(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln2, err := Listen(path, 0); !errors.Is(err, ErrInUse) {
		if ln2 != nil {
			ln2.Close()
		}
		t.Fatalf("second Listen: %v", err)
	}
	// The first server must still be reachable on its path.
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := DialConn(context.Background(), path, 0)
	if err != nil {
		t.Fatalf("first server lost its socket: %v", err)
	}
	c.Close()
}

func TestListenLeavesOtherFiles(t *testing.T) {
	path := sockPath(t)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := Listen(path, 0); err == nil {
		ln.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("regular file damaged")
	}
}

func TestConcurrentCallsMatched(t *testing.T) {
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{}, func(*Peer) Handler { return core })
	cl := dial(t, path, nil)
	const goroutines, perG = 32, (10000 + 31) / 32 // 10,016 calls
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				var resp Body
				var st Status
				var err error
				if i%2 == 0 {
					resp, st, err = cl.Call(context.Background(), submitFor(t, uint8(g), uint16(i)))
					if err == nil && st == StatusOK {
						if r, ok := resp.(*SubmitResp); !ok || r.Index != uint64(g)<<32|uint64(i) {
							bad.Add(1)
						}
						continue
					}
				} else {
					resp, st, err = cl.Call(context.Background(), &Ping{})
					if err == nil && st == StatusOK && resp == nil {
						continue
					}
				}
				t.Errorf("call: %#v %v %v", resp, st, err)
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d calls got the wrong answer", bad.Load())
	}
}

// imsiHandler is a role handler for FIND_IMSI.
type imsiHandler struct{}

func (imsiHandler) HandleRequest(p *Peer, h Header, body Body) {
	m, ok := body.(*FindIMSI)
	if !ok {
		p.Reply(h, StatusUnknownType, 0, nil)
		return
	}
	if m.MSISDN == "0" {
		p.Reply(h, StatusPermanentFailure, 7, nil)
		return
	}
	p.Reply(h, StatusOK, 0, &FindIMSIResp{IMSI: "31015" + m.MSISDN})
}

func TestRequestsBothWays(t *testing.T) {
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	srv, path := testServer(t, Config{}, func(*Peer) Handler { return core })
	cl := dial(t, path, &Config{Handler: imsiHandler{}})
	var sp *Peer
	for deadline := time.Now().Add(5 * time.Second); sp == nil; {
		if ps := srv.Peers(); len(ps) == 1 {
			sp = ps[0]
		} else if time.Now().After(deadline) {
			t.Fatal("server peer did not appear")
		}
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(2)
		go func() { // client → core
			defer wg.Done()
			for i := range 300 {
				resp, st, err := cl.Call(context.Background(), submitFor(t, uint8(g), uint16(i)))
				if err != nil || st != StatusOK || resp.(*SubmitResp).Index != uint64(g)<<32|uint64(i) {
					t.Errorf("submit: %#v %v %v", resp, st, err)
					return
				}
			}
		}()
		go func() { // core → client
			defer wg.Done()
			for i := range 300 {
				msisdn := "1619555" + string(rune('0'+g)) + string(rune('0'+i%10))
				resp, st, err := sp.Call(context.Background(), &FindIMSI{MSISDN: msisdn})
				if err != nil || st != StatusOK || resp.(*FindIMSIResp).IMSI != "31015"+msisdn {
					t.Errorf("find imsi: %#v %v %v", resp, st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_, st, reason, err := sp.CallReason(context.Background(), &FindIMSI{MSISDN: "0"})
	if err != nil || st != StatusPermanentFailure || reason != 7 {
		t.Fatalf("failure response: %v %d %v", st, reason, err)
	}
	// A pure client without a Handler answers requests UNKNOWN_TYPE.
	cl2 := dial(t, path, nil)
	_ = cl2
	for len(srv.Peers()) != 2 {
		time.Sleep(time.Millisecond)
	}
	for _, p := range srv.Peers() {
		if p == sp {
			continue
		}
		_, st, err := p.Call(context.Background(), &FindIMSI{MSISDN: "1"})
		if err != nil || st != StatusUnknownType {
			t.Fatalf("client without handler: %v %v", st, err)
		}
	}
}

// rawClient is a connection that speaks bytes, for sending what a Peer never
// would.
type rawClient struct {
	t testing.TB
	c net.Conn
}

func rawDial(t testing.TB, path string) *rawClient {
	t.Helper()
	c, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t, c}
}

func (r *rawClient) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// recv reads one packet, or returns nil after a short wait.
func (r *rawClient) recv(wait time.Duration) []byte {
	r.t.Helper()
	buf := make([]byte, 4096)
	r.c.SetReadDeadline(time.Now().Add(wait))
	n, err := r.c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func (r *rawClient) expect(id uint32, typ Type, st Status) {
	r.t.Helper()
	b := r.recv(5 * time.Second)
	h, _, err := Unmarshal(b)
	if err != nil || h.ID != id || h.Type != typ || h.Status != st {
		r.t.Fatalf("got % x (%+v, %v); want id %d %s %s", b, h, err, id, typ, st)
	}
}

func TestMalformedAndOversizeAnswered(t *testing.T) {
	m := NewMetrics(nil)
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{Metrics: m, MaxMessage: 512}, func(*Peer) Handler { return core })
	r := rawDial(t, path)
	ping := func(id uint32) []byte {
		b, _ := Marshal(nil, Header{ID: id}, &Ping{})
		return b
	}

	r.send(ping(1))
	r.expect(1, TypePing.Response(), StatusOK)

	big := make([]byte, 600)
	copy(big, ping(2))
	r.send(big)
	r.expect(2, TypePing.Response(), StatusMalformed)

	r.send(unhex(t, "01 55 0000 00000003"))
	r.expect(3, Type(0x55).Response(), StatusUnknownType)

	r.send(unhex(t, "01 08 0000 00000004 ff"))
	r.expect(4, TypePing.Response(), StatusMalformed)

	r.send(unhex(t, "01 08 0100 00000005"))
	r.expect(5, TypePing.Response(), StatusMalformed)

	r.send(unhex(t, "01 04 0000 00000006 03 06 6b616e6e"))
	r.expect(6, TypeRHRegister.Response(), StatusMalformed)

	// Unreadable packets get no answer at all: the next answer is the
	// PING's.
	r.send([]byte{1, 8, 0})
	r.send(unhex(t, "07 08 0000 00000007"))
	r.send(ping(8))
	r.expect(8, TypePing.Response(), StatusOK)

	// An oversize packet whose header is unreadable is dropped too.
	junk := make([]byte, 600)
	r.send(junk)
	// A response nobody asked for is counted and ignored.
	r.send(unhex(t, "01 88 0000 00000063 0000 0000"))
	r.send(ping(9))
	r.expect(9, TypePing.Response(), StatusOK)

	if got := testutil.ToFloat64(m.oversize); got != 2 {
		t.Errorf("oversize counter %v", got)
	}
	if got := testutil.ToFloat64(m.malformed); got != 6 {
		t.Errorf("malformed counter %v", got)
	}
	if got := testutil.ToFloat64(m.unmatched); got != 1 {
		t.Errorf("unmatched counter %v", got)
	}
	if got := testutil.ToFloat64(m.messagesIn); got != 12 {
		t.Errorf("messages in %v", got)
	}
}

func TestBadResponsesFailCalls(t *testing.T) {
	cl, sv := rawPair(t, nil)
	defer sv.Close()
	buf := make([]byte, MaxMessage+1)
	answer := func(resp func(id uint32) []byte) error {
		errc := make(chan error, 1)
		go func() {
			_, _, err := cl.Call(context.Background(), &Ping{})
			errc <- err
		}()
		n, err := sv.ReadMessage(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sv.c.Write(resp(binary.BigEndian.Uint32(buf[4:n]))); err != nil {
			t.Fatal(err)
		}
		return <-errc
	}
	// A response of the wrong type for the id.
	err := answer(func(id uint32) []byte {
		b, _ := Marshal(nil, Header{Type: TypeSubmit.Response(), ID: id}, &SubmitResp{})
		return b
	})
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("wrong type: %v", err)
	}
	// A response that does not decode.
	err = answer(func(id uint32) []byte {
		b := AppendHeader(nil, Header{Type: TypePing.Response(), ID: id})
		return append(b, 0xff)
	})
	if !errors.Is(err, ErrBadResponse) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("undecodable: %v", err)
	}
	// An oversize response.
	err = answer(func(id uint32) []byte {
		b := AppendHeader(make([]byte, 0, 2000), Header{Type: TypePing.Response(), ID: id})
		return b[:2000]
	})
	if !errors.Is(err, ErrBadResponse) || !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize: %v", err)
	}
	// The connection still works.
	err = answer(func(id uint32) []byte {
		return AppendHeader(nil, Header{Type: TypePing.Response(), ID: id})
	})
	if err != nil {
		t.Fatalf("good response after bad ones: %v", err)
	}
}

func TestSlowConsumerCut(t *testing.T) {
	m := NewMetrics(nil)
	closed := make(chan error, 1)
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{Metrics: m, ReplyQueue: 8, WriteTimeout: 200 * time.Millisecond,
		OnClose: func(p *Peer, err error) { closed <- err }}, func(*Peer) Handler { return core })
	r := rawDial(t, path)
	// Send requests and never read the answers: once the socket buffer
	// and the reply queue are full, the server must cut the connection
	// instead of blocking.
	ping, _ := Marshal(nil, Header{ID: 1}, &Ping{})
	go func() {
		for {
			if _, err := r.c.Write(ping); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-closed:
		if !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("closed with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow consumer not cut")
	}
	if got := testutil.ToFloat64(m.slowConsumers); got != 1 {
		t.Fatalf("slow consumer counter %v", got)
	}
	r.c.Close()
}

func TestCloseFailsOutstandingCalls(t *testing.T) {
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	var closes atomic.Int32
	_, path := testServer(t, Config{}, func(*Peer) Handler { return core })
	cl := dial(t, path, &Config{OnClose: func(*Peer, error) { closes.Add(1) }})
	const n = 20
	errc := make(chan error, n)
	for range n {
		go func() {
			_, _, err := cl.Call(context.Background(), &MTDischarge{Index: 1, Disposition: pms.Delivered})
			errc <- err
		}()
	}
	for {
		cl.mu.Lock()
		k := len(cl.pending)
		cl.mu.Unlock()
		if k == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cl.Close()
	for range n {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("outstanding call ended with %v", err)
		}
	}
	if _, _, err := cl.Call(context.Background(), &Ping{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after close: %v", err)
	}
	if err := cl.Reply(Header{Type: TypePing}, StatusOK, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("reply after close: %v", err)
	}
	cl.Close() // idempotent
	if closes.Load() != 1 {
		t.Fatalf("OnClose ran %d times", closes.Load())
	}
}

// closeRecorder is a server-side handler that never answers and records
// PeerClosed.
type closeRecorder struct {
	closed chan error
	reqs   atomic.Int32
}

func (c *closeRecorder) HandleRequest(p *Peer, h Header, body Body) { c.reqs.Add(1) }
func (c *closeRecorder) PeerClosed(p *Peer, err error)              { c.closed <- err }

func TestRemoteCloseFailsCallsAndNotifies(t *testing.T) {
	rec := &closeRecorder{closed: make(chan error, 1)}
	srv, path := testServer(t, Config{}, func(*Peer) Handler { return rec })
	cl := dial(t, path, &Config{Handler: HandlerFunc(func(*Peer, Header, Body) {})})
	for len(srv.Peers()) != 1 {
		time.Sleep(time.Millisecond)
	}
	sp := srv.Peers()[0]
	errc := make(chan error, 1)
	go func() {
		_, _, err := sp.Call(context.Background(), &MTTransfer{Index: 5})
		errc <- err
	}()
	for {
		sp.mu.Lock()
		k := len(sp.pending)
		sp.mu.Unlock()
		if k == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cl.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("core's call to a vanished handler: %v", err)
	}
	select {
	case <-rec.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("PeerClosed not called")
	}
	<-sp.Done()
	if len(srv.Peers()) != 0 {
		t.Fatal("closed peer still listed")
	}
}

func TestCallContextCancel(t *testing.T) {
	m := NewMetrics(nil)
	cl, sv := rawPair(t, &Config{Metrics: m})
	defer sv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := cl.Call(ctx, &Ping{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call: %v", err)
	}
	// The late answer is counted and ignored; the connection stays up.
	buf := make([]byte, MaxMessage+1)
	n, _ := sv.ReadMessage(buf)
	h, _ := PeekHeader(buf[:n])
	sv.WriteMessage(AppendHeader(nil, Header{Type: TypePing.Response(), ID: h.ID}))
	go func() {
		n, _ := sv.ReadMessage(buf)
		h, _ := PeekHeader(buf[:n])
		sv.WriteMessage(AppendHeader(nil, Header{Type: TypePing.Response(), ID: h.ID}))
	}()
	if _, st, err := cl.Call(context.Background(), &Ping{}); err != nil || st != StatusOK {
		t.Fatalf("call after cancel: %v %v", st, err)
	}
	if got := testutil.ToFloat64(m.unmatched); got != 1 {
		t.Fatalf("unmatched %v", got)
	}
}

func TestMaxInFlightWaits(t *testing.T) {
	rec := &closeRecorder{closed: make(chan error, 1)}
	_, path := testServer(t, Config{}, func(*Peer) Handler { return rec })
	cl := dial(t, path, &Config{MaxInFlight: 2})
	for range 2 {
		go cl.Call(context.Background(), &Ping{})
	}
	for rec.reqs.Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := cl.Call(ctx, &Ping{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third call: %v", err)
	}
	if rec.reqs.Load() != 2 {
		t.Fatal("a call past MaxInFlight was sent")
	}
}

func TestServeContextAndShutdown(t *testing.T) {
	path := sockPath(t)
	ln, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	s := &Server{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln, func(*Peer) Handler { return core }) }()
	cl, err := Dial(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, st, err := cl.Call(context.Background(), &Ping{}); err != nil || st != StatusOK {
		t.Fatal(st, err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
	<-cl.Done()
	if !errors.Is(cl.Err(), net.ErrClosed) && cl.Err() == nil {
		t.Fatalf("client cause %v", cl.Err())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left behind: %v", err)
	}
	if err := s.Serve(context.Background(), ln, nil); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after shutdown: %v", err)
	}
}

func TestShutdownFlushesReplies(t *testing.T) {
	// A reply queued just before Shutdown still reaches the client.
	replied := make(chan struct{})
	var sp *Peer
	var hdr Header
	got := make(chan struct{})
	srv, path := testServer(t, Config{}, func(p *Peer) Handler {
		return HandlerFunc(func(p *Peer, h Header, body Body) {
			sp, hdr = p, h
			close(got)
		})
	})
	cl := dial(t, path, nil)
	res := make(chan error, 1)
	go func() {
		_, _, err := cl.Call(context.Background(), &Ping{})
		res <- err
	}()
	<-got
	if err := sp.Reply(hdr, StatusOK, 0, nil); err != nil {
		t.Fatal(err)
	}
	close(replied)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("reply queued before shutdown lost: %v", err)
	}
}

func TestMetricsRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{Metrics: m}, func(*Peer) Handler { return core })
	cl := dial(t, path, nil)
	if _, _, err := cl.Call(context.Background(), &Ping{}); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n != 10 {
		t.Fatalf("%d series, %v", n, err)
	}
	// messages_in, not _out: the server counts what it read before it
	// answers, but what it sent only after the write, which may be after
	// the answer has reached the call.
	if testutil.ToFloat64(m.messagesIn) != 1 || testutil.ToFloat64(m.connections) != 1 {
		t.Fatal("counters")
	}
}

func TestSlowConsumerWriteTimeout(t *testing.T) {
	// The core calls a role handler that has stopped reading: the writer
	// blocks on the full socket buffer, and after WriteTimeout the handler
	// is cut and every outstanding call fails.
	m := NewMetrics(nil)
	var sp atomic.Pointer[Peer]
	srv, path := testServer(t, Config{Metrics: m, MaxInFlight: 4096, WriteTimeout: 100 * time.Millisecond},
		func(p *Peer) Handler { sp.Store(p); return nil })
	_ = srv
	r := rawDial(t, path)
	for sp.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	p := sp.Load()
	const n = 3000
	errc := make(chan error, n)
	for range n {
		go func() {
			_, _, err := p.Call(context.Background(), &MTCancel{Index: 1})
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; !errors.Is(err, ErrClosed) || !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("call to a handler that does not read: %v", err)
		}
	}
	if got := testutil.ToFloat64(m.slowConsumers); got != 1 {
		t.Fatalf("slow consumer counter %v", got)
	}
	r.c.Close()
}

func TestCallTooBigForLimit(t *testing.T) {
	core := &coreHandler{}
	// Waited for after the server's Shutdown (this cleanup is registered
	// first, so it runs last): the socket gives the race detector no
	// happens-before between the handler's Add and a Wait in the test.
	t.Cleanup(core.wg.Wait)
	_, path := testServer(t, Config{}, func(*Peer) Handler { return core })
	cl := dial(t, path, &Config{MaxMessage: 64})
	if _, _, err := cl.Call(context.Background(), submitFor(t, 1, 1)); !errors.Is(err, ErrOversize) {
		t.Fatalf("268-byte SUBMIT with a 64-byte limit: %v", err)
	}
	if _, st, err := cl.Call(context.Background(), &Ping{}); err != nil || st != StatusOK {
		t.Fatalf("ping after: %v %v", st, err)
	}
}
