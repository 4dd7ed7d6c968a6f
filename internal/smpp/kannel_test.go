package smpp_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/internal/interop"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

// kannelWorld is a switchboard with Kannel (bearerbox + smsbox) bound to it
// as the downstream peer "pa".
func kannelWorld(t *testing.T) (*world, *interop.Kannel) {
	t.Helper()
	interop.Require(t, "bearerbox")
	interop.Require(t, "smsbox")
	w := startWorld(t, nil)
	_, port, _ := net.SplitHostPort(w.addr)
	p, _ := strconv.Atoi(port)
	k := interop.StartKannel(t, interop.KannelConfig{SMSCPort: p, SystemID: "pa", Password: "secret"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := k.WaitOnline(ctx); err != nil {
		t.Fatalf("Kannel did not bind: %v", err)
	}
	return w, k
}

// storedFrom waits until n records from src are in the store, after index
// from, and returns them.
func (w *world) storedFrom(t *testing.T, from uint64, src string, n int) []pms.Record {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out []pms.Record
		for i := from; i < w.srv.Store().Stats().Next; i++ {
			r := w.record(t, i)
			if r.Src.Digits == src && !r.StatusReport {
				out = append(out, r)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d SMs from %s stored", len(out), n, src)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitDLR(t *testing.T, k *interop.Kannel, id string, typ int) interop.KannelDLR {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case d := <-k.DLR():
			if d.ID == id && d.Type == typ {
				return d
			}
			if d.ID == id && (d.Type == 2 || d.Type == 16) {
				t.Fatalf("DLR for %s: type %d %q", id, d.Type, d.Answer)
			}
		case <-timeout:
			t.Fatalf("no DLR type %d for %s", typ, id)
			return interop.KannelDLR{}
		}
	}
}

func TestKannelMTAndDLR(t *testing.T) {
	w, k := kannelWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	long := strings.Repeat("0123456789", 20)
	cases := []struct {
		id, from, text string
		coding, parts  int
	}{
		{"plain", "17605550001", "hello from kannel", 0, 1},
		{"long", "17605550002", long, 0, 2},
		{"ucs2", "17605550003", "Привет, мир", 2, 1},
	}
	for _, c := range cases {
		before := w.srv.Store().Stats().Next
		if _, err := k.SendSMS(ctx, interop.KannelMT{From: c.from, To: numLocal, Text: c.text, Coding: c.coding, DLR: true, ID: c.id}); err != nil {
			t.Fatalf("%s: sendsms: %v", c.id, err)
		}
		recs := w.storedFrom(t, before, c.from, c.parts)
		// Kannel pipelines the parts and they are admitted concurrently:
		// the store's order is not the parts' order.
		slices.SortFunc(recs, func(a, b pms.Record) int { return int(a.ConcatSeq) - int(b.ConcatSeq) })
		parts := make([]smstext.Part, len(recs))
		for i, r := range recs {
			if r.SrcClass != pms.ClassDownstream || r.SrcPeer != "pa" || r.Dst.Digits != numLocal {
				t.Fatalf("%s: stored as %v/%q to %v", c.id, r.SrcClass, r.SrcPeer, r.Dst)
			}
			parts[i] = smstext.Part{DCS: r.DCS, ESM: r.ESM, UDL: r.UDL, UD: r.UD, Ref: r.ConcatRef, Total: r.ConcatTotal, Seq: r.ConcatSeq}
		}
		got, err := smstext.Reassemble(parts)
		if err != nil || got != c.text {
			t.Fatalf("%s: stored text %q (%v), sent %q", c.id, got, err, c.text)
		}
		if c.coding == 2 && recs[0].DCS != smstext.DCSUCS2 {
			t.Fatalf("%s: DCS %#x", c.id, recs[0].DCS)
		}
		// Storing to a store-only number is delivery: Kannel's dlr-url
		// fires "delivered" (type 1), matched by the id we gave it.
		d := waitDLR(t, k, c.id, 1)
		if !strings.Contains(d.Answer, "stat:DELIVRD") {
			t.Fatalf("%s: DLR answer %q", c.id, d.Answer)
		}
	}
}

func TestKannelMO(t *testing.T) {
	w, k := kannelWorld(t)
	// An SM to a number in Kannel's pool goes out as deliver_sm and
	// reaches the get-url.
	submitLocal(t, w, "17605550009", "hello kannel", false)
	select {
	case mo := <-k.MO():
		if mo.Text != "hello kannel" || !strings.HasSuffix(mo.From, numLocal) || !strings.HasSuffix(mo.To, "17605550009") {
			t.Fatalf("MO at get-url: %+v", mo)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no MO reached Kannel's get-url")
	}
}
