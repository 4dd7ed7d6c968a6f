package smpp_test

import (
	"testing"

	"switchboard/internal/pms"
	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

// TestQueryAndCancel: query_sm and cancel_sm act on the core, for the
// peer's own messages only.
func TestQueryAndCancel(t *testing.T) {
	w := startWorld(t, nil)
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransmitter, "pa")
	// To pb, which is not bound: the SM stays queued.
	queued, st := pa.submit(numPA, numPB, "wait for pb", 0)
	if st != 0 {
		t.Fatalf("submit: %v", st)
	}
	// To a store-only number: delivered at once.
	stored, st := pa.submit(numPA, numLocal, "stored", 0)
	if st != 0 {
		t.Fatalf("submit: %v", st)
	}
	query := func(e *esme, id string) (pdu.Status, *pdu.QuerySMRespBody) {
		r := e.call(&pdu.QuerySMBody{MessageID: id, Source: pdu.Address{TON: 1, NPI: 1, Addr: numPA}})
		b, _ := r.Body.(*pdu.QuerySMRespBody)
		return r.Header.Status, b
	}
	if st, b := query(pa, queued); st != 0 || b.MessageState != pdu.StateEnroute || b.FinalDate != "" {
		t.Fatalf("query of a queued SM: %v %+v", st, b)
	}
	if st, b := query(pa, stored); st != 0 || b.MessageState != pdu.StateDelivered || b.FinalDate == "" {
		t.Fatalf("query of a stored SM: %v %+v", st, b)
	}
	if st, _ := query(pa, "999999"); st != pdu.StatusInvMsgID {
		t.Fatalf("query of an unknown id: %v", st)
	}
	// Another peer sees nothing of pa's messages, and cannot cancel them.
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransmitter, "pb")
	if r := pb.call(&pdu.QuerySMBody{MessageID: queued}); r.Header.Status != pdu.StatusInvMsgID {
		t.Fatalf("pb's query of pa's SM: %v", r.Header.Status)
	}
	if r := pb.call(&pdu.CancelSMBody{MessageID: queued}); r.Header.Status != pdu.StatusInvMsgID {
		t.Fatalf("pb's cancel of pa's SM: %v", r.Header.Status)
	}
	// pa cancels its queued SM; the store shows it cancelled.
	if r := pa.call(&pdu.CancelSMBody{MessageID: queued, Source: pdu.Address{TON: 1, NPI: 1, Addr: numPA}}); r.Header.Status != 0 {
		t.Fatalf("cancel: %v", r.Header.Status)
	}
	idx, _ := smpp.ParseID(queued)
	if r := w.record(t, idx); r.State.Disposition != pms.Cancelled {
		t.Fatalf("after cancel the SM is %v", r.State.Disposition)
	}
	if st, b := query(pa, queued); st != 0 || b.MessageState != pdu.StateDeleted {
		t.Fatalf("query after cancel: %v %+v", st, b)
	}
	// A delivered SM cannot be cancelled.
	if r := pa.call(&pdu.CancelSMBody{MessageID: stored}); r.Header.Status != pdu.StatusCancelFail {
		t.Fatalf("cancel of a delivered SM: %v", r.Header.Status)
	}
}
