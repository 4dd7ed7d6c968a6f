package smpp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"switchboard/internal/smpp/pdu"
)

// TestUnknownCommandsShareALabel: command ids a far end makes up are
// counted under one label, so they cannot grow a series each.
func TestUnknownCommandsShareALabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for id := range 100 {
		m.pduIn(pdu.CommandID(0x00000777 + id))
	}
	m.pduIn(pdu.SubmitSM)
	if got := testutil.ToFloat64(m.pdusIn.Vec().WithLabelValues("other")); got != 100 {
		t.Fatalf("other = %v, want 100", got)
	}
	if got := testutil.ToFloat64(m.pdusIn.Vec().WithLabelValues("submit_sm")); got != 1 {
		t.Fatalf("submit_sm = %v", got)
	}
	if n := testutil.CollectAndCount(m.pdusIn.Vec()); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
}
