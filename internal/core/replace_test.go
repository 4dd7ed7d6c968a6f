package core

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

func textChange(text string) ReplaceChange {
	return ReplaceChange{UDL: uint8(len(text)), UD: []byte(text)}
}

// TestReplaceBeforeDelivery: a queued SM replaced is delivered once, with
// the new text, as the new record; the old record is discharged as
// replaced and points at it, and the old id keeps answering.
func TestReplaceBeforeDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	r := sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "first text")
	r.MR = 9
	old := h.submit(r)
	nw, err := h.core.Replace(ctx, old, textChange("second text"))
	if err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{old, pms.Replaced})
	if o := h.record(old); o.State.Disposition != pms.Replaced || o.State.ReplacedBy != nw {
		t.Fatalf("old record state %+v", o.State)
	}
	n := h.record(nw)
	if !n.Replacement || n.Replaces != old || string(n.UD) != "second text" || n.Src != r.Src || n.Dst != r.Dst ||
		n.SrcClass != pms.ClassGSM || n.DstClass != pms.ClassDownstream || n.State.DstPeer != "pa" || n.MR != 9 {
		t.Fatalf("replacement %+v", n)
	}
	if info, err := h.core.Lookup(ctx, old); err != nil || !info.Active || info.Index != old || info.Current != nw {
		t.Fatalf("lookup of the old id: %+v %v", info, err)
	}

	pa := newFake()
	delivered := make(chan string, 10)
	pa.deliver = func(idx uint64, r *pms.Record) (string, Status, error) {
		delivered <- fmt.Sprint(idx, " ", string(r.UD))
		return "", coresock.StatusOK, nil
	}
	h.register(pa, RolePeer, "pa")
	h.waitDischarge(discharge{nw, pms.Delivered})
	if got := <-delivered; got != fmt.Sprint(nw, " second text") {
		t.Fatalf("delivered %q", got)
	}
	select {
	case got := <-delivered:
		t.Fatalf("a second delivery: %q", got)
	default:
	}
	info, err := h.core.Lookup(ctx, old)
	if err != nil || info.Active || info.Disposition != pms.Delivered || info.Index != old || info.Current != nw {
		t.Fatalf("lookup after delivery: %+v %v", info, err)
	}
	// Final now: a further replacement is refused.
	if _, err := h.core.Replace(ctx, old, textChange("third")); !isStatus(err, coresock.StatusNotActive) {
		t.Fatalf("replace of a delivered SM: %v", err)
	}
}

// TestReplaceChainReportAndCancel: the old id follows two replacements;
// the status report carries it, with the original's submission time; and
// cancel by it reaches the current record.
func TestReplaceChainReportAndCancel(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	r := sms(intl(numPeerA), intl(numOutside), pms.ClassDownstream, "v1")
	r.SrcPeer = "pa"
	old := h.submit(r)
	entry := h.record(old).Entry
	mid, err := h.core.Replace(ctx, old, ReplaceChange{UDL: 2, UD: []byte("v2"), SRR: true})
	if err != nil {
		t.Fatal(err)
	}
	last, err := h.core.Replace(ctx, old, ReplaceChange{UDL: 2, UD: []byte("v3"), SRR: true, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{old, pms.Replaced}, discharge{mid, pms.Replaced})
	if n := h.record(last); n.Replaces != old || n.Validity != 3600 || !n.State.SRR {
		t.Fatalf("second replacement %+v", n)
	}
	if m := h.record(mid); m.State.ReplacedBy != last {
		t.Fatalf("middle record %+v", m.State)
	}
	// The intermediate id leads to the same SM.
	if info, err := h.core.Lookup(ctx, mid); err != nil || info.Current != last || info.Index != old {
		t.Fatalf("lookup of the middle id: %+v %v", info, err)
	}
	if err := h.core.Cancel(ctx, Selector{ByIndex: true, Index: old}); err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{last, pms.Cancelled})
	// The report goes back to pa under the id pa holds.
	var rep pms.Record
	for i := last + 1; i < h.store.Stats().Next; i++ {
		if x := h.record(i); x.StatusReport {
			rep = x
		}
	}
	info, ok := ParseStatusReport(rep.UD)
	if !ok || info.Index != old || info.Disposition != pms.Cancelled || !info.Submitted.Equal(entry) || rep.State.DstPeer != "pa" {
		t.Fatalf("status report %+v %+v", rep, info)
	}
	if info, err := h.core.Lookup(ctx, old); err != nil || info.Disposition != pms.Cancelled || info.Current != last {
		t.Fatalf("lookup after cancel: %+v %v", info, err)
	}
}

