package smpp_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"switchboard/internal/smpp"
	"switchboard/internal/smpp/pdu"
)

// outcome is what a Go callback was given.
type outcome struct {
	resp pdu.PDU
	err  error
}

// next waits for a callback's outcome, failing the test if none comes.
func next(t *testing.T, got <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-got:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no callback")
	}
	return outcome{}
}

// TestGoSettlesOnce: a Go call's callback gets the response, holds a window
// slot until then (TryGo reports the window full), and gives the slot back
// when it is settled.
func TestGoSettlesOnce(t *testing.T) {
	s, far := pipeSession(t, smpp.SessionConfig{Window: 1, ResponseTimeout: 5 * time.Second, EnquireLink: time.Hour})
	got := make(chan outcome, 4)
	cb := func(p pdu.PDU, err error) { got <- outcome{p, err} }
	for i := range 3 {
		if err := s.Go(context.Background(), &pdu.EnquireLinkBody{}, cb); err != nil {
			t.Fatalf("Go %d: %v", i, err)
		}
		h := readPDU(t, far)
		if h.Command != pdu.EnquireLink {
			t.Fatalf("sent %v", h.Command)
		}
		if err := s.TryGo(&pdu.EnquireLinkBody{}, cb); !errors.Is(err, smpp.ErrWindowFull) {
			t.Fatalf("TryGo with the only slot taken: %v", err)
		}
		far.Write(header(16, uint32(pdu.EnquireLinkResp), uint32(pdu.StatusSysErr), h.Sequence))
		o := next(t, got)
		if o.err != nil || o.resp.Header.Command != pdu.EnquireLinkResp || o.resp.Header.Status != pdu.StatusSysErr || o.resp.Header.Sequence != h.Sequence {
			t.Fatalf("callback got %+v, %v", o.resp.Header, o.err)
		}
	}
	// A response that matches no call settles nothing: while a call holds
	// the only slot, a stray response leaves it held and runs no callback.
	if err := s.TryGo(&pdu.EnquireLinkBody{}, cb); err != nil {
		t.Fatalf("TryGo with the slot free: %v", err)
	}
	h := readPDU(t, far)
	far.Write(header(16, uint32(pdu.EnquireLinkResp), 0, h.Sequence+1000))
	// A round trip on the session's own answer path orders this after the
	// stray response has been read.
	far.Write(header(16, uint32(pdu.EnquireLink), 0, 77))
	if eh := readPDU(t, far); eh.Command != pdu.EnquireLinkResp || eh.Sequence != 77 {
		t.Fatalf("enquire_link answered with %+v", eh)
	}
	if err := s.TryGo(&pdu.EnquireLinkBody{}, cb); !errors.Is(err, smpp.ErrWindowFull) {
		t.Fatalf("TryGo after a stray response: %v (the stray settled the call)", err)
	}
	far.Write(header(16, uint32(pdu.EnquireLinkResp), 0, h.Sequence))
	if o := next(t, got); o.err != nil || o.resp.Header.Sequence != h.Sequence {
		t.Fatalf("TryGo callback got %+v, %v", o.resp.Header, o.err)
	}
	select {
	case o := <-got:
		t.Fatalf("a callback ran twice or for nothing: %+v", o)
	default:
	}
}

// TestGoTimeoutAndClose: an unanswered Go call is settled with ErrTimeout
// and frees its slot; calls outstanding when the session closes are
// settled with ErrClosed; Go on a closed session fails without a callback.
func TestGoTimeoutAndClose(t *testing.T) {
	drain := func(far net.Conn) {
		go func() {
			buf := make([]byte, 1024)
			for {
				if _, err := far.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	s, far := pipeSession(t, smpp.SessionConfig{Window: 2, ResponseTimeout: 100 * time.Millisecond, EnquireLink: time.Hour})
	drain(far)
	got := make(chan outcome, 4)
	cb := func(p pdu.PDU, err error) { got <- outcome{p, err} }
	for range 2 {
		if err := s.Go(context.Background(), &pdu.EnquireLinkBody{}, cb); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if o := next(t, got); !errors.Is(o.err, smpp.ErrTimeout) {
			t.Fatalf("unanswered call settled with %v", o.err)
		}
	}
	// Both slots are free again.
	for range 2 {
		if err := s.TryGo(&pdu.EnquireLinkBody{}, cb); err != nil {
			t.Fatalf("slot not given back: %v", err)
		}
	}
	for range 2 {
		next(t, got) // they time out too
	}
	// On a session whose timeout cannot interfere, calls outstanding at
	// Close are settled with ErrClosed.
	s, far = pipeSession(t, smpp.SessionConfig{Window: 2, ResponseTimeout: time.Hour, EnquireLink: time.Hour})
	drain(far)
	for range 2 {
		if err := s.TryGo(&pdu.EnquireLinkBody{}, cb); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for range 2 {
		if o := next(t, got); !errors.Is(o.err, smpp.ErrClosed) {
			t.Fatalf("call outstanding at close settled with %v", o.err)
		}
	}
	if err := s.Go(context.Background(), &pdu.EnquireLinkBody{}, cb); !errors.Is(err, smpp.ErrClosed) {
		t.Fatalf("Go on a closed session: %v", err)
	}
	select {
	case o := <-got:
		t.Fatalf("callback after a refused Go: %+v", o)
	default:
	}
}

// TestGoCallbackMayClose: a callback settled by the session's end may
// close the session itself (it is not run inside the close).
func TestGoCallbackMayClose(t *testing.T) {
	s, far := pipeSession(t, smpp.SessionConfig{ResponseTimeout: 5 * time.Second, EnquireLink: time.Hour})
	got := make(chan error, 1)
	if err := s.Go(context.Background(), &pdu.EnquireLinkBody{}, func(_ pdu.PDU, err error) {
		s.Close()
		got <- err
	}); err != nil {
		t.Fatal(err)
	}
	readPDU(t, far)
	far.Close() // the reader's end closes the session
	select {
	case err := <-got:
		if !errors.Is(err, smpp.ErrClosed) {
			t.Fatalf("settled with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("callback that closes its session never returned")
	}
}
