package coresock

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// batchOf builds a BATCH packet with container id id holding the members
// as they are.
func batchOf(id uint32, members ...[]byte) []byte {
	b := appendBatchHeader(nil)
	binary.BigEndian.PutUint32(b[4:], id)
	for _, m := range members {
		b = appendMember(b, m)
	}
	return b
}

func pingMsg(id uint32) []byte {
	b, _ := Marshal(nil, Header{ID: id}, &Ping{})
	return b
}

func helloMsg(id uint32, caps, max uint32) []byte {
	b, _ := Marshal(nil, Header{ID: id}, &hello{caps: caps, maxBatch: max})
	return b
}

// recvAll reads packets for up to wait and returns the messages in them,
// BATCH members taken apart, and how many packets were BATCHes.
func (r *rawClient) recvAll(t *testing.T, want int, wait time.Duration) (msgs [][]byte, batches int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for len(msgs) < want {
		b := r.recv(time.Until(deadline))
		if b == nil {
			t.Fatalf("got %d of %d messages", len(msgs), want)
		}
		if !isBatch(b) {
			msgs = append(msgs, b)
			continue
		}
		batches++
		if err := checkBatch(b); err != nil {
			t.Fatalf("broken BATCH % x: %v", b, err)
		}
		for rest := b[HeaderSize:]; len(rest) > 0; {
			var m []byte
			m, rest, _ = nextMember(rest)
			msgs = append(msgs, m)
		}
	}
	return msgs, batches
}

