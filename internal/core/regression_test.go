package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/datadir"
	"switchboard/internal/pms"
)

// TestRegressionExpiryLostAfterFailedExchange: an SM whose validity ends while a
// SMSC_DELIVER_TO_PEER is outstanding is popped from the expiry heap and
// never put back. When the exchange then fails (timeout / closed
// connection) the SM returns to the core's queue, but it never expires.
func TestRegressionExpiryLostAfterFailedExchange(t *testing.T) {
	h := newHarness(t, Config{})
	f := newFake()
	r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "expire me")
	r.Validity = 1
	idx := h.submit(r)
	f.deliver = func(uint64, *pms.Record) (string, Status, error) {
		time.Sleep(1500 * time.Millisecond) // the validity ends meanwhile
		return "", 0, errors.New("connection closed")
	}
	reg := h.register(f, RolePeer, "")
	f.nextCall(t)
	h.core.Unregister(reg) // the handler's connection is gone
	select {
	case d := <-h.discharged:
		if d.index != idx || d.disp != pms.Expired {
			t.Fatalf("discharge %+v", d)
		}
	case <-time.After(4 * time.Second):
		t.Fatalf("SM %d in the core's custody was never expired (validity 1 s)", idx)
	}
}

// TestRegressionRetakenSMNeverExpires: transfer removes the SM from the expiry
// heap; retake puts it back in the core's custody without re-adding it.
func TestRegressionRetakenSMNeverExpires(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, natl("0"), pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	r.Validity = 1
	idx, _, err := h.core.Submit(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	gsm := newFake()
	reg := h.register(gsm, RoleGSMMT, "")
	gsm.nextCall(t)
	time.Sleep(100 * time.Millisecond) // custody recorded
	h.core.SetServiceState(reg, false) // retake: back in the core's custody
	select {
	case d := <-h.discharged:
		if d.index != idx || d.disp != pms.Expired {
			t.Fatalf("discharge %+v", d)
		}
	case <-time.After(4 * time.Second):
		t.Fatalf("retaken SM %d was never expired (validity 1 s)", idx)
	}
}

// TestRegressionIMSIAddressedDedupIgnoresIMSI: the dedup key leaves out the
// preset IMSI, so the same text to two different IMSIs is a "duplicate".
func TestRegressionIMSIAddressedDedupIgnoresIMSI(t *testing.T) {
	h := newHarness(t, Config{})
	mk := func(imsi string) *pms.Record {
		r := sms(pms.Address{TON: 5, Digits: "Operator"}, pms.Address{}, pms.ClassLocal, "hello")
		r.Dst = natl("0")
		r.State.IMSI = imsi
		return r
	}
	a, _, err := h.core.Submit(context.Background(), mk("001010000000001"), true)
	if err != nil {
		t.Fatal(err)
	}
	b, dup, err := h.core.Submit(context.Background(), mk("001010000000002"), true)
	if err != nil {
		t.Fatal(err)
	}
	if dup {
		t.Fatalf("SM to another IMSI suppressed as a duplicate of %d (got id %d)", a, b)
	}
}

// TestRegressionClientForgesStatusReport: Submit keeps the StatusReport flag the
// client put in the record, so any submitter (a peer, GSM MO) can inject
// records the core and the SMPP handlers treat as status reports (and that
// skip duplicate detection).
func TestRegressionClientForgesStatusReport(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "fake receipt")
	r.StatusReport = true
	idx := h.submit(r)
	if got := h.record(idx); got.StatusReport {
		t.Fatalf("client-set StatusReport flag stored on %d", idx)
	}
}

// TestRegressionIMSILookupMSISDNNotNormalised: the MSISDN sent in
// SMSC_MT_FIND_IMSI (and the key of the wait queue and cache) is the
// destination digits as dialled, not the routed E.164 number: one
// subscriber gets two lookups and a map-based resolver fails one form.
func TestRegressionIMSILookupMSISDNNotNormalised(t *testing.T) {
	h := newHarness(t, Config{})
	look := newFake()
	look.find = func(msisdn string) (string, Status, error) {
		return "310150123456789", coresock.StatusOK, nil
	}
	h.submit(sms(intl(numNoProv), intl(numProv), pms.ClassGSM, "a"))
	h.submit(sms(intl(numNoProv), natl("6195550100"), pms.ClassGSM, "b"))
	h.register(look, RoleIMSILookup, "")
	got := []string{look.nextCall(t)}
	select {
	case c := <-look.calls:
		got = append(got, c)
	case <-time.After(500 * time.Millisecond):
	}
	for _, c := range got {
		if c != "find "+numProv {
			t.Fatalf("lookups %v, want one lookup of %s", got, numProv)
		}
	}
	if len(got) != 1 {
		t.Fatalf("lookups %v for one subscriber", got)
	}
	_ = fmt.Sprint
}

