package smpp_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/pms"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

// encode is a PDU as bytes, for raw writes.
func encode(t *testing.T, seq uint32, body pdu.Body) []byte {
	t.Helper()
	b, err := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Sequence: seq}, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func submitBody(src, dst, text string) *pdu.SM {
	return &pdu.SM{Cmd: pdu.SubmitSM, Source: pdu.Address{TON: 1, NPI: 1, Addr: src},
		Dest: pdu.Address{TON: 1, NPI: 1, Addr: dst}, ShortMessage: []byte(text)}
}

// rawBound is a raw connection bound as transmitter for peer pa.
func rawBound(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := rawConn(t, addr)
	c.Write(encode(t, 1, &pdu.Bind{Cmd: pdu.BindTransmitter, SystemID: "pa", Password: "secret", InterfaceVersion: 0x34}))
	if h := readPDU(t, c); h.Command != pdu.BindTransmitterResp || h.Status != 0 {
		t.Fatalf("bind: %+v", h)
	}
	return c
}

// submitBurst is n submit_sm from pa to the store-only number, sequence
// numbers 10 on, each text different so none is a duplicate.
func submitBurst(t *testing.T, n int, prefix string) []byte {
	t.Helper()
	var burst []byte
	for i := range n {
		burst = append(burst, encode(t, uint32(10+i), submitBody(numPA, numLocal, fmt.Sprint(prefix, " ", i)))...)
	}
	return burst
}

// TestUnbindAfterPipelinedSubmits: submits pipelined right before an unbind
// are answered before the unbind_resp. An accepted message whose answer
// is lost would be sent again.
func TestUnbindAfterPipelinedSubmits(t *testing.T) {
	w := startWorld(t, nil)
	c := rawBound(t, w.addr)
	const n = 50
	burst := append(submitBurst(t, n, "burst"), encode(t, 99, &pdu.UnbindBody{})...)
	c.Write(burst)
	answered := 0
	for {
		h := readPDU(t, c)
		if h.Command == pdu.UnbindResp {
			break
		}
		if h.Command != pdu.SubmitSMResp || h.Status != 0 {
			t.Fatalf("got %+v", h)
		}
		answered++
	}
	if answered != n {
		t.Fatalf("%d of %d submits answered before the unbind_resp", answered, n)
	}
}