// TestReplaceRefusals: what cannot be replaced, and why.
func TestReplaceRefusals(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	if _, err := h.core.Replace(ctx, 99, textChange("x")); !isStatus(err, coresock.StatusNotFound) {
		t.Fatalf("unknown index: %v", err)
	}
	stored := h.submit(sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "stored"))
	if _, err := h.core.Replace(ctx, stored, textChange("x")); !isStatus(err, coresock.StatusNotActive) {
		t.Fatalf("stored SM: %v", err)
	}
	queued := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "queued"))
	if _, err := h.core.Replace(ctx, queued, ReplaceChange{UDL: 9, UD: []byte("x")}); !isStatus(err, coresock.StatusBadLength) {
		t.Fatalf("UDL disagreeing with the user data: %v", err)
	}
	part := sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "part")
	part.ConcatRef, part.ConcatTotal, part.ConcatSeq = 7, 2, 1
	partIdx := h.submit(part)
	if _, err := h.core.Replace(ctx, partIdx, textChange("x")); !isStatus(err, coresock.StatusMalformed) {
		t.Fatalf("part of a concatenated message: %v", err)
	}
	// In a handler's hands: TOO_BUSY, and the delivery goes on with the
	// old text.
	pa := newFake()
	pa.release = make(chan struct{})
	h.register(pa, RolePeer, "pa")
	for range 2 {
		pa.nextCall(t)
	}
	if _, err := h.core.Replace(ctx, queued, textChange("late")); !isStatus(err, coresock.StatusTooBusy) {
		t.Fatalf("SM being delivered: %v", err)
	}
	close(pa.release)
	h.waitDischarge(discharge{queued, pms.Delivered}, discharge{partIdx, pms.Delivered})
	if n := h.store.Stats().Next; n != partIdx+1 {
		t.Fatalf("%d records; a refused replacement stored something", n)
	}
}

// TestReplaceSurvivesRestart: after a restart the old id still names the
// replacement, which is delivered once.
func TestReplaceSurvivesRestart(t *testing.T) {
	h := newHarness(t, Config{})
	ctx := context.Background()
	old := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "before"))
	nw, err := h.core.Replace(ctx, old, textChange("after"))
	if err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{old, pms.Replaced})
	h.restart()
	if info, err := h.core.Lookup(ctx, old); err != nil || !info.Active || info.Current != nw {
		t.Fatalf("lookup after restart: %+v %v", info, err)
	}
	again, err := h.core.Replace(ctx, old, textChange("again"))
	if err != nil {
		t.Fatalf("replace after restart: %v", err)
	}
	h.waitDischarge(discharge{nw, pms.Replaced})
	pa := newFake()
	h.register(pa, RolePeer, "pa")
	h.waitDischarge(discharge{again, pms.Delivered})
	if c := pa.nextCall(t); c != fmt.Sprint("deliver ", again) {
		t.Fatalf("peer got %q", c)
	}
	select {
	case c := <-pa.calls:
		t.Fatalf("another delivery: %q", c)
	default:
	}
}

