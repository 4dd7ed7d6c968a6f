package smpp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/internal/core"
	"switchboard/internal/pms"
	"switchboard/internal/smpp/pdu"
)

// nullCore admits everything at once and stores nothing: it isolates the
// SMPP layer's own cost.
type nullCore struct{ n atomic.Uint64 }

func (c *nullCore) Submit(ctx context.Context, rec *pms.Record, imsi bool) (uint64, bool, error) {
	return c.n.Add(1), false, nil
}
func (c *nullCore) SubmitAsync(rec *pms.Record, imsi bool, done func(uint64, bool, error)) {
	done(c.n.Add(1), false, nil)
}
func (c *nullCore) Cancel(context.Context, core.Selector) error { return nil }
func (c *nullCore) Replace(context.Context, uint64, core.ReplaceChange) (uint64, error) {
	return 0, errors.New("null core keeps nothing")
}
func (c *nullCore) PeerReceipt(context.Context, string, string, pms.Disposition) error {
	return errors.New("null core keeps nothing")
}
func (c *nullCore) Lookup(context.Context, uint64) (core.SMInfo, error) {
	return core.SMInfo{}, errors.New("null core keeps nothing")
}
func (c *nullCore) Register(core.Handler, core.Role, string) (*core.Registration, error) {
	return nil, nil
}
func (c *nullCore) SetServiceState(*core.Registration, bool) {}
func (c *nullCore) Unregister(*core.Registration)            {}

// BenchmarkServerSubmitNullCore: submit_sm through the server and session
// layers over loopback, 4 sessions × window 100, against a core that
// stores nothing. One op is one submit_sm answered.
func BenchmarkServerSubmitNullCore(b *testing.B) {
	srv := NewServer(ServerConfig{}, &nullCore{}, func(string, string, netip.Addr) (string, error) { return "pa", nil }, nil, NewMetrics(nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	var sessions []*Session
	for range 4 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s := NewSession(conn, SessionConfig{Window: 100}, nil, nil, nil)
		go s.Run()
		defer s.Close()
		if r, err := s.Call(context.Background(), &Bind{Cmd: pdu.BindTransmitter, SystemID: "pa", Password: "x"}); err != nil || r.Header.Status != 0 {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	sm := &pdu.SM{Cmd: pdu.SubmitSM, Source: pdu.Address{TON: 1, NPI: 1, Addr: "17605550001"},
		Dest: pdu.Address{TON: 1, NPI: 1, Addr: "16195550100"}, ShortMessage: []byte("benchmark message of forty characters..")}
	var next atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	for _, s := range sessions {
		for range 100 {
			go func() {
				for next.Add(1) <= int64(b.N) {
					if _, err := s.Call(context.Background(), sm); err != nil {
						b.Error(err)
						return
					}
				}
				done <- struct{}{}
			}()
		}
	}
	for range 400 {
		<-done
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

// Bind is the pdu type, re-exported for the benchmark's brevity.
type Bind = pdu.Bind
