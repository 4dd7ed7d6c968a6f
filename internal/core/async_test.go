package core

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// asyncRH is a fakeRH that also takes deliveries without a goroutine of
// the core's waiting (AsyncPeerDeliverer), scripted by the SM's text:
// "ok" is answered from another goroutine, "broken" fails permanently at
// once (done before TryDeliverToPeer returns), "throttled" asks for a
// requeue, "declined" is declined (the core then calls DeliverToPeer).
type asyncRH struct {
	*fakeRH
	mu    sync.Mutex
	async int // deliveries taken by TryDeliverToPeer
}

func (a *asyncRH) TryDeliverToPeer(idx uint64, rec *[pms.RecordSize]byte, done func(string, Status, error)) bool {
	var r pms.Record
	if err := pms.Decode(rec[:], &r); err != nil {
		done("", coresock.StatusMalformed, nil)
		return true
	}
	switch string(r.UD) {
	case "declined":
		return false
	case "broken":
		done("", coresock.StatusPermanentFailure, nil)
	case "throttled":
		go done("", 0, ErrRequeue)
	default:
		go done(fmt.Sprintf("up-%d", idx), coresock.StatusOK, nil)
	}
	a.mu.Lock()
	a.async++
	a.mu.Unlock()
	return true
}

// TestAsyncPeerDelivery: deliveries through an AsyncPeerDeliverer are
// discharged durably with the same states as the waiting path; a requeue
// counts no attempt; a declined delivery goes through DeliverToPeer.
func TestAsyncPeerDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	a := &asyncRH{fakeRH: newFake()}
	idx := map[string]uint64{}
	for _, text := range []string{"ok", "broken", "throttled", "declined"} {
		idx[text] = h.submit(sms(intl(numProv), intl(numOutside), pms.ClassGSM, text))
	}
	reg, err := h.core.Register(a, RolePeer, "")
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetServiceState(reg, true)
	h.waitDischarge(discharge{idx["ok"], pms.Delivered}, discharge{idx["broken"], pms.Failed},
		discharge{idx["throttled"], pms.Delivered}, discharge{idx["declined"], pms.Delivered})
	// The waiting path: the declined SM, and the requeued one (whose
	// record the core no longer holds in RAM).
	calls := map[string]bool{a.nextCall(t): true, a.nextCall(t): true}
	if !calls[fmt.Sprint("deliver ", idx["declined"])] || !calls[fmt.Sprint("deliver ", idx["throttled"])] {
		t.Fatalf("waiting path called for %v", calls)
	}
	a.mu.Lock()
	if a.async != 3 { // ok, broken, throttled's first try
		t.Errorf("%d deliveries taken asynchronously, want 3", a.async)
	}
	a.mu.Unlock()
	for text, want := range map[string]pms.State{
		"ok":        {Disposition: pms.Delivered, Attempts: 1, PeerMsgID: fmt.Sprintf("up-%d", idx["ok"])},
		"broken":    {Disposition: pms.Failed, Attempts: 1, Reason: uint8(coresock.StatusPermanentFailure)},
		"throttled": {Disposition: pms.Delivered, Attempts: 1, PeerMsgID: fmt.Sprintf("up-%d", idx["throttled"])},
		"declined":  {Disposition: pms.Delivered, Attempts: 1, PeerMsgID: fmt.Sprintf("up-%d", idx["declined"])},
	} {
		got := h.record(idx[text]).State
		if got.Disposition != want.Disposition || got.Attempts != want.Attempts || got.PeerMsgID != want.PeerMsgID || got.Reason != want.Reason || got.Discharged.IsZero() {
			t.Errorf("%s: stored state %+v, want %+v", text, got, want)
		}
	}
	if st := h.store.Stats(); st.Active != 0 {
		t.Fatalf("%d records still active", st.Active)
	}
}

// holdRH takes every delivery asynchronously and hands its callback to
// the test, which answers as a session's reader would.
type holdRH struct {
	*fakeRH
	dones chan func(string, Status, error)
}

func (a *holdRH) TryDeliverToPeer(idx uint64, rec *[pms.RecordSize]byte, done func(string, Status, error)) bool {
	a.dones <- done
	return true
}

// startHeld submits one SM that asks for a status report, registers a
// holdRH for its peer and returns the SM's index and the delivery's
// callback.
func startHeld(t *testing.T, h *harness) (uint64, func(string, Status, error)) {
	t.Helper()
	r := sms(intl(numNoProv), intl(numPeerB), pms.ClassGSM, "x")
	r.State.SRR = true
	idx := h.submit(r)
	a := &holdRH{fakeRH: newFake(), dones: make(chan func(string, Status, error), 1)}
	reg, err := h.core.Register(a, RolePeer, "pb")
	if err != nil {
		t.Fatal(err)
	}
	h.core.SetServiceState(reg, true)
	select {
	case done := <-a.dones:
		return idx, done
	case <-time.After(10 * time.Second):
		t.Fatal("no asynchronous delivery")
	}
	return 0, nil
}

// TestAsyncDischargeThenClose: a delivery answered just before the core
// closes is discharged and its status report stored: Close waits for the
// discharge queued without a core goroutine and for what follows it.
func TestAsyncDischargeThenClose(t *testing.T) {
	for range 5 {
		h := newHarness(t, Config{})
		idx, done := startHeld(t, h)
		done("", coresock.StatusOK, nil)
		h.restart()
		if r := h.record(idx); r.State.Disposition != pms.Delivered {
			t.Fatalf("after close: %v", r.State.Disposition)
		}
		if next := h.store.Stats().Next; next != idx+2 {
			t.Fatalf("store holds %d records after the SM at %d: the status report was lost", next-idx-1, idx)
		}
		h.close()
	}
}

// TestAsyncOnDischargeAfterReport: OnDischarge comes after the status
// report is stored, as its doc says, on the asynchronous path too.
func TestAsyncOnDischargeAfterReport(t *testing.T) {
	for range 5 {
		h := newHarness(t, Config{})
		idx, done := startHeld(t, h)
		done("", coresock.StatusOK, nil)
		if d := <-h.discharged; d.index != idx {
			t.Fatalf("discharge of %d, want %d", d.index, idx)
		}
		if next := h.store.Stats().Next; next != idx+2 {
			t.Fatalf("OnDischarge ran with %d records after the SM: the report was not stored yet", next-idx-1)
		}
		h.close()
	}
}

// TestSubmitAsyncThenClose: an SM submitted with SubmitAsync just before
// the core closes, stored as delivered at once and asking for a report,
// gets its report: Close waits for the store's callback and what it
// queues.
func TestSubmitAsyncThenClose(t *testing.T) {
	for range 5 {
		h := newHarness(t, Config{})
		r := sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "hello")
		r.State.SRR = true
		got := make(chan uint64, 1)
		h.core.SubmitAsync(r, false, func(idx uint64, _ bool, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- idx
		})
		h.restart()
		idx := <-got
		if next := h.store.Stats().Next; next != idx+2 {
			t.Fatalf("store holds %d records after the SM at %d: the status report was lost", next-idx-1, idx)
		}
		h.close()
	}
}