// TestRegressionDischargeOvertakenByServiceDown: MT_DISCHARGE runs on a
// goroutine of its own while RH_SERVICE_STATE is handled inline on the
// reader, so a handler that sends "discharge 0 delivered" and then "service
// down" (in that order, on one connection) can see its discharge refused:
// the down retakes the SM first, and the delivered SM is transferred (and
// delivered) again.
func TestRegressionDischargeOvertakenByServiceDown(t *testing.T) {
	h, sock := socketHarness(t)
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, natl("0"), pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	idx, _, err := h.core.Submit(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := coresock.DialConn(context.Background(), sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, c.MaxMessage()+1)
	send := func(hd coresock.Header, b coresock.Body) {
		t.Helper()
		pkt, err := coresock.Marshal(nil, hd, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(pkt); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() (coresock.Header, coresock.Body) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatal(err)
		}
		hd, b, err := coresock.Unmarshal(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		return hd, b
	}
	send(coresock.Header{ID: 1}, &coresock.RHRegister{Role: coresock.RoleGSMMTDelivery})
	if hd, _ := recv(); hd.Status != coresock.StatusOK {
		t.Fatalf("register: %v", hd.Status)
	}
	send(coresock.Header{ID: 2}, &coresock.RHServiceState{Up: true})
	if hd, _ := recv(); hd.Status != coresock.StatusOK {
		t.Fatalf("up: %v", hd.Status)
	}
	hd, b := recv()
	if _, ok := b.(*coresock.MTTransfer); !ok {
		t.Fatalf("expected a transfer, got %v", hd.Type)
	}
	send(coresock.Header{Type: hd.Type.Response(), ID: hd.ID, Status: coresock.StatusOK}, nil)
	time.Sleep(100 * time.Millisecond) // custody recorded
	// Delivered; then the radio goes away. Wire order: discharge, down.
	send(coresock.Header{ID: 3}, &coresock.MTDischarge{Index: idx, Disposition: pms.Delivered})
	send(coresock.Header{ID: 4}, &coresock.RHServiceState{Up: false})
	got := map[uint32]coresock.Status{}
	for len(got) < 2 {
		hd, _ := recv()
		got[hd.ID] = hd.Status
	}
	if got[3] != coresock.StatusOK {
		t.Fatalf("discharge sent before service-down answered %v; the delivered SM %d is back in the queue", got[3], idx)
	}
}

// TestRegressionTransferAnswerOvertakenByDownUp: the handler accepts a transfer,
// then goes down and up again (wire order: OK, down, up). Down retakes all
// custody, so the SM must be transferred again after up. But the transfer
// answer is processed on the transfer goroutine, after the inline down/up:
// the core files the SM as held by the handler, which dropped it at down.
// It is stuck there (and out of the expiry heap) until the next outage.
func TestRegressionTransferAnswerOvertakenByDownUp(t *testing.T) {
	h, sock := socketHarness(t)
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, natl("0"), pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	if _, _, err := h.core.Submit(context.Background(), r, true); err != nil {
		t.Fatal(err)
	}
	c, err := coresock.DialConn(context.Background(), sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, c.MaxMessage()+1)
	send := func(hd coresock.Header, b coresock.Body) {
		t.Helper()
		pkt, err := coresock.Marshal(nil, hd, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(pkt); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() (coresock.Header, coresock.Body, bool) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.ReadMessage(buf)
		if err != nil {
			return coresock.Header{}, nil, false
		}
		hd, b, err := coresock.Unmarshal(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		return hd, b, true
	}
	send(coresock.Header{ID: 1}, &coresock.RHRegister{Role: coresock.RoleGSMMTDelivery})
	recv()
	send(coresock.Header{ID: 2}, &coresock.RHServiceState{Up: true})
	recv()
	hd, b, _ := recv()
	if _, ok := b.(*coresock.MTTransfer); !ok {
		t.Fatalf("expected a transfer, got %v", hd.Type)
	}
	send(coresock.Header{Type: hd.Type.Response(), ID: hd.ID, Status: coresock.StatusOK}, nil)
	send(coresock.Header{ID: 3}, &coresock.RHServiceState{Up: false})
	send(coresock.Header{ID: 4}, &coresock.RHServiceState{Up: true})
	for {
		hd, b, ok := recv()
		if !ok {
			t.Fatal("SM not transferred again after down/up: the core thinks the handler still holds it")
		}
		if _, ok := b.(*coresock.MTTransfer); ok {
			return
		}
		_ = hd
	}
}

// TestRegressionTornTrailerKeepsPeerRoute: a crash during an in-place
// update can reset a state trailer, which holds a downstream SM's peer
// name. The core routes the number again instead of handing the SM to the
// uplink.
func TestRegressionTornTrailerKeepsPeerRoute(t *testing.T) {
	h := newHarness(t, Config{})
	idx := h.submit(sms(intl(numNoProv), intl(numPeerB), pms.ClassGSM, "to pb"))
	h.close()
	f, err := os.OpenFile(filepath.Join(h.dir, datadir.PMSFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// One byte of the trailer (discharge time): the state CRC fails.
	if _, err := f.WriteAt([]byte{0x7f}, int64(idx)*pms.RecordSize+230); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h.open()
	up, pb := newFake(), newFake()
	h.register(up, RolePeer, "")
	h.register(pb, RolePeer, "pb")
	h.waitDischarge(discharge{idx, pms.Delivered})
	if c := pb.nextCall(t); c != fmt.Sprint("deliver ", idx) {
		t.Fatalf("pb got %q", c)
	}
	select {
	case c := <-up.calls:
		t.Fatalf("the uplink got %q", c)
	default:
	}
}
