package smpp_test

import (
	"strings"
	"testing"

	"switchboard/internal/pms"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

func (e *esme) replace(id, src, text string, regDelivery uint8) pdu.Status {
	e.t.Helper()
	return e.call(&pdu.ReplaceSMBody{
		MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: src},
		RegisteredDelivery: regDelivery, ShortMessage: []byte(text),
	}).Header.Status
}

func (e *esme) query(id, src string) (pdu.Status, *pdu.QuerySMRespBody) {
	e.t.Helper()
	r := e.call(&pdu.QuerySMBody{MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: src}})
	b, _ := r.Body.(*pdu.QuerySMRespBody)
	return r.Header.Status, b
}

// nextSM returns the next deliver_sm the ESME received.
func (e *esme) nextSM() *pdu.SM {
	e.t.Helper()
	p := e.next()
	sm, ok := p.Body.(*pdu.SM)
	if !ok || sm.Cmd != pdu.DeliverSM {
		e.t.Fatalf("got %v, want a deliver_sm", p.Header.Command)
	}
	return sm
}

// receiptFor checks that sm is a delivery receipt for id with stat.
func receiptFor(t *testing.T, sm *pdu.SM, id, stat string) {
	t.Helper()
	if sm.ESMClass&0x3C != 0x04 {
		t.Fatalf("not a receipt: esm_class %#x, %q", sm.ESMClass, sm.ShortMessage)
	}
	if v, _ := sm.TLVs.Get(pdu.TagReceiptedMessageID); strings.TrimRight(string(v), "\x00") != id {
		t.Fatalf("receipted_message_id %q, want %q (text %q)", v, id, sm.ShortMessage)
	}
	if text := string(sm.ShortMessage); !strings.HasPrefix(text, "id:"+id+" ") || !strings.Contains(text, "stat:"+stat) {
		t.Fatalf("receipt text %q, want id %s and stat %s", text, id, stat)
	}
}

// TestReplaceSM: replace_sm before delivery. The peer gets the new text
// once, query_sm with the original id follows it, the receipt carries the
// original id, and a delivered SM cannot be replaced.
func TestReplaceSM(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	// pb is not bound yet: the SM waits in the core.
	id, st := pa.submit(numPA, numPB, "old text", 0)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if st := pa.replace(id, numPA, "new text", 1); st != pdu.StatusOK {
		t.Fatalf("replace_sm: %v", st)
	}
	if st, b := pa.query(id, numPA); st != pdu.StatusOK || b.MessageState != pdu.StateEnroute || b.MessageID != id {
		t.Fatalf("query after replace: %v %+v", st, b)
	}
	idx, _ := smpp.ParseID(id)
	old := w.record(t, idx)
	if old.State.Disposition != pms.Replaced {
		t.Fatalf("old record: %v", old.State.Disposition)
	}
	if nw := w.record(t, old.State.ReplacedBy); !nw.Replacement || nw.Replaces != idx || nw.DCS != old.DCS ||
		nw.Src != old.Src || nw.Dst != old.Dst || nw.SrcPeer != "pa" || !nw.State.SRR || nw.State.SRRFailureOnly {
		t.Fatalf("replacement %+v", nw)
	}
	// Bad fields and foreign ids.
	if st := pa.replace(id, numPB, "x", 0); st != pdu.StatusInvMsgID {
		t.Fatalf("replace with another source address: %v", st)
	}
	if r := pa.call(&pdu.ReplaceSMBody{MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: numPA}, SMDefaultMsgID: 3}); r.Header.Status != pdu.StatusInvDftMsgID {
		t.Fatalf("replace with a canned message: %v", r.Header.Status)
	}
	if r := pa.call(&pdu.ReplaceSMBody{MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: numPA}, ValidityPeriod: "000101000000000+"}); r.Header.Status != pdu.StatusInvExpiry {
		t.Fatalf("replace with a validity in the past: %v", r.Header.Status)
	}
	if st := pa.replace(id, numPA, strings.Repeat("x", 161), 1); st != pdu.StatusInvMsgLen {
		t.Fatalf("replace with a text longer than one record: %v", st)
	}
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransceiver, "pb")
	if st := pb.replace(id, numPA, "hijack", 0); st != pdu.StatusInvMsgID {
		t.Fatalf("pb replacing pa's SM: %v", st)
	}
	if sm := pb.nextSM(); string(sm.ShortMessage) != "new text" || sm.Source.Addr != numPA {
		t.Fatalf("pb got %q from %s", sm.ShortMessage, sm.Source.Addr)
	}
	receiptFor(t, pa.nextSM(), id, "DELIVRD")
	// Nothing else was queued for pb: the next SM it gets is the next
	// one submitted, not the old text.
	if _, st := pa.submit(numPA, numPB, "marker", 0); st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if sm := pb.nextSM(); string(sm.ShortMessage) != "marker" {
		t.Fatalf("pb got %q, want the marker", sm.ShortMessage)
	}
	if st, b := pa.query(id, numPA); st != pdu.StatusOK || b.MessageState != pdu.StateDelivered {
		t.Fatalf("query after delivery: %v %+v", st, b)
	}
	if st := pa.replace(id, numPA, "too late", 0); st != pdu.StatusReplaceFail {
		t.Fatalf("replace of a delivered SM: %v", st)
	}
}