// TestReplaceCrashBetweenWrites: a replacement whose old record was never
// discharged (a crash between the two writes) supersedes it at startup, so
// only the replacement is delivered.
func TestReplaceCrashBetweenWrites(t *testing.T) {
	h := newHarness(t, Config{})
	old := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "old"))
	// Written behind the core's back, as the first of the two writes.
	rep := h.record(old)
	rep.Replacement, rep.Replaces = true, old
	rep.UD, rep.UDL = []byte("new"), 3
	rep.State = pms.State{DstPeer: "pa"}
	if err := h.store.Append(context.Background(), &rep); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.waitDischarge(discharge{old, pms.Replaced})
	if o := h.record(old); o.State.Disposition != pms.Replaced || o.State.ReplacedBy != rep.Index {
		t.Fatalf("old record %+v", o.State)
	}
	pa := newFake()
	h.register(pa, RolePeer, "pa")
	h.waitDischarge(discharge{rep.Index, pms.Delivered})
	if c := pa.nextCall(t); c != fmt.Sprint("deliver ", rep.Index) {
		t.Fatalf("peer got %q", c)
	}
	select {
	case c := <-pa.calls:
		t.Fatalf("another delivery: %q", c)
	default:
	}
}

// TestReplaceNotADuplicate: a replacement is not a submission, so a later
// identical submission is not folded into it.
func TestReplaceNotADuplicate(t *testing.T) {
	h := newHarness(t, Config{})
	old := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "one"))
	if _, err := h.core.Replace(context.Background(), old, textChange("two")); err != nil {
		t.Fatal(err)
	}
	h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "two"))
}

// TestFailureOnlyReports: SRR with SRRFailureOnly makes a report of a
// failure and none of a delivery, whatever delivers it.
func TestFailureOnlyReports(t *testing.T) {
	h := newHarness(t, Config{})
	failOnly := func(dst, text string) *pms.Record {
		r := sms(intl(numNoProv), intl(dst), pms.ClassGSM, text)
		r.State.SRR, r.State.SRRFailureOnly = true, true
		return r
	}
	stored := h.submit(failOnly(numStore, "stored"))
	if r := h.record(stored); !r.State.SRR || !r.State.SRRFailureOnly {
		t.Fatalf("flags not kept: %+v", r.State)
	}
	ok := h.submit(failOnly(numPeerA, "ok"))
	bad := h.submit(failOnly(numPeerA, "bad"))
	pa := newFake()
	pa.deliver = func(idx uint64, r *pms.Record) (string, Status, error) {
		if string(r.UD) == "bad" {
			return "", coresock.StatusPermanentFailure, nil
		}
		return "", coresock.StatusOK, nil
	}
	h.register(pa, RolePeer, "pa")
	h.waitDischarge(discharge{ok, pms.Delivered}, discharge{bad, pms.Failed})
	// A discharge is announced after its report is stored, so the
	// failure's report is by now the only record after the three.
	if n := h.store.Stats().Next; n != bad+2 {
		t.Fatalf("%d records, want %d: one report, of the failure", n, bad+2)
	}
	rep := h.record(bad + 1)
	if info, _ := ParseStatusReport(rep.UD); !rep.StatusReport || info.Index != bad || info.Disposition != pms.Failed {
		t.Fatalf("report %+v", rep)
	}
	// Without SRR the flag means nothing.
	r := sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "no srr")
	r.State.SRRFailureOnly = true
	if idx := h.submit(r); h.record(idx).State.SRRFailureOnly {
		t.Fatal("failure-only kept without SRR")
	}
}

// TestSubmitCannotForgeReplacement: only Replace makes replacements. A
// submission claiming to replace an SM is stored as an ordinary one and
// supersedes nothing, even after a restart.
func TestSubmitCannotForgeReplacement(t *testing.T) {
	h := newHarness(t, Config{})
	victim := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "victim"))
	forged := sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "forged")
	forged.Replacement, forged.Replaces = true, victim
	idx := h.submit(forged)
	if r := h.record(idx); r.Replacement || r.Replaces != 0 {
		t.Fatalf("stored as a replacement: %+v", r)
	}
	h.restart()
	if info, err := h.core.Lookup(context.Background(), victim); err != nil || !info.Active || info.Current != victim {
		t.Fatalf("victim after restart: %+v %v", info, err)
	}
}
