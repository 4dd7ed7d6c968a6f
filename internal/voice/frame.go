package voice

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"
)

// The `switchboard voice join` frame, carried in a user packet's data
// (docs/voice.md): the server never looks at it, the clients use it to
// measure loss, jitter and latency.
//
//	offset  size  field
//	0       8     uid (the user packet header)
//	8       4     "SBV1"
//	12      4     sequence number, from 0
//	16      8     send time, Unix nanoseconds
//	24      2     audio bytes that follow (320: 20 ms of 8 kHz mono s16le)
//	26      n     audio
const (
	FrameSamples  = 160 // 20 ms at 8 kHz
	FrameInterval = 20 * time.Millisecond
	frameMagic    = "SBV1"
	frameHeader   = 26
)

// ErrNotFrame means a user packet does not carry a switchboard frame.
var ErrNotFrame = errors.New("voice: not a switchboard frame")

// Frame is a decoded frame.
type Frame struct {
	UID  uint64
	Seq  uint32
	Sent int64 // Unix nanoseconds
	PCM  []byte
}

// PutFrame fills pkt (PacketSize bytes) with a user packet carrying a
// frame.
func PutFrame(pkt []byte, uid uint64, seq uint32, sent time.Time, pcm []int16) {
	clear(pkt[:PacketSize])
	binary.BigEndian.PutUint64(pkt, uid)
	copy(pkt[8:], frameMagic)
	binary.BigEndian.PutUint32(pkt[12:], seq)
	binary.BigEndian.PutUint64(pkt[16:], uint64(sent.UnixNano()))
	n := min(len(pcm)*2, PacketSize-frameHeader)
	binary.BigEndian.PutUint16(pkt[24:], uint16(n))
	for i := 0; i < n/2; i++ {
		binary.LittleEndian.PutUint16(pkt[frameHeader+2*i:], uint16(pcm[i]))
	}
}

// DecodeFrame reads a frame from a user packet.
func DecodeFrame(pkt []byte) (Frame, error) {
	if len(pkt) != PacketSize || string(pkt[8:12]) != frameMagic {
		return Frame{}, ErrNotFrame
	}
	n := int(binary.BigEndian.Uint16(pkt[24:]))
	if n > PacketSize-frameHeader {
		return Frame{}, ErrNotFrame
	}
	return Frame{
		UID:  binary.BigEndian.Uint64(pkt),
		Seq:  binary.BigEndian.Uint32(pkt[12:]),
		Sent: int64(binary.BigEndian.Uint64(pkt[16:])),
		PCM:  pkt[frameHeader : frameHeader+n],
	}, nil
}

// Source makes 20 ms of 8 kHz mono audio per call.
type Source interface {
	Next(pcm []int16)
}

// Tone is a sine wave source.
type Tone struct {
	Hz    float64
	phase float64
}

// Next fills pcm with the next samples of the tone.
func (t *Tone) Next(pcm []int16) {
	step := 2 * math.Pi * t.Hz / 8000
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(t.phase))
		t.phase += step
	}
	t.phase = math.Mod(t.phase, 2*math.Pi)
}

// WAV is a source that loops over a PCM WAV file, taking its first channel
// and resampling it to 8 kHz by picking the nearest sample.
type WAV struct {
	samples []int16
	rate    int
	pos     float64
}

// ErrWAV means a file is not a 16-bit PCM WAV file.
var ErrWAV = errors.New("voice: not a 16-bit PCM WAV file")

// ReadWAV reads a 16-bit PCM WAV file.
func ReadWAV(r io.Reader) (*WAV, error) {
	b, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, ErrWAV
	}
	var channels, rate, bits int
	var data []byte
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > len(body) {
			size = len(body)
		}
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(body) != 1 {
				return nil, ErrWAV
			}
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			data = body[:size]
		}
		p += 8 + size + size&1
	}
	if channels < 1 || rate < 1000 || bits != 16 || len(data) < 2*channels {
		return nil, ErrWAV
	}
	w := &WAV{rate: rate}
	for i := 0; i+2*channels <= len(data); i += 2 * channels {
		w.samples = append(w.samples, int16(binary.LittleEndian.Uint16(data[i:])))
	}
	return w, nil
}

// Next fills pcm with the next 8 kHz samples, wrapping at the end.
func (w *WAV) Next(pcm []int16) {
	step := float64(w.rate) / 8000
	for i := range pcm {
		idx := int(w.pos) % len(w.samples)
		pcm[i] = w.samples[idx]
		w.pos += step
		if w.pos >= float64(len(w.samples)) {
			w.pos -= float64(len(w.samples))
		}
	}
}

// SenderStats is what a receiver measured of one sender.
type SenderStats struct {
	UID      uint64
	Received uint64
	// Lost is the frames missing from the sequence seen so far
	// (highest - first + 1 - received, never negative); Late counts
	// frames that arrived after a later one.
	Lost, Late uint64
	// Jitter is the RFC 3550 interarrival jitter estimate.
	Jitter time.Duration
	// Latency is the mean one-way delay (send time to arrival; sender and
	// receiver share a clock only on one machine).
	Latency time.Duration

	first, highest uint32
	transit        int64
	jitter         float64
	latencySum     float64
}

// LossRatio is Lost over the frames expected.
func (s *SenderStats) LossRatio() float64 {
	if e := s.Received + s.Lost; e > 0 {
		return float64(s.Lost) / float64(e)
	}
	return 0
}

// Stats collects SenderStats per sender.
type Stats struct {
	Senders map[uint64]*SenderStats
}

// Add records a frame that arrived at arrival (Unix nanoseconds).
func (st *Stats) Add(f Frame, arrival int64) {
	if st.Senders == nil {
		st.Senders = map[uint64]*SenderStats{}
	}
	s := st.Senders[f.UID]
	transit := arrival - f.Sent
	if s == nil {
		s = &SenderStats{UID: f.UID, first: f.Seq, highest: f.Seq, transit: transit}
		st.Senders[f.UID] = s
	} else {
		d := float64(transit - s.transit)
		s.jitter += (math.Abs(d) - s.jitter) / 16
		s.transit = transit
		if f.Seq > s.highest {
			s.highest = f.Seq
		} else {
			s.Late++
		}
	}
	s.Received++
	s.latencySum += float64(transit)
	expected := uint64(s.highest-s.first) + 1
	s.Lost = 0
	if expected > s.Received {
		s.Lost = expected - s.Received
	}
	s.Jitter = time.Duration(s.jitter)
	s.Latency = time.Duration(s.latencySum / float64(s.Received))
}
