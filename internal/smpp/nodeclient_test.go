package smpp_test

import (
	"net"
	"strconv"
	"testing"

	"switchboard/internal/interop"
)

// TestNodeSMPPClient: node smpp, a second client implementation, sees the
// bind rules: a submit before bind is ESME_RINVBNDSTS, a wrong password
// ESME_RBINDFAIL, and with the right one a submit is accepted.
func TestNodeSMPPClient(t *testing.T) {
	w := startWorld(t, nil)
	_, port, _ := net.SplitHostPort(w.addr)
	p, _ := strconv.Atoi(port)
	run := func(actions ...interop.NodeAction) []interop.NodeEvent {
		t.Helper()
		evs, err := interop.RunNodeClient(t, interop.NodeClientConfig{Port: p, Actions: actions})
		if err != nil {
			t.Fatalf("node client: %v", err)
		}
		return evs
	}
	resp := func(evs []interop.NodeEvent, typ string) []interop.NodeEvent {
		var out []interop.NodeEvent
		for _, e := range evs {
			if e.Type == typ {
				out = append(out, e)
			}
		}
		return out
	}

	evs := run(interop.SubmitAction(numPA, numLocal, "early"))
	if r := resp(evs, "submit_sm_resp"); len(r) != 1 || r[0].Status != 0x04 {
		t.Fatalf("submit before bind: %v", r)
	}
	evs = run(interop.BindAction("transceiver", "pa", "wrong"))
	if r := resp(evs, "bind_transceiver_resp"); len(r) != 1 || r[0].Status != 0x0D {
		t.Fatalf("wrong password: %v", r)
	}
	evs = run(interop.BindAction("transmitter", "pa", "secret"), interop.SubmitAction(numPA, numLocal, "hello from node"), interop.UnbindAction())
	if r := resp(evs, "bind_transmitter_resp"); len(r) != 1 || r[0].Status != 0 {
		t.Fatalf("bind: %v", r)
	}
	r := resp(evs, "submit_sm_resp")
	if len(r) != 1 || r[0].Status != 0 || r[0].MessageID == "" {
		t.Fatalf("submit after bind: %v", r)
	}
	idx, _ := strconv.ParseUint(r[0].MessageID, 10, 64)
	if rec := w.record(t, idx); rec.Src.Digits != numPA || rec.SrcPeer != "pa" {
		t.Fatalf("stored %+v", rec)
	}
	if u := resp(evs, "unbind_resp"); len(u) != 1 || u[0].Status != 0 {
		t.Fatalf("unbind: %v", u)
	}
}
