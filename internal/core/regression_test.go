package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	stored := h.record(idx)
	expiry := stored.Expiry()
	f.deliver = func(uint64, *pms.Record) (string, Status, error) {
		// The exchange outlives the SM's validity: that is the case.
		time.Sleep(time.Until(expiry) + 10*time.Millisecond)
		return "", 0, errors.New("connection closed")
	}
	reg := h.register(f, RolePeer, "")
	f.nextCall(t)
	h.core.Unregister(reg) // the handler's connection is gone
	h.waitDischarge(discharge{idx, pms.Expired})
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
	waitCustody(t, h, idx)
	h.core.SetServiceState(reg, false) // retake: back in the core's custody
	h.waitDischarge(discharge{idx, pms.Expired})
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
}

// rawRH is a role handler speaking the core socket packet by packet, so a
// test controls the exact wire order of its requests and answers.
type rawRH struct {
	t   *testing.T
	c   *coresock.Conn
	buf []byte
}

func dialRaw(t *testing.T, sock string) *rawRH {
	t.Helper()
	c, err := coresock.DialConn(context.Background(), sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawRH{t: t, c: c, buf: make([]byte, c.MaxMessage()+1)}
}

func (r *rawRH) send(hd coresock.Header, b coresock.Body) {
	r.t.Helper()
	pkt, err := coresock.Marshal(nil, hd, b)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.c.WriteMessage(pkt); err != nil {
		r.t.Fatal(err)
	}
}

// recv returns the next packet, or ok false if none comes within d.
func (r *rawRH) recv(d time.Duration) (coresock.Header, coresock.Body, bool) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(d))
	n, err := r.c.ReadMessage(r.buf)
	if err != nil {
		return coresock.Header{}, nil, false
	}
	hd, b, err := coresock.Unmarshal(r.buf[:n])
	if err != nil {
		r.t.Fatal(err)
	}
	return hd, b, true
}

// registerGSM registers as the GSM MT handler, declares service up and
// returns the first transfer the core sends.
func (r *rawRH) registerGSM() coresock.Header {
	r.t.Helper()
	r.send(coresock.Header{ID: 1}, &coresock.RHRegister{Role: coresock.RoleGSMMTDelivery})
	if hd, _, ok := r.recv(3 * time.Second); !ok || hd.Status != coresock.StatusOK {
		r.t.Fatalf("register: %v %v", hd.Status, ok)
	}
	r.send(coresock.Header{ID: 2}, &coresock.RHServiceState{Up: true})
	// The core may start the transfer before it answers the service-state
	// request, so the two packets come in either order.
	var transfer *coresock.Header
	upAnswered := false
	for transfer == nil || !upAnswered {
		hd, b, ok := r.recv(3 * time.Second)
		if !ok {
			r.t.Fatalf("up answered %v, transfer %v", upAnswered, transfer != nil)
		}
		switch {
		case hd.ID == 2 && hd.Type == coresock.TypeRHServiceState.Response():
			if hd.Status != coresock.StatusOK {
				r.t.Fatalf("up: %v", hd.Status)
			}
			upAnswered = true
		default:
			if _, ok := b.(*coresock.MTTransfer); !ok || transfer != nil {
				r.t.Fatalf("expected one transfer, got %v", hd.Type)
			}
			transfer = &hd
		}
	}
	return *transfer
}

// waitCustody waits until the core has recorded idx as held by the GSM
// handler (the transfer answer is processed on a goroutine of its own).
func waitCustody(t *testing.T, h *harness, idx uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.core.mu.Lock()
		_, held := h.core.gsmHeld[idx]
		h.core.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SM %d never taken into custody", idx)
		}
		runtime.Gosched()
	}
}

// TestRegressionDischargeOvertakenByServiceDown: a handler that sends
// "discharge delivered" and then "service down" (in that order, on one
// connection) must see its discharge taken: the down must not retake the
// SM first and have the delivered SM transferred (and delivered) again.
func TestRegressionDischargeOvertakenByServiceDown(t *testing.T) {
	h, sock := socketHarness(t)
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, natl("0"), pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	idx, _, err := h.core.Submit(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	rh := dialRaw(t, sock)
	hd := rh.registerGSM()
	rh.send(coresock.Header{Type: hd.Type.Response(), ID: hd.ID, Status: coresock.StatusOK}, nil)
	waitCustody(t, h, idx)
	// Delivered; then the radio goes away. Wire order: discharge, down.
	rh.send(coresock.Header{ID: 3}, &coresock.MTDischarge{Index: idx, Disposition: pms.Delivered})
	rh.send(coresock.Header{ID: 4}, &coresock.RHServiceState{Up: false})
	got := map[uint32]coresock.Status{}
	for len(got) < 2 {
		hd, _, ok := rh.recv(3 * time.Second)
		if !ok {
			t.Fatalf("answers so far: %v", got)
		}
		got[hd.ID] = hd.Status
	}
	if got[3] != coresock.StatusOK {
		t.Fatalf("discharge sent before service-down answered %v; the delivered SM %d is back in the queue", got[3], idx)
	}
}

// TestRegressionTransferAnswerOvertakenByDownUp: the handler accepts a
// transfer, then goes down and up again (wire order: OK, down, up). Down
// retakes all custody, so the SM must be transferred again after up, even
// when the core processes the transfer answer after the down and up.
func TestRegressionTransferAnswerOvertakenByDownUp(t *testing.T) {
	h, sock := socketHarness(t)
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, natl("0"), pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	if _, _, err := h.core.Submit(context.Background(), r, true); err != nil {
		t.Fatal(err)
	}
	rh := dialRaw(t, sock)
	hd := rh.registerGSM()
	rh.send(coresock.Header{Type: hd.Type.Response(), ID: hd.ID, Status: coresock.StatusOK}, nil)
	rh.send(coresock.Header{ID: 3}, &coresock.RHServiceState{Up: false})
	rh.send(coresock.Header{ID: 4}, &coresock.RHServiceState{Up: true})
	for {
		_, b, ok := rh.recv(time.Second)
		if !ok {
			t.Fatal("SM not transferred again after down/up: the core thinks the handler still holds it")
		}
		if _, ok := b.(*coresock.MTTransfer); ok {
			return
		}
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
