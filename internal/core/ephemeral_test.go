package core

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// TestEphemeralDeliveredNeverStored: an ephemeral SM is routed and handed
// to the upstream like any other, its discharge goes to its callback, and
// no byte of it reaches the store.
func TestEphemeralDeliveredNeverStored(t *testing.T) {
	h := newHarness(t, Config{})
	f := newFake()
	h.register(f, RolePeer, "")
	done := make(chan pms.Disposition, 1)
	rec := sms(intl(numProv), intl("442079460000"), pms.ClassLocal, "table ready")
	idx, err := h.core.SubmitEphemeral(rec, func(d pms.Disposition) { done <- d })
	if err != nil {
		t.Fatal(err)
	}
	if idx < ephemeralBase {
		t.Fatalf("ephemeral index %d is in the store's range", idx)
	}
	if c := f.nextCall(t); c != "deliver "+strconv.FormatUint(idx, 10) {
		t.Fatalf("handler call %q", c)
	}
	select {
	case d := <-done:
		if d != pms.Delivered {
			t.Fatalf("disposition %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no discharge")
	}
	if n := h.store.Stats().Next; n != 0 {
		t.Fatalf("%d records stored for an ephemeral SM", n)
	}
	if _, err := h.core.Lookup(context.Background(), idx); !isStatus(err, coresock.StatusNotFound) {
		t.Fatalf("Lookup after discharge: %v", err)
	}
	// Identical ephemeral SMs are both sent: no duplicate suppression.
	if _, err := h.core.SubmitEphemeral(sms(intl(numProv), intl("442079460000"), pms.ClassLocal, "table ready"), nil); err != nil {
		t.Fatal(err)
	}
	f.nextCall(t)
	h.close()
	for _, name := range dirFiles(t, h.dir) {
		b, _ := os.ReadFile(name)
		if bytes.Contains(b, []byte("442079460000")) || bytes.Contains(b, []byte("table ready")) {
			t.Errorf("%s holds the ephemeral SM", name)
		}
	}
}

// TestEphemeralWaitsInRAMAndIsForgotten: with no uplink, an ephemeral SM
// waits in RAM; a restart forgets it.
func TestEphemeralWaitsInRAMAndIsForgotten(t *testing.T) {
	h := newHarness(t, Config{})
	idx, err := h.core.SubmitEphemeral(sms(intl(numProv), intl(numOutside), pms.ClassLocal, "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := h.core.Lookup(context.Background(), idx); err != nil || !info.Active {
		t.Fatalf("Lookup while waiting: %+v %v", info, err)
	}
	h.restart()
	if _, err := h.core.Lookup(context.Background(), idx); !isStatus(err, coresock.StatusNotFound) {
		t.Fatalf("Lookup after restart: %v", err)
	}
}

func TestEphemeralRefusals(t *testing.T) {
	h := newHarness(t, Config{})
	// Routed like any other: an unprovisioned source may not go upstream.
	_, err := h.core.SubmitEphemeral(sms(intl(numNoProv), intl(numOutside), pms.ClassLocal, "x"), nil)
	if !isStatus(err, coresock.StatusUpstreamNotPermitted) {
		t.Fatalf("unprovisioned source: %v", err)
	}
	// A store-only destination would have to be stored: refused.
	_, err = h.core.SubmitEphemeral(sms(intl(numProv), intl(numStore), pms.ClassLocal, "x"), nil)
	if !isStatus(err, coresock.StatusUnroutable) {
		t.Fatalf("store-only destination: %v", err)
	}
	if n := h.store.Stats().Next; n != 0 {
		t.Fatalf("%d records stored", n)
	}
}

func dirFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatal("no files in the data dir")
	}
	return out
}
