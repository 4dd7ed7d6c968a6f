package sipcall

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/pion/rtp"
)

// BenchmarkEncodeChime: companding the built-in chime in both laws, the
// one-time cost of New.
func BenchmarkEncodeChime(b *testing.B) {
	chime := defaultAnnouncement()
	b.SetBytes(int64(2 * len(chime)))
	for b.Loop() {
		encode(chime)
	}
}

// BenchmarkDecodeWAV10s: reading a 10 s 16-bit PCM announcement.
func BenchmarkDecodeWAV10s(b *testing.B) {
	samples := make([]int16, 10*sampleRate)
	for i := range samples {
		samples[i] = int16(rand.IntN(65536) - 32768)
	}
	wav := wavFile(wavFormatPCM, 1, 8000, 16, pcm16(samples...))
	b.SetBytes(int64(len(wav)))
	for b.Loop() {
		if _, err := decodeWAV(wav); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSDPAnswer: a typical answer (sipp's).
func BenchmarkParseSDPAnswer(b *testing.B) {
	answer := []byte("v=0\r\no=sipp 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 48624 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	for b.Loop() {
		if _, err := parseSDPAnswer(answer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRTPFrameSend: what the announcement loop does per 20 ms frame
// of a call (header fields, marshal, one UDP send on loopback). A call
// sends 50 of these a second, so 1 s / (50 × ns/op) is how many calls one
// core could keep fed.
func BenchmarkRTPFrameSend(b *testing.B) {
	dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := dst.Read(buf); err != nil {
				return
			}
		}
	}()
	src, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	audio := encode(defaultAnnouncement())
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}}
	buf := make([]byte, 12+frameSamples)
	i := 0
	for b.Loop() {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i * frameSamples)
		pkt.Marker = i == 0
		pkt.Payload = audio.frame(codecPCMU, i%audio.frames())
		n, err := pkt.MarshalTo(buf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := src.WriteToUDPAddrPort(buf[:n], to); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
