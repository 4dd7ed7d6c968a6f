package pager

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"switchboard/internal/mmsg"
)

// benchServer is a server whose datagram path is driven directly, with
// no socket: these benchmarks measure the decrypt-and-reject cost alone.
func benchServer(b *testing.B) *Server {
	s, err := New(Config{Secret: testSecret}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func garbage(n int, forged bool) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		l := MinDatagram + r.IntN(MaxDatagram-MinDatagram)
		if !forged {
			l = 1 + r.IntN(1400)
		}
		b := make([]byte, l)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if forged {
			// Right magic and a plausible length: only the AEAD can
			// tell, which is the most a junk datagram can cost.
			b[0] = MagicToServer
		}
		out[i] = b
	}
	return out
}

func benchReject(b *testing.B, forged bool) {
	s := benchServer(b)
	in := garbage(1024, forged)
	plain := make([]byte, MaxDatagram)
	replay := newReplayWindow(time.Minute, 1<<20)
	addr := netip.MustParseAddrPort("127.0.0.1:9")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.handle(in[i&1023], plain, addr, replay)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "datagrams/s")
}

// BenchmarkRejectGarbage: random datagrams of 1 to 1400 bytes.
func BenchmarkRejectGarbage(b *testing.B) { benchReject(b, false) }

// BenchmarkRejectForged: datagrams with the right magic and length and
// random contents, each paying for one XChaCha20-Poly1305 open.
func BenchmarkRejectForged(b *testing.B) { benchReject(b, true) }

// BenchmarkOpenValid: a genuine datagram opened (no replay check).
func BenchmarkOpenValid(b *testing.B) {
	k, _ := NewKeys(testSecret)
	pt, _ := (&Packet{Seq: 1, Options: OptSMS, Number: num1, Party: 3, Greeting: []byte("Your table is ready")}).Marshal(nil)
	h := Header{Magic: MagicToServer, Nonce: NewNonce()}
	d, _ := k.Seal(nil, &h, time.Now(), pt)
	buf := make([]byte, MaxDatagram)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := k.Open(buf, d, MagicToServer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPFlood sends forged datagrams through a real loopback socket
// to a serving server: the socket path, syscalls included, on one reader.
func BenchmarkUDPFlood(b *testing.B) {
	s := benchServer(b)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	conn.SetReadBuffer(8 << 20)
	done := make(chan error, 1)
	go func() { done <- s.Serve(conn) }()
	// Two senders, so that datagrams queue up as they do in a real
	// flood, where the senders are not on the server's machine.
	const senders = 2
	txs := make([]*net.UDPConn, senders)
	for i := range txs {
		tx, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Close()
		txs[i] = tx
	}
	in := garbage(1024, true)
	b.ResetTimer()
	var wg sync.WaitGroup
	for k, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < b.N; i += senders {
				tx.Write(in[i&1023])
			}
		}()
	}
	wg.Wait()
	// Counted: what the server took off the socket while we sent.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && int(counter(s)) < b.N {
		time.Sleep(time.Millisecond)
	}
	el := b.Elapsed()
	got := counter(s)
	b.ReportMetric(got/el.Seconds(), "rejected/s")
	b.ReportMetric(100*got/float64(b.N), "%handled")
	s.Shutdown()
	<-done
	conn.Close()
}

func counter(s *Server) float64 {
	var m = s.m.dropAuth
	return testutilValue(m)
}

func testutilValue(c interface{ Desc() *prometheus.Desc }) float64 {
	return testutil.ToFloat64(c.(prometheus.Collector))
}

// BenchmarkReceiveBacklog: the receive side alone. A backlog of 256
// forged datagrams is queued on the socket (untimed), then read and
// rejected (timed), with recvmmsg batches of 1 and of batchSize. It
// isolates what batching saves when a flood keeps the queue full, which
// the flood benchmark cannot show on a machine whose senders share the
// cores.
func BenchmarkReceiveBacklog(b *testing.B) {
	for _, n := range []int{1, batchSize} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := benchServer(b)
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			conn.SetReadBuffer(4 << 20)
			tx, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Close()
			br, err := mmsg.NewReader(conn, n, MaxDatagram+1, true)
			if err != nil {
				b.Fatal(err)
			}
			in := garbage(256, true)
			plain := make([]byte, MaxDatagram)
			replay := newReplayWindow(time.Minute, 1<<20)
			const backlog = 256
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for _, d := range in {
					tx.Write(d)
				}
				b.StartTimer()
				for got := 0; got < backlog; {
					k, err := br.Read()
					if err != nil {
						b.Fatal(err)
					}
					for i := range k {
						d, addr := br.Packet(i), br.Source(i)
						s.handle(d, plain, addr, replay)
					}
					got += k
				}
			}
			b.ReportMetric(float64(b.N*backlog)/b.Elapsed().Seconds(), "datagrams/s")
		})
	}
}
