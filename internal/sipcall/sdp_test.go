package sipcall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// The offer of docs/sipcall.md, byte for byte.
func TestSDPOfferDocVector(t *testing.T) {
	got := string(sdpOffer(netip.MustParseAddr("192.0.2.10"), 40000, 42))
	want := "v=0\r\n" +
		"o=switchboard 42 42 IN IP4 192.0.2.10\r\n" +
		"s=switchboard\r\n" +
		"c=IN IP4 192.0.2.10\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 8\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n"
	if got != want {
		t.Fatalf("offer:\n%s\nwant:\n%s", got, want)
	}
	if v6 := string(sdpOffer(netip.MustParseAddr("2001:db8::1"), 4000, 1)); !strings.Contains(v6, "c=IN IP6 2001:db8::1\r\n") {
		t.Fatalf("IPv6 offer:\n%s", v6)
	}
	// Our own offer parses as an answer choosing PCMU.
	m, err := parseSDPAnswer([]byte(want))
	if err != nil || m.Codec != codecPCMU || m.Addr != netip.MustParseAddrPort("192.0.2.10:40000") {
		t.Fatalf("offer as answer: %+v, %v", m, err)
	}
}

func TestParseSDPAnswer(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\n"
	for _, tc := range []struct {
		name, sdp string
		want      media
	}{
		{"pcmu", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			media{netip.MustParseAddrPort("198.51.100.7:30000"), codecPCMU, 0}},
		{"pcma first", head + "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0\r\n",
			media{netip.MustParseAddrPort("198.51.100.7:30000"), codecPCMA, 8}},
		{"media-level c= wins, LF only", "v=0\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\nc=IN IP4 203.0.113.5\n",
			media{netip.MustParseAddrPort("203.0.113.5:5004"), codecPCMU, 0}},
		{"skips rejected and video streams", head + "c=IN IP4 198.51.100.7\r\nm=video 0 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\nm=audio 6000 RTP/AVP 0\r\n",
			media{netip.MustParseAddrPort("198.51.100.7:6000"), codecPCMU, 0}},
		{"dynamic PCMU", head + "c=IN IP4 198.51.100.7\r\nm=audio 7000 RTP/AVP 96\r\na=rtpmap:96 pcmu/8000\r\n",
			media{netip.MustParseAddrPort("198.51.100.7:7000"), codecPCMU, 96}},
		{"IPv6", "v=0\r\nc=IN IP6 2001:db8::9\r\nm=audio 7000 RTP/AVP 8\r\n",
			media{netip.MustParseAddrPort("[2001:db8::9]:7000"), codecPCMA, 8}},
		{"ttl suffix", "v=0\r\nc=IN IP4 198.51.100.7/127\r\nm=audio 7000 RTP/AVP 8\r\n",
			media{netip.MustParseAddrPort("198.51.100.7:7000"), codecPCMA, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSDPAnswer([]byte(tc.sdp))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSDPAnswerRejects(t *testing.T) {
	for _, tc := range []struct{ name, sdp, want string }{
		{"empty", "", "no audio stream"},
		{"only video", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n", "no audio stream"},
		{"port zero", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n", "no audio stream"},
		{"no address", "v=0\r\nm=audio 5000 RTP/AVP 0\r\n", "no connection address"},
		{"hold", "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5000 RTP/AVP 0\r\n", "on hold"},
		{"hostname", "v=0\r\nc=IN IP4 media.example\r\nm=audio 5000 RTP/AVP 0\r\n", "not a numeric address"},
		{"family mismatch", "v=0\r\nc=IN IP4 2001:db8::1\r\nm=audio 5000 RTP/AVP 0\r\n", "is not IP4"},
		{"bad c=", "v=0\r\nc=IN\r\nm=audio 5000 RTP/AVP 0\r\n", "connection line"},
		{"only G.729", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 18\r\n", "no PCMU or PCMA"},
		{"PCMU remapped to 16 kHz", "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/16000\r\n", "no PCMU or PCMA"},
		{"huge", "v=0\r\n" + strings.Repeat("a=x\r\n", maxSDP/5+1), "bytes, at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSDPAnswer([]byte(tc.sdp))
			if !errors.Is(err, ErrBadSDP) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrBadSDP with %q", err, tc.want)
			}
		})
	}
}

// FuzzParseSDPAnswer: no input panics; an accepted answer has a usable
// address and a codec matching its payload type rules.
func FuzzParseSDPAnswer(f *testing.F) {
	f.Add([]byte(sdpOffer(netip.MustParseAddr("127.0.0.1"), 4000, 1)))
	f.Add([]byte("v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 96 8\na=rtpmap:96 PCMU/8000\n"))
	f.Add([]byte("v=0\r\nc=IN IP6 ::1\r\nm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 8\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseSDPAnswer(b)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error %v does not wrap ErrBadSDP", err)
			}
			return
		}
		if !m.Addr.IsValid() || m.Addr.Port() == 0 || m.Addr.Addr().IsUnspecified() {
			t.Fatalf("unusable address %v", m.Addr)
		}
		if m.Codec != codecPCMU && m.Codec != codecPCMA || m.PayloadType > 127 {
			t.Fatalf("codec %v payload type %d", m.Codec, m.PayloadType)
		}
	})
}