// TestShutdownAnswersFirst: a server shutting down answers every submit it
// has accepted before it unbinds, and answers the rest with an error: no
// message is stored without the peer hearing of it.
func TestShutdownAnswersFirst(t *testing.T) {
	w := startWorld(t, nil)
	c := rawBound(t, w.addr)
	const n = 200
	c.Write(submitBurst(t, n, "shutdown"))
	// The shutdown starts while the burst is being admitted.
	accepted, refused := 0, 0
	unbound := false
	stopped := make(chan struct{})
	for accepted+refused < n {
		h := readPDU(t, c)
		switch {
		case h.Command == pdu.Unbind:
			unbound = true
			c.Write(header(16, uint32(pdu.UnbindResp), 0, h.Sequence))
		case h.Command != pdu.SubmitSMResp:
			t.Fatalf("got %+v", h)
		case h.Status == 0:
			if unbound {
				t.Fatal("a submit accepted after the server's unbind")
			}
			accepted++
		default:
			refused++
		}
		if accepted+refused == 1 {
			go func() { w.stop(); close(stopped) }()
		}
	}
	for !unbound {
		if h := readPDU(t, c); h.Command == pdu.Unbind {
			unbound = true
			c.Write(header(16, uint32(pdu.UnbindResp), 0, h.Sequence))
		}
	}
	<-stopped
	r, err := pms.OpenReader(filepath.Join(w.dir, "pms.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Len() != accepted {
		t.Fatalf("%d records stored, %d submits answered OK (%d refused)", r.Len(), accepted, refused)
	}
	t.Logf("%d accepted, %d refused while shutting down", accepted, refused)
}

// TestLongRetryIsDuplicate: an ESME that sends a long message again (its
// response was lost) gets the first one's id, not a second copy.
func TestLongRetryIsDuplicate(t *testing.T) {
	w := startWorld(t, nil)
	e := dialESME(t, w.addr)
	e.mustBind(pdu.BindTransmitter, "pa")
	long := strings.Repeat("retry me ", 30) // 270 characters: two parts
	sm := func() *pdu.SM {
		m := submitBody(numPA, numPB, "")
		m.ShortMessage = nil
		m.TLVs = pdu.TLVs{{Tag: pdu.TagMessagePayload, Value: []byte(long)}}
		return m
	}
	// pb is not bound, so the SM stays active (queued) between the two.
	r1 := e.call(sm())
	before := w.srv.Store().Stats().Next
	r2 := e.call(sm())
	id1, id2 := r1.Body.(*pdu.SMResp).MessageID, r2.Body.(*pdu.SMResp).MessageID
	if r1.Header.Status != 0 || r2.Header.Status != 0 || id1 != id2 {
		t.Fatalf("first %v %q, retry %v %q", r1.Header.Status, id1, r2.Header.Status, id2)
	}
	if after := w.srv.Store().Stats().Next; after != before {
		t.Fatalf("the retry stored %d more records", after-before)
	}
}

// TestUplinkBackoffAfterDrop: an upstream that accepts the bind and drops
// the session at once is not reconnected to in a tight loop.
func TestUplinkBackoffAfterDrop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var binds atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			binds.Add(1)
			// Off the test goroutine: no t.Fatal here. A bind is one
			// short PDU; its sequence number is at octets 12-15.
			var hd [16]byte
			if _, err := io.ReadFull(c, hd[:]); err == nil {
				seq := binary.BigEndian.Uint32(hd[12:])
				b, _ := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Sequence: seq}, Body: &pdu.BindResp{Cmd: pdu.BindTransceiverResp, SystemID: "drop"}})
				c.Write(b)
			}
			c.Close()
		}
	}()
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
		c.Uplink.SystemID = "x"
		c.Uplink.ReconnectMin.Duration = 100 * time.Millisecond
		c.Uplink.ReconnectMax.Duration = 400 * time.Millisecond
	})
	// The thing measured is binds per second: a tight loop makes
	// thousands; backoff from 100 ms makes a handful.
	time.Sleep(time.Second)
	w.stop()
	if n := binds.Load(); n < 2 || n > 8 {
		t.Fatalf("%d binds in about a second; want a few, with backoff", n)
	}
}

// TestWrongResponseTypeDoesNotComplete: a response of another type that
// carries a request's sequence number does not answer it.
func TestWrongResponseTypeDoesNotComplete(t *testing.T) {
	a, b := net.Pipe()
	sa := smpp.NewSession(a, smpp.SessionConfig{ResponseTimeout: 5 * time.Second}, nil, nil, nil)
	ran := make(chan struct{})
	go func() { defer close(ran); sa.Run() }()
	defer func() { sa.Close(); <-ran; b.Close() }()
	type result struct {
		p   pdu.PDU
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := sa.Call(context.Background(), &pdu.SM{Cmd: pdu.DeliverSM, Source: pdu.Address{Addr: "1"}, Dest: pdu.Address{Addr: "2"}})
		res <- result{p, err}
	}()
	h := readPDU(t, b)
	if h.Command != pdu.DeliverSM {
		t.Fatalf("got %+v", h)
	}
	b.Write(header(16, uint32(pdu.EnquireLinkResp), 0, h.Sequence))
	// The session reads in order: once it has answered an enquire_link
	// sent after the stray response, it has handled that response too.
	b.Write(header(16, uint32(pdu.EnquireLink), 0, 777))
	if e := readPDU(t, b); e.Command != pdu.EnquireLinkResp || e.Sequence != 777 {
		t.Fatalf("got %+v", e)
	}
	select {
	case r := <-res:
		t.Fatalf("an enquire_link_resp completed a deliver_sm: %+v %v", r.p.Header, r.err)
	default:
	}
	b.Write(encode(t, h.Sequence, &pdu.SMResp{Cmd: pdu.DeliverSMResp}))
	r := <-res
	if r.err != nil || r.p.Header.Command != pdu.DeliverSMResp || r.p.Header.Status != 0 {
		t.Fatalf("real response: %+v %v", r.p.Header, r.err)
	}
}
