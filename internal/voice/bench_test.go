package voice

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// discardConn is a batchConn whose sends vanish, to measure the relay's
// own work per packet without the kernel's. It counts datagrams, not
// messages: a GSO message of k segments is k forwards.
type discardConn struct{ sent int }

func (d *discardConn) ReadBatch([]ipv4.Message, int) (int, error) { return 0, nil }
func (d *discardConn) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	for i := range ms {
		d.sent += len(ms[i].Buffers)
	}
	return len(ms), nil
}

// BenchmarkRelayBatch is the user-space cost of relaying: one batch of 64
// user packets from members of a 10-member channel, forwarded to the 9
// others, per iteration, with the forwards coalesced per destination for
// GSO (gso=true) or one message each (gso=false). The kernel's sendmmsg
// cost comes on top (see docs/benchmarks.md).
func BenchmarkRelayBatch(b *testing.B) {
	for _, gso := range []bool{true, false} {
		b.Run(fmt.Sprintf("gso=%v", gso), func(b *testing.B) {
			h := &Hub{cfg: testHubConfig()}
			ch := &channel{hub: h, id: 1, gso: gso}
			ch.members.Store(emptySet)
			const members = 10
			var in []ipv4.Message
			for i := range members {
				uid := uint64(1000 + i)
				ch.addLocked(uid, time.Now())
				ua := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + i}
				m := ch.members.Load().byUID[uid]
				ap := ua.AddrPort()
				m.addr.Store(&bound{ap: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ua: ua})
			}
			for i := range 64 {
				uid := uint64(1000 + i%members)
				pkt := make([]byte, PacketSize+1)
				PutUser(pkt, uid, []byte("audio"))
				in = append(in, ipv4.Message{Buffers: [][]byte{pkt}, N: PacketSize,
					Addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 20000 + i%members}})
			}
			dc := &discardConn{}
			ch.bc = dc
			r := &relay{ch: ch, gso: gso}
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.batch(in, now)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(dc.sent), "ns/forward")
		})
	}
}

// BenchmarkMemory reports the heap a channel and a member take: it makes
// 200 channels of 10 members each (sockets included, no traffic). Run it
// with -benchtime 1x: one iteration is the measurement.
func BenchmarkMemory(b *testing.B) {
	for range b.N {
		cfg := testHubConfig()
		cfg.MaxChannels, cfg.MaxMembers, cfg.MaxUsers = 1000, 100, 100000
		cfg.Batch = 64 // the default
		users := map[uint64]Perm{1: PermAdmin}
		for i := range 2000 {
			users[uint64(10+i)] = PermNone
		}
		h, err := NewHub(cfg, users)
		if err != nil {
			b.Fatal(err)
		}
		heap := func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		h0 := heap()
		var chids []uint64
		for range 200 {
			chid, _ := h.Create(1)
			chids = append(chids, chid)
		}
		// Let every relay goroutine allocate its buffers.
		time.Sleep(100 * time.Millisecond)
		h1 := heap()
		u := uint64(10)
		for _, chid := range chids {
			for range 10 {
				h.Join(u, u, chid)
				u++
			}
		}
		h2 := heap()
		b.ReportMetric(float64(h1-h0)/200, "B/channel")
		b.ReportMetric(float64(h2-h1)/2000, "B/member")
		h.Close()
	}
}
