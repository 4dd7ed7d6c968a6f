package core

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// socketHarness serves the core socket of a harness.
func socketHarness(t *testing.T) (*harness, string) {
	t.Helper()
	return socketHarnessReload(t, func() error { return nil })
}

// socketHarnessReload is socketHarness with reload for NUMBERING_RELOAD.
func socketHarnessReload(t *testing.T, reload func() error) (*harness, string) {
	t.Helper()
	h := newHarness(t, Config{})
	sock := filepath.Join(t.TempDir(), "core.sock")
	ln, err := coresock.Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := &coresock.Server{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln, h.core.SocketHandler(reload))
	}()
	t.Cleanup(func() { srv.Shutdown(context.Background()); <-done })
	return h, sock
}

// rawExchange writes one packet and reads one answer.
func rawExchange(t *testing.T, c *coresock.Conn, pkt []byte) (coresock.Header, bool) {
	t.Helper()
	if err := c.WriteMessage(pkt); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, c.MaxMessage()+1)
	n, err := c.ReadMessage(buf)
	if err != nil {
		return coresock.Header{}, false
	}
	h, _, err := coresock.Unmarshal(buf[:n])
	if err != nil {
		t.Fatalf("unreadable answer %x: %v", buf[:n], err)
	}
	return h, true
}

func header(typ byte, id uint32) []byte {
	b := make([]byte, 8)
	b[0], b[1] = 1, typ
	binary.BigEndian.PutUint32(b[4:], id)
	return b
}

