package smpp_test

import (
	"context"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/interop"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

const numOutside = "442079460000" // an international number: routed upstream

// uplinkWorld is a switchboard whose uplink binds to node smpp's SMSC.
func uplinkWorld(t *testing.T) (*world, *interop.NodeSMSC) {
	t.Helper()
	smsc := interop.StartNodeSMSC(t, interop.NodeSMSCConfig{SystemID: "sbup", Password: "uppw", FirstMessageID: 5000})
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", smsc.Port
		c.Uplink.SystemID, c.Uplink.Password = "sbup", "uppw"
		c.Uplink.ReconnectMin.Duration = 50 * time.Millisecond
		c.Uplink.ReconnectMax.Duration = 200 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Uplink().WaitBound(ctx); err != nil {
		t.Fatalf("uplink did not bind to node smpp: %v", err)
	}
	return w, smsc
}

func waitNode(t *testing.T, smsc *interop.NodeSMSC, match func(interop.NodeEvent) bool) interop.NodeEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := smsc.WaitEvent(ctx, match)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// submitLocal puts an MT into the core as a local submission from our
// SMS-provisioned number.
func submitLocal(t *testing.T, w *world, dst, text string, srr bool) uint64 {
	t.Helper()
	parts, err := smstext.Encode(text, 1, smstext.Options{})
	if err != nil || len(parts) != 1 {
		t.Fatalf("encode: %v", err)
	}
	p := parts[0]
	r := &pms.Record{
		Kind: pms.KindSM, SrcClass: pms.ClassLocal,
		Src: pms.Address{TON: 1, NPI: 1, Digits: numLocal}, Dst: pms.Address{TON: 1, NPI: 1, Digits: dst},
		DCS: p.DCS, ESM: p.ESM, UDL: p.UDL, UD: p.UD,
	}
	r.State.SRR = srr
	idx, _, err := w.srv.Core().Submit(context.Background(), r, false)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestUplinkWithNodeSMPP(t *testing.T) {
	w, smsc := uplinkWorld(t)

	// MT: out through the uplink as submit_sm.
	submitLocal(t, w, numOutside, "to the world", false)
	ev := waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" })
	if ev.SourceAddr != numLocal || ev.DestinationAddr != numOutside || ev.Text != "to the world" || ev.DataCoding != 0 {
		t.Fatalf("submit_sm at the upstream: %s", ev.Line)
	}

	// With a report asked for, the upstream's acceptance is not delivery:
	// its receipt is, and that produces our own status report.
	idx := submitLocal(t, w, numOutside, "confirm please", true)
	ev = waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" && e.Text == "confirm please" })
	if ev.RegisteredDelivery != 1 || ev.MessageID == "" {
		t.Fatalf("submit_sm with a report asked for: %s", ev.Line)
	}
	if r := w.record(t, idx); r.State.Disposition != pms.Active {
		t.Fatalf("SM %v before the upstream's receipt", r.State.Disposition)
	}
	next := w.srv.Store().Stats().Next
	if err := smsc.SendReceipt(ev.MessageID, "UNDELIV"); err != nil {
		t.Fatal(err)
	}
	waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "deliver_sm_resp" && e.Status == 0 })
	if r := w.record(t, idx); r.State.Disposition != pms.Failed {
		t.Fatalf("after an UNDELIV receipt the SM is %v", r.State.Disposition)
	}
	if w.srv.Store().Stats().Next != next+1 {
		t.Fatal("no status report for the originator")
	}
	if rep := w.record(t, next); !rep.StatusReport || rep.Dst.Digits != numLocal {
		t.Fatalf("status report %+v", rep)
	}

	// MO: deliver_sm from the upstream to a local number is stored.
	before := w.srv.Store().Stats().Next
	if err := smsc.SendMO(numOutside, numLocal, "from the world"); err != nil {
		t.Fatal(err)
	}
	ev = waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "deliver_sm_resp" })
	if ev.Status != 0 {
		t.Fatalf("deliver_sm answered %s", ev.Line)
	}
	if next := w.srv.Store().Stats().Next; next != before+1 {
		t.Fatalf("%d records stored for one MO", next-before)
	}
	r := w.record(t, before)
	text, _, err := smstext.Decode(r.DCS, r.ESM, r.UDL, r.UD)
	if r.SrcClass != pms.ClassUpstream || r.Dst.Digits != numLocal || err != nil || text != "from the world" {
		t.Fatalf("MO stored as %v to %v: %q %v", r.SrcClass, r.Dst, text, err)
	}

	// An MO to a number that is not ours is refused (§1.2).
	if err := smsc.SendMO(numOutside, "13125550100", "not yours"); err != nil {
		t.Fatal(err)
	}
	ev = waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "deliver_sm_resp" })
	if ev.Status == 0 {
		t.Fatalf("MO to a foreign number accepted: %s", ev.Line)
	}
}

func TestUplinkThrottleAndReconnect(t *testing.T) {
	w, smsc := uplinkWorld(t)
	// The next two submits are throttled; the uplink waits and repeats.
	if err := smsc.Throttle(0x58, 2); err != nil {
		t.Fatal(err)
	}
	submitLocal(t, w, numOutside, "slow down", false)
	for range 2 {
		ev := waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" })
		if ev.Text != "slow down" || ev.Status == 0 {
			t.Fatalf("throttled submit: %s", ev.Line)
		}
	}
	ev := waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" })
	if ev.Text != "slow down" {
		t.Fatalf("submit after the throttle: %s", ev.Line)
	}

	// The link drops: the uplink binds again and traffic flows.
	if err := smsc.Disconnect(); err != nil {
		t.Fatal(err)
	}
	waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "bind" && e.Status == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Uplink().WaitBound(ctx); err != nil {
		t.Fatal(err)
	}
	submitLocal(t, w, numOutside, "after reconnect", false)
	waitNode(t, smsc, func(e interop.NodeEvent) bool {
		return e.Type == "submit_sm" && e.Text == "after reconnect" && e.Status == 0
	})
}