// expectSeq checks that msgs are answers with these ids, types and
// statuses, in this order.
func expectSeq(t *testing.T, msgs [][]byte, want ...Header) {
	t.Helper()
	if len(msgs) != len(want) {
		t.Fatalf("%d answers, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		h, _, err := Unmarshal(m)
		if h.Type.Request() == TypeBatch {
			// A BATCH answer decodes only as an error response.
			h, err = PeekHeader(m)
			h.Status = Status(binary.BigEndian.Uint16(m[8:]))
		}
		if err != nil || h.ID != want[i].ID || h.Type != want[i].Type || h.Status != want[i].Status {
			t.Errorf("answer %d: % x (%+v, %v); want %+v", i, m, h, err, want[i])
		}
	}
}

func answer(id uint32, typ Type, st Status) Header {
	return Header{Type: typ.Response(), ID: id, Status: st}
}

// rawHello makes the raw client a BATCH-reading peer, as a Peer that
// dialled would be.
func (r *rawClient) hello(t *testing.T, wantMax uint32) {
	t.Helper()
	// 4096: what rawClient.recv reads at most.
	r.send(helloMsg(100, capBatch, 4096))
	b := r.recv(5 * time.Second)
	h, body, err := Unmarshal(b)
	m, ok := body.(*helloResp)
	if err != nil || h.ID != 100 || !ok || m.caps&capBatch == 0 || m.maxBatch != wantMax {
		t.Fatalf("HELLO answered % x (%+v %#v %v)", b, h, body, err)
	}
}

// Every member of a well-framed BATCH is handled as if it had come alone,
// answered in order: the good ones OK, the bad ones with the status the
// single-message rules give them, the unreadable ones not at all.
func TestBatchMembersHandledAlone(t *testing.T) {
	m := NewMetrics(nil)
	_, path := testServer(t, Config{Metrics: m, MaxMessage: 512}, func(*Peer) Handler { return pingHandler{} })
	r := rawDial(t, path)
	r.hello(t, defaultMaxBatch)

	oversize := make([]byte, 600)
	copy(oversize, pingMsg(7))
	r.send(batchOf(0x77,
		pingMsg(1),
		unhex(t, "01 55 0000 00000003"),                 // unknown type
		unhex(t, "01 08 0100 00000004"),                 // reserved ≠ 0
		[]byte{1, 8, 0},                                 // short: dropped
		unhex(t, "02 08 0000 00000006"),                 // other version: dropped
		oversize,                                        // larger than the limit
		batchOf(8, pingMsg(80)),                         // batches do not nest
		unhex(t, "01 88 0000 00000063 0000 0000"),       // a response nobody waits for
		unhex(t, "01 09 0000 0000000a 00000000 000000"), // a HELLO cut short
		pingMsg(11),
	))
	msgs, _ := r.recvAll(t, 7, 5*time.Second)
	expectSeq(t, msgs,
		answer(1, TypePing, StatusOK),
		answer(3, Type(0x55), StatusUnknownType),
		answer(4, TypePing, StatusMalformed),
		answer(7, TypePing, StatusMalformed),
		answer(8, TypeBatch, StatusMalformed),
		answer(10, TypeHello, StatusMalformed),
		answer(11, TypePing, StatusOK),
	)
	// The connection goes on.
	r.send(pingMsg(12))
	r.expect(12, TypePing.Response(), StatusOK)

	for name, c := range map[string]struct {
		got  float64
		want float64
	}{
		"messages in": {testutil.ToFloat64(m.messagesIn), 1 + 10 + 1},
		"packets in":  {testutil.ToFloat64(m.packetsIn), 3},
		"malformed":   {testutil.ToFloat64(m.malformed), 6},
		"oversize":    {testutil.ToFloat64(m.oversize), 1},
		"unmatched":   {testutil.ToFloat64(m.unmatched), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
}

// A BATCH that cannot be taken apart is not acted on at all: every member
// whose header is readable is answered MALFORMED, and so is the BATCH.
func TestBrokenBatchRefused(t *testing.T) {
	m := NewMetrics(nil)
	_, path := testServer(t, Config{Metrics: m, MaxBatch: 1024}, func(*Peer) Handler { return pingHandler{} })
	r := rawDial(t, path)
	r.hello(t, 1024)

	// The third member's length runs past the end; its header is there.
	b := batchOf(0x71, pingMsg(1), pingMsg(2))
	b = binary.BigEndian.AppendUint16(b, 200)
	b = append(b, pingMsg(3)...)
	r.send(b)
	msgs, _ := r.recvAll(t, 4, 5*time.Second)
	expectSeq(t, msgs,
		answer(1, TypePing, StatusMalformed),
		answer(2, TypePing, StatusMalformed),
		answer(3, TypePing, StatusMalformed),
		answer(0x71, TypeBatch, StatusMalformed),
	)

	// A lone byte where a length should be; a member too short to have
	// a header is passed over.
	b = batchOf(0x72, pingMsg(4), []byte{1, 2})
	r.send(append(b, 0))
	msgs, _ = r.recvAll(t, 2, 5*time.Second)
	expectSeq(t, msgs, answer(4, TypePing, StatusMalformed), answer(0x72, TypeBatch, StatusMalformed))

	// Empty, and with the reserved field set.
	r.send(batchOf(0x73))
	b = batchOf(0x74, pingMsg(5))
	b[3] = 1
	r.send(b)
	msgs, _ = r.recvAll(t, 3, 5*time.Second)
	expectSeq(t, msgs,
		answer(0x73, TypeBatch, StatusMalformed),
		answer(5, TypePing, StatusMalformed),
		answer(0x74, TypeBatch, StatusMalformed))

	// Larger than the receiver's limit: the kernel cuts it, and what is
	// left is refused as a whole.
	var members [][]byte
	for id := range uint32(120) {
		members = append(members, pingMsg(1000+id))
	}
	big := batchOf(0x75, members...)
	if len(big) <= 1024 {
		t.Fatalf("test BATCH of %d bytes is not oversize", len(big))
	}
	r.send(big)
	// 1025 bytes kept: 8 of header, then 101 whole 10-byte members and
	// 7 bytes of the next, too few for its header.
	want := []Header{}
	for id := range uint32(101) {
		want = append(want, answer(1000+id, TypePing, StatusMalformed))
	}
	want = append(want, answer(0x75, TypeBatch, StatusMalformed))
	msgs, _ = r.recvAll(t, len(want), 5*time.Second)
	expectSeq(t, msgs, want...)
	if got := testutil.ToFloat64(m.oversize); got != 1 {
		t.Errorf("oversize %v", got)
	}

	r.send(pingMsg(6))
	r.expect(6, TypePing.Response(), StatusOK)
}

// oldPeer plays an end that predates HELLO and BATCH on conn: it answers
// PING and SUBMIT, answers everything else UNKNOWN_TYPE as the old
// transport did, and records any BATCH it is sent.
type oldPeer struct {
	conn    net.Conn
	mu      sync.Mutex
	batches int
	hellos  int
	done    chan struct{}
}

func serveOld(c net.Conn) *oldPeer {
	o := &oldPeer{conn: c, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		buf := make([]byte, 1<<16)
		for {
			n, err := c.Read(buf)
			if err != nil || n == 0 {
				return
			}
			h, err := PeekHeader(buf[:n])
			if err != nil {
				continue
			}
			o.mu.Lock()
			switch h.Type {
			case TypeBatch:
				o.batches++
			case TypeHello:
				o.hellos++
			}
			o.mu.Unlock()
			var out []byte
			switch {
			case h.Type.IsResponse():
				continue
			case h.Type == TypePing:
				out = AppendHeader(nil, Header{Type: TypePing.Response(), ID: h.ID})
			case h.Type == TypeSubmit:
				out, _ = Marshal(nil, Header{Type: TypeSubmit.Response(), ID: h.ID}, &SubmitResp{Index: uint64(h.ID)})
			default:
				out = AppendHeader(nil, Header{Type: h.Type.Response(), ID: h.ID, Status: StatusUnknownType})
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}()
	return o
}

// A new client on an old core: its HELLO is answered UNKNOWN_TYPE, and it
// never sends a BATCH, however many calls it has in flight.
func TestNewClientOldServer(t *testing.T) {
	cl, sv := rawPair(t, nil)
	old := serveOld(sv.c)
	defer func() { sv.Close(); <-old.done }()

	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, st, err := cl.Call(context.Background(), submitFor(t, uint8(i), uint16(round)))
				if err != nil || st != StatusOK || resp == nil {
					t.Errorf("call: %v %v", st, err)
				}
			}()
		}
		wg.Wait()
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if old.batches != 0 || old.hellos != 1 {
		t.Fatalf("old server got %d BATCHes and %d HELLOs, want 0 and 1", old.batches, old.hellos)
	}
	if cl.sendBatch.Load() != 0 {
		t.Fatal("client batches to a server that did not say it reads them")
	}
}

// An old client never sends HELLO, so the core never sends it a BATCH,
// however many answers are queued for it at once.
func TestOldClientNewServer(t *testing.T) {
	_, path := testServer(t, Config{}, func(*Peer) Handler { return pingHandler{} })
	r := rawDial(t, path)
	for id := range uint32(200) {
		r.send(pingMsg(id + 1))
	}
	msgs, batches := r.recvAll(t, 200, 5*time.Second)
	if batches != 0 {
		t.Fatalf("%d BATCHes sent to a client that never said HELLO", batches)
	}
	want := make([]Header, 200)
	for i := range want {
		want[i] = answer(uint32(i+1), TypePing, StatusOK)
	}
	expectSeq(t, msgs, want...)
}

// Two current ends agree on BATCH through HELLO and then use it both ways;
// answers still reach the calls that made them.
func TestBatchBothWays(t *testing.T) {
	sm, cm := NewMetrics(nil), NewMetrics(nil)
	srv, path := testServer(t, Config{Metrics: sm}, func(*Peer) Handler { return pingHandler{} })
	cl := dial(t, path, &Config{Metrics: cm})
	// HELLO goes out once messages go several at a time.
	burst := func() {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, st, err := cl.Call(context.Background(), submitFor(t, uint8(i), 1))
				if r, ok := resp.(*SubmitResp); err != nil || st != StatusOK || !ok || r.Index != 1 {
					t.Errorf("call: %#v %v %v", resp, st, err)
				}
			}()
		}
		wg.Wait()
	}
	for round := 0; ; round++ {
		burst()
		select {
		case <-cl.batching:
		default:
			if round == 100 {
				t.Fatal("no HELLO after 100 bursts of 64 calls")
			}
			continue
		}
		break
	}
	sp := srv.Peers()[0]
	<-sp.batching
	if cl.sendBatch.Load() != defaultMaxBatch || sp.sendBatch.Load() != defaultMaxBatch {
		t.Fatalf("batch limits %d and %d", cl.sendBatch.Load(), sp.sendBatch.Load())
	}
	// With 64 calls at a time, some go in batches each way. Timing
	// decides how many, so the test only asks that some do.
	for range 100 {
		burst()
		if testutil.ToFloat64(sm.packetsIn) < testutil.ToFloat64(sm.messagesIn) &&
			testutil.ToFloat64(cm.packetsIn) < testutil.ToFloat64(cm.messagesIn) {
			return
		}
	}
	t.Fatalf("no BATCH: server in %v/%v, client in %v/%v",
		testutil.ToFloat64(sm.packetsIn), testutil.ToFloat64(sm.messagesIn),
		testutil.ToFloat64(cm.packetsIn), testutil.ToFloat64(cm.messagesIn))
}

// A side with BATCH turned off neither offers nor accepts it.
func TestBatchOff(t *testing.T) {
	_, path := testServer(t, Config{MaxBatch: -1}, func(*Peer) Handler { return pingHandler{} })
	r := rawDial(t, path)
	r.send(helloMsg(1, capBatch, 1<<16))
	b := r.recv(5 * time.Second)
	h, body, err := Unmarshal(b)
	if m, ok := body.(*helloResp); err != nil || h.ID != 1 || !ok || m.caps != 0 || m.maxBatch != 0 {
		t.Fatalf("HELLO answered % x (%+v %#v %v)", b, h, body, err)
	}
	for id := range uint32(100) {
		r.send(pingMsg(id + 1))
	}
	if _, batches := r.recvAll(t, 100, 5*time.Second); batches != 0 {
		t.Fatalf("%d BATCHes from a server with BATCH off", batches)
	}

	cl := dial(t, sockPathServer(t), &Config{MaxBatch: -1})
	if cl.offer {
		t.Fatal("client with BATCH off offers it")
	}
}

// sockPathServer starts a plain server for tests that only need somewhere
// to dial.
func sockPathServer(t *testing.T) string {
	_, path := testServer(t, Config{}, func(*Peer) Handler { return pingHandler{} })
	return path
}

// Answers in a BATCH complete their calls in order; one in a broken BATCH
// fails its call instead of hanging it.
func TestBatchResponses(t *testing.T) {
	cl, sv := rawPair(t, nil)
	defer sv.Close()
	buf := make([]byte, 1<<16)
	read := func() []byte {
		t.Helper()
		n, err := sv.c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	// The HELLO goes out when messages move several at a time; here the
	// test sends it, so that what follows does not depend on timing.
	if bp := cl.helloMessage(); bp == nil || cl.enqueue(bp) != nil {
		t.Fatal("no HELLO")
	}
	h, _ := PeekHeader(read())
	if h.Type != TypeHello {
		t.Fatalf("first message %s, want HELLO", h.Type)
	}
	helloID := h.ID
	type res struct {
		st  Status
		err error
	}
	results := make(chan res, 4)
	for range 4 {
		go func() {
			_, st, err := cl.Call(context.Background(), &Ping{})
			results <- res{st, err}
		}()
	}
	// Until the HELLO is answered the client sends no BATCH.
	var ids []uint32
	for len(ids) < 4 {
		b := read()
		if isBatch(b) {
			t.Fatal("BATCH before the HELLO answer")
		}
		h, _ := PeekHeader(b)
		ids = append(ids, h.ID)
	}
	hr, _ := Marshal(nil, Header{Type: TypeHello.Response(), ID: helloID}, &helloResp{caps: capBatch, maxBatch: 4096})
	pong := func(id uint32) []byte { return AppendHeader(nil, Header{Type: TypePing.Response(), ID: id}) }
	// The HELLO answer and two answers in one BATCH, the others in a
	// broken one (a stray byte after its members).
	if _, err := sv.c.Write(batchOf(0, hr, pong(ids[0]), pong(ids[1]))); err != nil {
		t.Fatal(err)
	}
	broken := batchOf(0, pong(ids[2]), pong(ids[3]))
	if _, err := sv.c.Write(append(broken, 0)); err != nil {
		t.Fatal(err)
	}
	ok, bad := 0, 0
	for range 4 {
		r := <-results
		switch {
		case r.err == nil && r.st == StatusOK:
			ok++
		case errors.Is(r.err, ErrBadResponse) && errors.Is(r.err, ErrMalformed):
			bad++
		default:
			t.Errorf("call: %v %v", r.st, r.err)
		}
	}
	if ok != 2 || bad != 2 {
		t.Fatalf("%d answered, %d failed; want 2 and 2", ok, bad)
	}
	<-cl.batching
	if n := cl.sendBatch.Load(); n != 4096 {
		t.Fatalf("send limit %d, want the server's 4096", n)
	}
	// The client answered the broken BATCH MALFORMED.
	if b := read(); !bytes.Equal(b, AppendHeader(nil, Header{Type: TypeBatch.Response(), Status: StatusMalformed})) {
		t.Fatalf("answer to the broken BATCH: % x", b)
	}
	// A BATCH answer is counted and dropped: it must not complete the
	// outstanding call that has its id.
	done := make(chan res, 1)
	go func() {
		_, st, err := cl.Call(context.Background(), &Ping{})
		done <- res{st, err}
	}()
	h, _ = PeekHeader(read())
	sv.c.Write(AppendHeader(nil, Header{Type: TypeBatch.Response(), ID: h.ID, Status: StatusMalformed}))
	sv.c.Write(pong(h.ID))
	if r := <-done; r.err != nil || r.st != StatusOK {
		t.Fatalf("call after a BATCH answer: %v %v", r.st, r.err)
	}
}

// The packer keeps order, packs what fits, sends a message that stays
// alone as it is, and respects the limit.
func TestPacker(t *testing.T) {
	msg := func(id uint32, size int) *[]byte {
		b := AppendHeader(make([]byte, 0, size), Header{Type: TypePing, ID: id})
		b = b[:size]
		return &b
	}
	var k packer
	k.start(0)
	k.add(msg(1, 8))
	k.add(msg(2, 8))
	if len(k.out) != 2 || isBatch(*k.out[0]) {
		t.Fatal("packed without a limit")
	}
	k.done()

	const limit = 100
	k.start(limit)
	sizes := []int{8, 20, 30, 40, 90, 8, 8}
	for i, n := range sizes {
		k.add(msg(uint32(i+1), n))
	}
	// 8+20+30 fit (8 header + 3×2 prefixes + 58 = 72), adding 40 would
	// make 114; 40 alone cannot take 90 with it; 90 cannot take 8; 8+8.
	var got [][]uint32
	for _, p := range k.out {
		if len(*p) > limit {
			t.Errorf("packet of %d bytes over the limit", len(*p))
		}
		var ids []uint32
		if isBatch(*p) {
			if err := checkBatch(*p); err != nil {
				t.Fatal(err)
			}
			for rest := (*p)[HeaderSize:]; len(rest) > 0; {
				var m []byte
				m, rest, _ = nextMember(rest)
				ids = append(ids, binary.BigEndian.Uint32(m[4:]))
			}
		} else {
			ids = []uint32{binary.BigEndian.Uint32((*p)[4:])}
		}
		got = append(got, ids)
	}
	want := [][]uint32{{1, 2, 3}, {4}, {5}, {6, 7}}
	if len(got) != len(want) {
		t.Fatalf("packets %v, want %v", got, want)
	}
	for i := range want {
		if !bytes.Equal(u32s(got[i]), u32s(want[i])) {
			t.Fatalf("packets %v, want %v", got, want)
		}
	}
	k.done()
	// The buffers are reused the next round.
	bufs := len(k.free)
	k.start(limit)
	for i := range 4 {
		k.add(msg(uint32(i), 8))
	}
	if len(k.free) != bufs {
		t.Fatalf("%d BATCH buffers after reuse, had %d", len(k.free), bufs)
	}
}

func u32s(v []uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

// Requests that come packed are answered in the order they were packed,
// and the answers, packed or not, keep it, across packets too.
func TestBatchOrder(t *testing.T) {
	_, path := testServer(t, Config{}, func(*Peer) Handler { return pingHandler{} })
	r := rawDial(t, path)
	r.hello(t, defaultMaxBatch)
	var want []Header
	for p := range uint32(10) {
		var members [][]byte
		for i := range uint32(30) {
			id := p*30 + i + 1
			members = append(members, pingMsg(id))
			want = append(want, answer(id, TypePing, StatusOK))
		}
		r.send(batchOf(p, members...))
		// A lone one between the BATCHes.
		id := uint32(1000 + p)
		r.send(pingMsg(id))
		want = append(want, answer(id, TypePing, StatusOK))
	}
	msgs, _ := r.recvAll(t, len(want), 5*time.Second)
	expectSeq(t, msgs, want...)
}
