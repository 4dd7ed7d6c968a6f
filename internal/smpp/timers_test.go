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

func pipeSession(t *testing.T, cfg smpp.SessionConfig) (*smpp.Session, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	s := smpp.NewSession(a, cfg, nil, nil, nil)
	ran := make(chan struct{})
	go func() { defer close(ran); s.Run() }()
	t.Cleanup(func() { s.Close(); <-ran; b.Close() })
	return s, b
}

// TestEnquireLinkKeepsAlive: an idle session sends enquire_link; a far end
// that answers keeps it open past the inactivity timeout, one that stops
// answering is closed with ErrInactive.
func TestEnquireLinkKeepsAlive(t *testing.T) {
	s, far := pipeSession(t, smpp.SessionConfig{EnquireLink: 50 * time.Millisecond, Inactivity: 300 * time.Millisecond, ResponseTimeout: time.Second})
	deadline := time.Now().Add(time.Second)
	probes := 0
	for time.Now().Before(deadline) {
		h := readPDU(t, far)
		if h.Command != pdu.EnquireLink {
			t.Fatalf("idle session sent %+v", h)
		}
		probes++
		far.Write(header(16, uint32(pdu.EnquireLinkResp), 0, h.Sequence))
	}
	if probes < 3 {
		t.Fatalf("%d enquire_link in a second at a 50 ms interval", probes)
	}
	select {
	case <-s.Done():
		t.Fatalf("session closed although the far end answered: %v", s.Err())
	default:
	}
	// Now the far end goes silent (it still reads, so writes do not block).
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := far.Read(buf); err != nil {
				return
			}
		}
	}()
	select {
	case <-s.Done():
		if !errors.Is(s.Err(), smpp.ErrInactive) && !errors.Is(s.Err(), smpp.ErrTimeout) {
			t.Fatalf("closed with %v", s.Err())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("silent far end not detected")
	}
}

// TestResponseTimeout: a request nobody answers fails with ErrTimeout and
// frees its window slot.
func TestResponseTimeout(t *testing.T) {
	s, far := pipeSession(t, smpp.SessionConfig{Window: 1, ResponseTimeout: 100 * time.Millisecond, EnquireLink: time.Hour})
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := far.Read(buf); err != nil {
				return
			}
		}
	}()
	for range 2 { // the second call needs the slot the first one held
		start := time.Now()
		_, err := s.Call(context.Background(), &pdu.EnquireLinkBody{})
		if !errors.Is(err, smpp.ErrTimeout) {
			t.Fatalf("unanswered call: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("timeout after %v", d)
		}
	}
}
