package smpp_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"switchboard/internal/config"
	"switchboard/internal/numbering"
	"switchboard/internal/pms"
	"switchboard/internal/server"
	"switchboard/internal/servertest"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Numbers of the test world: peer "pa" owns 1760555xxxx, peer "pb" owns
// 1858555xxxx, and 16195550100 is a store-only local number.
const (
	numLocal = "16195550100"
	numPA    = "17605550002"
	numPB    = "18585550001"
)

// world is a running switchboard with two SMPP peers provisioned.
type world struct {
	dir  string
	srv  *server.Server
	addr string
	stop func() // shuts the server down and waits for it
}

func startWorld(t *testing.T, tweak func(*config.Config)) *world {
	t.Helper()
	return newWorld(t, "", tweak)
}

// restartWorld stops w and starts a server on its data directory again,
// which is provisioned already.
func restartWorld(t *testing.T, w *world) *world {
	t.Helper()
	w.stop()
	return newWorld(t, w.dir, nil)
}

// newWorld starts a server on a fresh, provisioned data directory, or with
// dataDir on that one as it is.
func newWorld(t *testing.T, dataDir string, tweak func(*config.Config)) *world {
	t.Helper()
	c := servertest.Config(t)
	c.Core.RetryMin.Duration = 50 * time.Millisecond
	c.Core.RetryMax.Duration = 200 * time.Millisecond
	if tweak != nil {
		tweak(c)
	}
	if dataDir != "" {
		c.DataDir = dataDir
		return runWorld(t, c)
	}
	servertest.AddLocalNumber(t, c, numLocal, true)
	db, err := numbering.Open(filepath.Join(c.DataDir, numbering.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, pool string }{{"pa", "1760555"}, {"pb", "1858555"}} {
		hash, err := numbering.HashPassword("secret")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddPeer(numbering.Peer{Name: p.name, Pool: []string{p.pool}, SystemID: p.name, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	return runWorld(t, c)
}

func runWorld(t *testing.T, c *config.Config) *world {
	t.Helper()
	s, stop := servertest.Start(t, c)
	return &world{dir: c.DataDir, srv: s, addr: s.SMPPAddrs()[0].String(), stop: stop}
}

// record reads a stored record.
func (w *world) record(t *testing.T, idx uint64) pms.Record {
	t.Helper()
	var raw [pms.RecordSize]byte
	if err := w.srv.Store().ReadRaw(idx, &raw); err != nil {
		t.Fatal(err)
	}
	var r pms.Record
	if err := pms.Decode(raw[:], &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// esme is a test ESME built on our own session: it binds, submits, and
// answers every deliver_sm with the status in answer.
type esme struct {
	t      *testing.T
	s      *smpp.Session
	in     chan pdu.PDU
	answer atomic.Uint32
	ran    chan struct{}
}

func dialESME(t *testing.T, addr string) *esme {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	e := &esme{t: t, in: make(chan pdu.PDU, 100), ran: make(chan struct{})}
	e.s = smpp.NewSession(conn, smpp.SessionConfig{ResponseTimeout: 5 * time.Second}, e, nil, nil)
	go func() {
		defer close(e.ran)
		e.s.Run()
	}()
	t.Cleanup(func() {
		e.s.Close()
		<-e.ran
	})
	return e
}

func (e *esme) HandleRequest(s *smpp.Session, p pdu.PDU) {
	if sm, ok := p.Body.(*pdu.SM); ok && sm.Cmd == pdu.DeliverSM {
		s.Respond(p.Header.Sequence, pdu.Status(e.answer.Load()), &pdu.SMResp{Cmd: pdu.DeliverSMResp})
	}
	e.in <- p
}

func (e *esme) call(body pdu.Body) pdu.PDU {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := e.s.Call(ctx, body)
	if err != nil {
		e.t.Fatalf("%v: %v", body.CommandID(), err)
	}
	return resp
}

func (e *esme) bind(cmd pdu.CommandID, id, pass string) pdu.Status {
	e.t.Helper()
	return e.call(&pdu.Bind{Cmd: cmd, SystemID: id, Password: pass, InterfaceVersion: 0x34}).Header.Status
}

// mustBind binds with the test password and fails the test unless the
// bind is accepted.
func (e *esme) mustBind(cmd pdu.CommandID, id string) {
	e.t.Helper()
	if st := e.bind(cmd, id, "secret"); st != pdu.StatusOK {
		e.t.Fatalf("%v as %s: %v", cmd, id, st)
	}
}

func (e *esme) submit(src, dst, text string, regDelivery uint8) (string, pdu.Status) {
	e.t.Helper()
	resp := e.call(&pdu.SM{
		Cmd: pdu.SubmitSM, Source: pdu.Address{TON: 1, NPI: 1, Addr: src}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: dst},
		RegisteredDelivery: regDelivery, ShortMessage: []byte(text),
	})
	id := ""
	if b, ok := resp.Body.(*pdu.SMResp); ok {
		id = b.MessageID
	}
	return id, resp.Header.Status
}

// next returns the next request the ESME received.
func (e *esme) next() pdu.PDU {
	e.t.Helper()
	select {
	case p := <-e.in:
		return p
	case <-time.After(10 * time.Second):
		e.t.Fatal("no PDU arrived")
		return pdu.PDU{}
	}
}

func TestBindRules(t *testing.T) {
	w := startWorld(t, nil)
	e := dialESME(t, w.addr)
	if _, st := e.submit(numPA, numLocal, "too early", 0); st != pdu.StatusInvBndSts {
		t.Fatalf("submit before bind: %v, want ESME_RINVBNDSTS", st)
	}
	if st := e.bind(pdu.BindTransceiver, "pa", "wrong"); st != pdu.StatusBindFail {
		t.Fatalf("wrong password: %v, want ESME_RBINDFAIL", st)
	}
	// A refused bind ends the connection: each try costs a password hash.
	select {
	case <-e.s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after a refused bind")
	}
	e = dialESME(t, w.addr)
	if st := e.bind(pdu.BindTransceiver, "nobody", "secret"); st != pdu.StatusBindFail {
		t.Fatalf("unknown system_id: %v, want ESME_RBINDFAIL", st)
	}
	e = dialESME(t, w.addr)
	e.mustBind(pdu.BindTransceiver, "pa")
	if st := e.bind(pdu.BindTransceiver, "pa", "secret"); st != pdu.StatusAlyBnd {
		t.Fatalf("second bind: %v, want ESME_RALYBND", st)
	}
	// A receiver may not submit.
	rx := dialESME(t, w.addr)
	rx.mustBind(pdu.BindReceiver, "pa")
	if _, st := rx.submit(numPA, numLocal, "rx", 0); st != pdu.StatusInvBndSts {
		t.Fatalf("submit on a receiver bind: %v", st)
	}
}

func TestSubmitIsStored(t *testing.T) {
	w := startWorld(t, nil)
	e := dialESME(t, w.addr)
	e.mustBind(pdu.BindTransmitter, "pa")
	id, st := e.submit(numPA, numLocal, "hello", 0)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	idx, ok := smpp.ParseID(id)
	if !ok {
		t.Fatalf("message id %q is not an index", id)
	}
	r := w.record(t, idx)
	if r.SrcClass != pms.ClassDownstream || r.SrcPeer != "pa" || r.Src.Digits != numPA || r.Dst.Digits != numLocal {
		t.Fatalf("stored as %v/%q %v -> %v", r.SrcClass, r.SrcPeer, r.Src, r.Dst)
	}
	if r.DCS != 0 || r.UDL != 5 || string(r.UD) != "\xe8\x32\x9b\xfd\x06" {
		t.Fatalf("user data DCS %#x UDL %d UD % x", r.DCS, r.UDL, r.UD)
	}
	// A source outside the peer's pool is refused.
	if _, st := e.submit(numPB, numLocal, "spoof", 0); st != pdu.StatusInvSrcAdr {
		t.Fatalf("spoofed source: %v, want ESME_RINVSRCADR", st)
	}
	if _, st := e.submit(numPA, "123", "bad", 0); st != pdu.StatusInvDstAdr {
		t.Fatalf("unroutable destination: %v, want ESME_RINVDSTADR", st)
	}
}

func TestDeliverToPeerAndReceipt(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransceiver, "pb")
	id, st := pb.submit(numPB, numPA, "hi pa", 1)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	p := pa.next()
	sm, ok := p.Body.(*pdu.SM)
	if !ok || sm.Cmd != pdu.DeliverSM {
		t.Fatalf("pa got %v", p.Header.Command)
	}
	if sm.Source.Addr != numPB || sm.Dest.Addr != numPA || string(sm.ShortMessage) != "hi pa" || sm.DataCoding != 0 {
		t.Fatalf("deliver_sm %+v", sm)
	}
	// pa answered OK: the SM is delivered, and pb gets the receipt.
	p = pb.next()
	rc, ok := p.Body.(*pdu.SM)
	if !ok || rc.Cmd != pdu.DeliverSM || rc.ESMClass&0x3C != 0x04 {
		t.Fatalf("pb got %v %+v", p.Header.Command, p.Body)
	}
	if rc.Source.Addr != numPA || rc.Dest.Addr != numPB {
		t.Fatalf("receipt from %q to %q; want from the submitted destination %q", rc.Source.Addr, rc.Dest.Addr, numPA)
	}
	if v, _ := rc.TLVs.Get(pdu.TagReceiptedMessageID); strings.TrimRight(string(v), "\x00") != id {
		t.Fatalf("receipted_message_id %q, submit_sm_resp said %q", v, id)
	}
	if st, _ := rc.TLVs.Uint8(pdu.TagMessageState); st != pdu.StateDelivered {
		t.Fatalf("message_state %d", st)
	}
	text := string(rc.ShortMessage)
	if !strings.HasPrefix(text, "id:"+id+" ") || !strings.Contains(text, "stat:DELIVRD") {
		t.Fatalf("receipt text %q", text)
	}
}

func TestDeliverRetriedAfterThrottle(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.answer.Store(uint32(pdu.StatusThrottled))
	pa.mustBind(pdu.BindReceiver, "pa")
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransmitter, "pb")
	if _, st := pb.submit(numPB, numPA, "again", 0); st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	first := pa.next()
	pa.answer.Store(uint32(pdu.StatusOK))
	second := pa.next()
	a, b := first.Body.(*pdu.SM), second.Body.(*pdu.SM)
	if string(a.ShortMessage) != "again" || string(b.ShortMessage) != "again" {
		t.Fatalf("deliveries %q then %q", a.ShortMessage, b.ShortMessage)
	}
}

// rawConn speaks bytes to the server, for input no well-behaved encoder
// would produce.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readPDU(t *testing.T, c net.Conn) pdu.Header {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hd [16]byte
	if _, err := io.ReadFull(c, hd[:]); err != nil {
		t.Fatalf("read: %v", err)
	}
	n := binary.BigEndian.Uint32(hd[:])
	if n > 16 {
		if _, err := io.CopyN(io.Discard, c, int64(n-16)); err != nil {
			t.Fatal(err)
		}
	}
	return pdu.Header{Length: n, Command: pdu.CommandID(binary.BigEndian.Uint32(hd[4:])),
		Status: pdu.Status(binary.BigEndian.Uint32(hd[8:])), Sequence: binary.BigEndian.Uint32(hd[12:])}
}

func header(length, cmd, status, seq uint32) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, length)
	binary.BigEndian.PutUint32(b[4:], cmd)
	binary.BigEndian.PutUint32(b[8:], status)
	binary.BigEndian.PutUint32(b[12:], seq)
	return b
}