// TestSocketBadInput: malformed and hostile requests get an error status,
// the connection keeps working, and nothing reaches the store.
func TestSocketBadInput(t *testing.T) {
	h, sock := socketHarness(t)
	c, err := coresock.DialConn(context.Background(), sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	badRecord := func(mut func(r *pms.Record)) []byte {
		r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "x")
		mut(r)
		var rb coresock.RecordBytes
		if err := rb.Encode(r); err != nil {
			t.Fatal(err)
		}
		b, err := coresock.Marshal(nil, coresock.Header{Type: coresock.TypeSubmit, ID: 7}, &coresock.Submit{Record: rb})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	corrupt := badRecord(func(*pms.Record) {})
	corrupt[8+4+100] ^= 0xFF // breaks the record's CRC

	cases := []struct {
		name string
		pkt  []byte
		want coresock.Status
	}{
		{"unknown type", header(0x55, 1), coresock.StatusUnknownType},
		{"core-direction type from a client", append(header(0x20, 2), 1, '5'), coresock.StatusUnknownType},
		{"short submit", append(header(0x01, 3), 0, 0, 0, 0, 1, 2, 3), coresock.StatusMalformed},
		{"corrupt record", corrupt, coresock.StatusMalformed},
		{"impossible address", badRecord(func(r *pms.Record) { r.Dst = natl("12") }), coresock.StatusUnroutable},
		{"inconsistent length", badRecord(func(r *pms.Record) { r.UDL = 99 }), coresock.StatusBadLength},
		{"service state before register", append(header(0x05, 4), 1), coresock.StatusNotRegistered},
		{"discharge without role", func() []byte {
			b, _ := coresock.Marshal(nil, coresock.Header{Type: coresock.TypeMTDischarge, ID: 5}, &coresock.MTDischarge{Index: 0, Disposition: pms.Delivered})
			return b
		}(), coresock.StatusNotRegistered},
		{"cancel of nothing", func() []byte {
			b, _ := coresock.Marshal(nil, coresock.Header{Type: coresock.TypeCancel, ID: 6}, &coresock.Cancel{Sel: coresock.Selector{ByIndex: true, Index: 99}})
			return b
		}(), coresock.StatusNotFound},
	}
	for _, tc := range cases {
		got, ok := rawExchange(t, c, tc.pkt)
		if !ok {
			t.Fatalf("%s: no answer (connection closed?)", tc.name)
		}
		if !got.Type.IsResponse() || got.Status != tc.want {
			t.Errorf("%s: answer %+v, want status %s", tc.name, got, tc.want)
		}
	}
	// Oversize: an error, and the connection still answers.
	big := append(header(0x08, 9), make([]byte, 2000)...)
	c.WriteMessage(big[:min(len(big), c.MaxMessage())]) // the client refuses to send more; the trailing junk is still malformed
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	c.ReadMessage(make([]byte, c.MaxMessage()+1))
	if got, ok := rawExchange(t, c, header(0x08, 10)); !ok || got.Status != coresock.StatusOK || got.ID != 10 {
		t.Fatalf("ping after bad input: %+v %v", got, ok)
	}
	if n := h.store.Stats().Next; n != 0 {
		t.Fatalf("%d records written by bad requests", n)
	}

	// A role claimed twice: the second claimant is refused, the first
	// keeps it.
	p1, err := coresock.Dial(context.Background(), sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close()
	p2, err := coresock.Dial(context.Background(), sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if _, st, err := p1.Call(context.Background(), &coresock.RHRegister{Role: coresock.RolePeerDelivery, Name: "pa"}); err != nil || st != coresock.StatusOK {
		t.Fatalf("first claim: %v %v", st, err)
	}
	if _, st, err := p2.Call(context.Background(), &coresock.RHRegister{Role: coresock.RolePeerDelivery, Name: "pa"}); err != nil || st != coresock.StatusRoleTaken {
		t.Fatalf("second claim: %v %v", st, err)
	}
	if _, st, err := p1.Call(context.Background(), &coresock.RHRegister{Role: coresock.RoleIMSILookup}); err != nil || st != coresock.StatusRoleTaken {
		t.Fatalf("second role on one connection: %v %v", st, err)
	}
	// When the first goes away the role is free again.
	p1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p3, err := coresock.Dial(context.Background(), sock, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := p3.Call(context.Background(), &coresock.RHRegister{Role: coresock.RolePeerDelivery, Name: "pa"})
		p3.Close()
		if err == nil && st == coresock.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("role not freed after disconnect: %v %v", st, err)
		}
		// The core learns of the disconnect asynchronously; ask again.
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSocketRoleHandlerEndToEnd drives delivery through real socket
// clients: a peer handler registered over the socket receives
// SMSC_DELIVER_TO_PEER and its answer discharges the SM.
func TestSocketRoleHandlerEndToEnd(t *testing.T) {
	h, sock := socketHarness(t)
	got := make(chan uint64, 10)
	same := make(chan bool, 10)
	handler := coresock.HandlerFunc(func(p *coresock.Peer, hd coresock.Header, body coresock.Body) {
		m, ok := body.(*coresock.DeliverToPeer)
		if !ok {
			p.Reply(hd, coresock.StatusUnknownType, 0, nil)
			return
		}
		// The record handed over (kept in RAM since admission, not read
		// back) is the store's, byte for byte, before the answer
		// discharges it.
		var disk [pms.RecordSize]byte
		same <- h.store.ReadRaw(m.Index, &disk) == nil && disk == [pms.RecordSize]byte(m.Record)
		got <- m.Index
		p.Reply(hd, coresock.StatusOK, 0, &coresock.DeliverToPeerResp{PeerMsgID: "abc123"})
	})
	rh, err := coresock.Dial(context.Background(), sock, &coresock.Config{Handler: handler})
	if err != nil {
		t.Fatal(err)
	}
	defer rh.Close()
	if _, st, err := rh.Call(context.Background(), &coresock.RHRegister{Role: coresock.RolePeerDelivery}); err != nil || st != coresock.StatusOK {
		t.Fatalf("register: %v %v", st, err)
	}
	if _, st, err := rh.Call(context.Background(), &coresock.RHServiceState{Up: true}); err != nil || st != coresock.StatusOK {
		t.Fatalf("service up: %v %v", st, err)
	}
	cl, err := coresock.Dial(context.Background(), sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var req coresock.Submit
	req.Record.Encode(sms(intl(numProv), intl(numOutside), pms.ClassGSM, "via socket"))
	resp, st, err := cl.Call(context.Background(), &req)
	if err != nil || st != coresock.StatusOK {
		t.Fatalf("submit: %v %v", st, err)
	}
	idx := resp.(*coresock.SubmitResp).Index
	select {
	case i := <-got:
		if i != idx {
			t.Fatalf("delivered %d, submitted %d", i, idx)
		}
		if !<-same {
			t.Fatalf("delivered record differs from the stored one")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	h.waitDischarge(discharge{idx, pms.Delivered})
	if st := h.record(idx).State; st.PeerMsgID != "abc123" {
		t.Fatalf("peer id not kept: %+v", st)
	}
	// The uplink's own submissions are stamped as coming from upstream:
	// one for a number that is not ours is refused.
	req.Record.Encode(sms(intl("442079460000"), intl(numOutside), pms.ClassLocal, "spoof"))
	if _, st, _ := rh.Call(context.Background(), &req); st != coresock.StatusUnknownDestinationFromUpstream {
		t.Fatalf("uplink submit to a foreign number: %v", st)
	}
}

// TestSocketConcurrentDuplicates: identical SUBMITs in flight at once, over
// one connection and several, store one SM; the others learn its id with
// the duplicate flag, mixed with the socket's own and direct callers.
func TestSocketConcurrentDuplicates(t *testing.T) {
	h, sock := socketHarness(t)
	var peers []*coresock.Peer
	for range 3 {
		p, err := coresock.Dial(context.Background(), sock, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		peers = append(peers, p)
	}
	var req coresock.Submit
	if err := req.Record.Encode(sms(intl(numProv), intl(numOutside), pms.ClassGSM, "race")); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		id  uint64
		dup bool
	}
	answers := make(chan answer, 32)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%8 == 7 {
				id, dup, err := h.core.Submit(context.Background(), sms(intl(numProv), intl(numOutside), pms.ClassGSM, "race"), false)
				if err != nil {
					t.Error(err)
				}
				answers <- answer{id, dup}
				return
			}
			body, st, err := peers[i%len(peers)].Call(context.Background(), &req)
			if err != nil || st != coresock.StatusOK {
				t.Errorf("submit: %v %v", st, err)
				return
			}
			r := body.(*coresock.SubmitResp)
			answers <- answer{r.Index, r.Duplicate}
		}()
	}
	wg.Wait()
	close(answers)
	originals, n := 0, 0
	var first uint64
	for a := range answers {
		if n == 0 {
			first = a.id
		}
		n++
		if a.id != first {
			t.Fatalf("identical SMs got ids %d and %d", first, a.id)
		}
		if !a.dup {
			originals++
		}
	}
	if n != 24 || originals != 1 {
		t.Fatalf("%d answers, %d not duplicates; want 24 and 1", n, originals)
	}
	if next := h.store.Stats().Next; next != 1 {
		t.Fatalf("%d records stored, want 1", next)
	}
}

// batchPacket packs messages into a BATCH packet as docs/core-socket.md
// describes it, by hand, as a client in another language would.
func batchPacket(id uint32, msgs ...[]byte) []byte {
	b := header(0x10, id)
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// readAnswers reads packets until it has n messages, BATCH members taken
// apart, and returns their headers in order.
func readAnswers(t *testing.T, c *coresock.Conn, n int) []coresock.Header {
	t.Helper()
	var out []coresock.Header
	buf := make([]byte, c.MaxMessage()+1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(out) < n {
		l, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatalf("after %d of %d answers: %v", len(out), n, err)
		}
		var msgs [][]byte
		if buf[1] == 0x10 {
			for rest := buf[8:l]; len(rest) >= 2; {
				m := int(binary.BigEndian.Uint16(rest))
				msgs, rest = append(msgs, rest[2:2+m]), rest[2+m:]
			}
		} else {
			msgs = [][]byte{buf[:l]}
		}
		for _, m := range msgs {
			h, _, err := coresock.Unmarshal(m)
			if h.Type.Request() == coresock.TypeBatch {
				h, err = coresock.PeekHeader(m)
				h.Status = coresock.Status(binary.BigEndian.Uint16(m[8:]))
			}
			if err != nil {
				t.Fatalf("unreadable answer % x: %v", m, err)
			}
			out = append(out, h)
		}
	}
	return out
}

// TestSocketBatch: SUBMITs packed in a BATCH are admitted one by one and
// answered in order; bad members get their error without harming the
// others; a broken BATCH is refused whole and stores nothing.
func TestSocketBatch(t *testing.T) {
	h, sock := socketHarness(t)
	c, err := coresock.DialConn(context.Background(), sock, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// HELLO: this client reads BATCH packets of up to 16 KiB.
	hello := append(header(byte(coresock.TypeHello), 1), 0, 0, 0, 1, 0, 0, 0x40, 0)
	if got, ok := rawExchange(t, c, hello); !ok || got.Type != coresock.TypeHello.Response() || got.Status != coresock.StatusOK {
		t.Fatalf("HELLO answered %+v %v", got, ok)
	}
	submit := func(id uint32, text string, mut func(r *pms.Record)) []byte {
		r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, text)
		if mut != nil {
			mut(r)
		}
		var rb coresock.RecordBytes
		if err := rb.Encode(r); err != nil {
			t.Fatal(err)
		}
		b, err := coresock.Marshal(nil, coresock.Header{Type: coresock.TypeSubmit, ID: id}, &coresock.Submit{Record: rb})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	corrupt := submit(3, "corrupt", nil)
	corrupt[8+4+100] ^= 0xFF // breaks the record's CRC

	if err := c.WriteMessage(batchPacket(0,
		submit(2, "one", nil),
		corrupt,
		header(0x55, 4),
		submit(5, "two", func(r *pms.Record) { r.UDL = 99 }),
		header(0x08, 6),
		submit(7, "three", nil),
	)); err != nil {
		t.Fatal(err)
	}
	// SUBMITs are answered when stored, the rest at once: match by id.
	got := map[uint32]coresock.Status{}
	for _, a := range readAnswers(t, c, 6) {
		got[a.ID] = a.Status
	}
	want := map[uint32]coresock.Status{
		2: coresock.StatusOK, 3: coresock.StatusMalformed, 4: coresock.StatusUnknownType,
		5: coresock.StatusBadLength, 6: coresock.StatusOK, 7: coresock.StatusOK,
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("answer to %d: %s, want %s", id, got[id], st)
		}
	}
	if n := h.store.Stats().Next; n != 2 {
		t.Fatalf("%d records stored, want the 2 good SUBMITs", n)
	}

	// A broken BATCH (its last length runs past the end) is not acted
	// on: its good SUBMIT is answered MALFORMED and nothing is stored.
	broken := batchPacket(0x99, submit(8, "four", nil), header(0x08, 9))
	broken = append(broken, 0, 40, 1, 8, 0, 0, 0, 0, 0, 10)
	if err := c.WriteMessage(broken); err != nil {
		t.Fatal(err)
	}
	answers := readAnswers(t, c, 4)
	for i, id := range []uint32{8, 9, 10, 0x99} {
		if answers[i].ID != id || answers[i].Status != coresock.StatusMalformed {
			t.Errorf("answer %d: %+v, want id %d MALFORMED", i, answers[i], id)
		}
	}
	if got, ok := rawExchange(t, c, header(0x08, 11)); !ok || got.Status != coresock.StatusOK || got.ID != 11 {
		t.Fatalf("ping after a broken BATCH: %+v %v", got, ok)
	}
	if n := h.store.Stats().Next; n != 2 {
		t.Fatalf("%d records stored after a broken BATCH, want 2", n)
	}
}

// TestSocketBackgroundBound: one client's requests that run on goroutines
// of their own are bounded; beyond maxBackground in flight they are
// answered TOO_BUSY at once, and the rest are answered when they end.
func TestSocketBackgroundBound(t *testing.T) {
	release := make(chan struct{})
	_, sock := socketHarnessReload(t, func() error { <-release; return nil })
	c, err := coresock.DialConn(context.Background(), sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = maxBackground + 44
	for id := range uint32(n) {
		if err := c.WriteMessage(header(byte(coresock.TypeNumberingReload), id+1)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, c.MaxMessage()+1)
	read := func() coresock.Header {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := coresock.Unmarshal(buf[:m])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for range n - maxBackground {
		if h := read(); h.Status != coresock.StatusTooBusy {
			t.Fatalf("reply %d: status %v while %d reloads wait, want TOO_BUSY", h.ID, h.Status, maxBackground)
		}
	}
	close(release)
	for range maxBackground {
		if h := read(); h.Status != coresock.StatusOK {
			t.Fatalf("reply %d: status %v", h.ID, h.Status)
		}
	}
	// Slots are given back: the next one runs.
	if h, ok := rawExchange(t, c, header(byte(coresock.TypeNumberingReload), 9999)); !ok || h.Status != coresock.StatusOK {
		t.Fatalf("after the burst: %+v %v", h, ok)
	}
}
