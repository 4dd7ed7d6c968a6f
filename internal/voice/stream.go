package voice

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// StreamConfig configures Stream, the client side of a channel.
type StreamConfig struct {
	// Host and Port are the channel socket (JOIN's answer).
	Host string
	Port int
	UID  uint64
	Chid uint64
	// Source makes the audio sent every 20 ms; nil only listens (and
	// sends a KEEPALIVE every KeepaliveEvery).
	Source         Source
	KeepaliveEvery time.Duration
	// PublicKey, if set, checks the signature of the server's system
	// packets; those that fail are counted and ignored.
	PublicKey ed25519.PublicKey
	// Events gets a line per system packet from the server (JOIN, LEAVE);
	// nil discards them.
	Events io.Writer
}

// StreamReport is what Stream measured.
type StreamReport struct {
	Sent    uint64
	Stats   Stats
	Acked   bool
	BadSigs uint64
	Other   uint64 // user packets that carried no switchboard frame
}

// ErrNoAck means the server did not answer the first KEEPALIVE.
var ErrNoAck = errors.New("voice: the channel did not acknowledge the first keepalive")

// Stream binds the member's address with a KEEPALIVE (asking for an ACK,
// and retrying), then sends a frame every 20 ms and receives everyone
// else's until ctx ends.
func Stream(ctx context.Context, cfg StreamConfig) (*StreamReport, error) {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var d net.Dialer
	nc, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("voice channel %s: %w", addr, err)
	}
	conn := nc.(*net.UDPConn)
	defer conn.Close()
	if cfg.KeepaliveEvery <= 0 {
		cfg.KeepaliveEvery = 20 * time.Second
	}
	rep := &StreamReport{}
	// rep needs no lock: the receiver writes only BadSigs, Other and
	// Stats, the sender only Sent and Acked, and rep is returned only
	// after stop has waited for the receiver.
	acked := make(chan struct{})
	var ackOnce sync.Once
	const ackID = 1

	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		buf := make([]byte, PacketSize+1)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return
				}
				continue // ICMP port unreachable while the server restarts
			}
			now := time.Now().UnixNano()
			if n != PacketSize {
				continue
			}
			p, err := DecodePacket(buf[:n])
			if err != nil {
				continue
			}
			if p.System {
				if cfg.PublicKey != nil {
					// A good signature is not enough: it must be for this
					// channel and recent, or a packet signed for another
					// channel, or long ago, could be replayed here.
					sp, err := VerifySigned(cfg.PublicKey, buf[:n])
					if err == nil && (sp.Chid != cfg.Chid || time.Since(time.UnixMilli(int64(sp.UnixMilli))).Abs() > signedMaxAge) {
						err = errors.New("signed for another channel or time")
					}
					if err != nil {
						rep.BadSigs++
						continue
					}
				}
				switch p.Op {
				case OpAck:
					if p.Ack == ackID && p.UID == cfg.UID {
						ackOnce.Do(func() { close(acked) })
					}
				case OpJoin, OpLeave:
					if cfg.Events != nil {
						what := "joined"
						if p.Op == OpLeave {
							what = "left"
						}
						fmt.Fprintf(cfg.Events, "uid %d %s channel %d\n", p.UID, what, cfg.Chid)
					}
				}
				continue
			}
			f, err := DecodeFrame(buf[:n])
			if err != nil {
				rep.Other++
			} else {
				rep.Stats.Add(f, now)
			}
		}
	}()
	stop := func() {
		_ = conn.SetReadDeadline(time.Now())
		<-recvDone
	}

	var pkt [PacketSize]byte
	PutSystem(pkt[:], OpKeepalive, cfg.UID, ackID)
	for try := 0; ; try++ {
		if _, err := conn.Write(pkt[:]); err != nil && try == 0 {
			stop()
			return nil, fmt.Errorf("voice channel %s: %w", addr, err)
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-acked:
			t.Stop()
			rep.Acked = true
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			stop()
			return rep, nil
		}
		if rep.Acked {
			break
		}
		if try == 5 {
			stop()
			return rep, ErrNoAck
		}
	}

	tick := time.NewTicker(FrameInterval)
	defer tick.Stop()
	pcm := make([]int16, FrameSamples)
	lastKeepalive := time.Now()
	var seq uint32
	for {
		select {
		case <-ctx.Done():
			stop()
			return rep, nil
		case now := <-tick.C:
			if cfg.Source != nil {
				cfg.Source.Next(pcm)
				PutFrame(pkt[:], cfg.UID, seq, time.Now(), pcm)
				if _, err := conn.Write(pkt[:]); err == nil {
					seq++
					rep.Sent++
				}
			} else if now.Sub(lastKeepalive) >= cfg.KeepaliveEvery {
				PutSystem(pkt[:], OpKeepalive, cfg.UID, 0)
				_, _ = conn.Write(pkt[:])
				lastKeepalive = now
			}
		}
	}
}

// signedMaxAge is how far a signed system packet's time may be from the
// client's clock.
const signedMaxAge = 2 * time.Minute