func TestBadPDUs(t *testing.T) {
	w := startWorld(t, nil)
	c := rawConn(t, w.addr)
	// An unknown command: generic_nack ESME_RINVCMDID, and the session
	// goes on.
	c.Write(header(16, 0x00000777, 0, 7))
	if h := readPDU(t, c); h.Command != pdu.GenericNack || h.Status != pdu.StatusInvCmdID || h.Sequence != 7 {
		t.Fatalf("unknown command answered %+v", h)
	}
	c.Write(header(16, uint32(pdu.EnquireLink), 0, 8))
	if h := readPDU(t, c); h.Command != pdu.EnquireLinkResp || h.Sequence != 8 {
		t.Fatalf("enquire_link after the bad PDU answered %+v", h)
	}
	// A submit_sm whose body is cut short: answered in its own type.
	c.Write(append(header(20, uint32(pdu.SubmitSM), 0, 9), 0, 0, 0, 0))
	if h := readPDU(t, c); h.Command != pdu.SubmitSMResp || h.Status == pdu.StatusOK || h.Sequence != 9 {
		t.Fatalf("truncated submit_sm answered %+v", h)
	}
	// command_length beyond the maximum: generic_nack, then the close.
	c.Write(header(1<<24, uint32(pdu.SubmitSM), 0, 10))
	if h := readPDU(t, c); h.Command != pdu.GenericNack || h.Status != pdu.StatusInvCmdLen {
		t.Fatalf("oversize PDU answered %+v", h)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("session still open after a command_length it cannot skip")
	}
	// Another client is unaffected.
	e := dialESME(t, w.addr)
	e.mustBind(pdu.BindTransmitter, "pa")
}