// TestReplaceThenCancel: cancel_sm with the original id reaches the
// replacement, the receipt says so under that id, and a cancelled SM
// cannot be replaced.
func TestReplaceThenCancel(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	id, st := pa.submit(numPA, numPB, "first", 0)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	for _, text := range []string{"second", "third"} {
		if st := pa.replace(id, numPA, text, 1); st != pdu.StatusOK {
			t.Fatalf("replace_sm %q: %v", text, st)
		}
	}
	if r := pa.call(&pdu.CancelSMBody{MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: numPA}}); r.Header.Status != pdu.StatusOK {
		t.Fatalf("cancel_sm after replace: %v", r.Header.Status)
	}
	receiptFor(t, pa.nextSM(), id, "DELETED")
	if st, b := pa.query(id, numPA); st != pdu.StatusOK || b.MessageState != pdu.StateDeleted {
		t.Fatalf("query after cancel: %v %+v", st, b)
	}
	if st := pa.replace(id, numPA, "fourth", 0); st != pdu.StatusReplaceFail {
		t.Fatalf("replace of a cancelled SM: %v", st)
	}
	if r := pa.call(&pdu.CancelSMBody{MessageID: id}); r.Header.Status != pdu.StatusCancelFail {
		t.Fatalf("second cancel: %v", r.Header.Status)
	}
}

// TestReplaceSurvivesRestart: the original id names the replacement after
// the server restarts on the same data directory, and only the
// replacement is delivered.
func TestReplaceSurvivesRestart(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransmitter, "pa")
	id, st := pa.submit(numPA, numPB, "before restart", 0)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if st := pa.replace(id, numPA, "replaced once", 0); st != pdu.StatusOK {
		t.Fatalf("replace_sm: %v", st)
	}
	w = restartWorld(t, w)
	pa = dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	if st, b := pa.query(id, numPA); st != pdu.StatusOK || b.MessageState != pdu.StateEnroute {
		t.Fatalf("query after restart: %v %+v", st, b)
	}
	if st := pa.replace(id, numPA, "replaced twice", 1); st != pdu.StatusOK {
		t.Fatalf("replace_sm after restart: %v", st)
	}
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransceiver, "pb")
	if sm := pb.nextSM(); string(sm.ShortMessage) != "replaced twice" {
		t.Fatalf("pb got %q", sm.ShortMessage)
	}
	receiptFor(t, pa.nextSM(), id, "DELIVRD")
	if _, st := pa.submit(numPA, numPB, "marker", 0); st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if sm := pb.nextSM(); string(sm.ShortMessage) != "marker" {
		t.Fatalf("pb got %q, want the marker", sm.ShortMessage)
	}
}

// TestRegisteredDeliveryFailureOnly: registered_delivery 2 gets a receipt
// for a failure and none for a delivery. The absence is shown in order:
// after the delivered SM, a failing one is sent, and the first receipt to
// arrive is the failure's.
func TestRegisteredDeliveryFailureOnly(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransceiver, "pb")
	okID, st := pa.submit(numPA, numPB, "will arrive", 2)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if sm := pb.nextSM(); string(sm.ShortMessage) != "will arrive" {
		t.Fatalf("pb got %q", sm.ShortMessage)
	}
	idx, _ := smpp.ParseID(okID)
	if r := w.record(t, idx); !r.State.SRR || !r.State.SRRFailureOnly {
		t.Fatalf("stored state %+v", r.State)
	}
	// The core has the delivery's outcome once query_sm says so.
	for {
		st, b := pa.query(okID, numPA)
		if st != pdu.StatusOK {
			t.Fatalf("query: %v", st)
		}
		if b.MessageState == pdu.StateDelivered {
			break
		}
	}
	// pb refuses the next one for good (ESME_RX_P_APPN is permanent).
	pb.answer.Store(uint32(pdu.StatusPermAppErr))
	badID, st := pa.submit(numPA, numPB, "will fail", 2)
	if st != pdu.StatusOK {
		t.Fatalf("submit: %v", st)
	}
	if sm := pb.nextSM(); string(sm.ShortMessage) != "will fail" {
		t.Fatalf("pb got %q", sm.ShortMessage)
	}
	receiptFor(t, pa.nextSM(), badID, "UNDELIV")
}
