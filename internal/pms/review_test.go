package pms

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"switchboard/internal/datadir"
)

// TestReviewTornStateLosesDestinationPeer: recovery resets a record whose
// state CRC is bad to State{}, which also wipes the destination peer of a
// downstream SM (kept only in the trailer). The core then queues it under
// DstPeer "" — the upstream's queue — and hands a downstream peer's SM to
// the uplink.
func TestReviewTornStateLosesDestinationPeer(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{}, nil)
	r := testRecord(1, Active)
	r.DstClass = ClassDownstream
	r.State.DstPeer = "pa"
	r.State.SRR = true
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Tear the trailer: one byte of the discharge time (covered by the
	// state CRC, not by the body CRC).
	f, err := os.OpenFile(filepath.Join(dir, datadir.PMSFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0x7f}, 230); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var got []Record
	s = openStore(t, dir, Options{}, func(r *Record) error { got = append(got, *r); return nil })
	defer s.Close()
	if len(got) != 1 {
		t.Fatalf("%d active records recovered", len(got))
	}
	if got[0].DstClass == ClassDownstream && got[0].State.DstPeer != "pa" {
		t.Fatalf("downstream SM recovered with DstPeer %q: it would be queued for the upstream", got[0].State.DstPeer)
	}
}