func TestUnbind(t *testing.T) {
	w := startWorld(t, nil)
	e := dialESME(t, w.addr)
	e.mustBind(pdu.BindTransceiver, "pa")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.s.Unbind(ctx)
	select {
	case <-e.s.Done():
	case <-ctx.Done():
		t.Fatal("session not closed after unbind")
	}
	if err := e.s.Err(); err != nil {
		t.Fatalf("unbind ended with %v", err)
	}
}

// TestUnboundPerAddressLimit: one address cannot hold more than a few
// connections that have not bound; a bound one frees its slot.
func TestUnboundPerAddressLimit(t *testing.T) {
	w := startWorld(t, nil)
	var conns []net.Conn
	for range 8 {
		c := rawConn(t, w.addr)
		conns = append(conns, c)
	}
	// The server has counted the eight once one of them is answered.
	conns[7].Write(header(16, uint32(pdu.EnquireLink), 0, 1))
	if h := readPDU(t, conns[7]); h.Command != pdu.EnquireLinkResp {
		t.Fatalf("got %+v", h)
	}
	ninth := rawConn(t, w.addr)
	ninth.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ninth.Read(make([]byte, 1)); err == nil {
		t.Fatal("a ninth unbound connection from one address was served")
	}
	// A bind frees a slot.
	conns[0].Write(encode(t, 2, &pdu.Bind{Cmd: pdu.BindTransmitter, SystemID: "pa", Password: "secret", InterfaceVersion: 0x34}))
	if h := readPDU(t, conns[0]); h.Status != 0 {
		t.Fatalf("bind: %+v", h)
	}
	e := dialESME(t, w.addr)
	e.mustBind(pdu.BindTransmitter, "pa")
}
