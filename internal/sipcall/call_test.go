package sipcall

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"switchboard/internal/interop"
)

// testNumber is the number every test dials; no log line may contain it.
const testNumber = "+15550123456"

// syncBuffer is a log sink that tests read while the dialer writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDialer starts a Dialer for proxy with short test timers, logging at
// debug level into a buffer that is checked, when the test ends, for the
// number (privacy) and printed if the test failed.
func newDialer(t *testing.T, proxy string, mod func(*Config)) *Dialer {
	t.Helper()
	d, _ := newDialerLogs(t, proxy, mod)
	return d
}

// newDialerLogs is newDialer that also returns the log buffer.
func newDialerLogs(t *testing.T, proxy string, mod func(*Config)) (*Dialer, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Proxy:         proxy,
		From:          "pager",
		RingTimeout:   10 * time.Second,
		HangupTimeout: 3 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		out := logs.String()
		if strings.Contains(out, strings.TrimPrefix(testNumber, "+")) {
			t.Errorf("the number reached the log:\n%s", out)
		}
		if !strings.Contains(out, "SIP user agent started") {
			t.Errorf("no start line in the log:\n%s", out)
		}
		if t.Failed() {
			t.Logf("dialer log:\n%s", out)
		}
	})
	return d, logs
}

// rtpSink receives the RTP a call sends, standing in for the media port the
// far end's SDP names (sipp answers with this port; see the scenarios).
type rtpSink struct {
	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	packets []rtp.Packet
	arrived []time.Time
	sources map[netip.AddrPort]int // packets by sender
	bad     int
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn, done: make(chan struct{}), sources: map[netip.AddrPort]int{}}
	go func() {
		defer close(s.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			s.mu.Lock()
			s.sources[from]++
			if err := p.Unmarshal(slices.Clone(buf[:n])); err != nil {
				s.bad++
			} else {
				s.packets = append(s.packets, p)
				s.arrived = append(s.arrived, time.Now())
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-s.done })
	return s
}

func (s *rtpSink) port() string { return strconv.Itoa(s.conn.LocalAddr().(*net.UDPAddr).Port) }

func (s *rtpSink) snapshot() ([]rtp.Packet, []time.Time, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.packets), slices.Clone(s.arrived), s.bad
}

// waitPackets polls until n packets arrived (loopback UDP is reliable, the
// sender may just still be sending) or the deadline passes.
func (s *rtpSink) waitPackets(t *testing.T, n int) []rtp.Packet {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _, _ := s.snapshot()
		if len(p) >= n || time.Now().After(deadline) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startSIPp(t *testing.T, scenario string, keys map[string]string) *interop.SIPp {
	t.Helper()
	return interop.StartSIPp(t, interop.SIPpConfig{
		Scenario: filepath.Join("testdata", "sipp", scenario),
		Keys:     keys,
		Timeout:  30 * time.Second,
	})
}

// sippPassed waits for sipp to exit and fails the test unless its scenario
// ran to the end (which is how the test knows sipp got our ACK, BYE,
// CANCEL, or our 200 to its BYE).
func sippPassed(t *testing.T, s *interop.SIPp) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("sipp scenario failed: %v", err)
	}
}

// toneWAV is a 16-bit PCM WAV of n samples of a ramp, so that every frame
// differs and payloads can be checked against the encoder.
func toneWAV(n int) ([]byte, []int16) {
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = int16((i*97)%20000 - 10000)
	}
	return wavFile(wavFormatPCM, 1, 8000, 16, pcm16(samples...)), samples
}

// checkStream checks the RTP of one announcement: n packets of one SSRC,
// consecutive sequence numbers, timestamps 160 apart, the marker on the
// first only, payload type pt, and payloads equal to want (the encoded
// announcement, frame by frame).
func checkStream(t *testing.T, packets []rtp.Packet, n int, pt uint8, want func(i int) []byte) {
	t.Helper()
	if len(packets) != n {
		t.Fatalf("%d RTP packets arrived, want %d", len(packets), n)
	}
	first := packets[0].Header
	for i, p := range packets {
		h := p.Header
		switch {
		case h.Version != 2:
			t.Fatalf("packet %d: version %d", i, h.Version)
		case h.PayloadType != pt:
			t.Fatalf("packet %d: payload type %d, want %d", i, h.PayloadType, pt)
		case h.SSRC != first.SSRC:
			t.Fatalf("packet %d: SSRC %#x, first was %#x", i, h.SSRC, first.SSRC)
		case h.SequenceNumber != first.SequenceNumber+uint16(i):
			t.Fatalf("packet %d: sequence %d, first was %d", i, h.SequenceNumber, first.SequenceNumber)
		case h.Timestamp != first.Timestamp+uint32(i*160):
			t.Fatalf("packet %d: timestamp %d, first was %d", i, h.Timestamp, first.Timestamp)
		case h.Marker != (i == 0):
			t.Fatalf("packet %d: marker %v", i, h.Marker)
		case !bytes.Equal(p.Payload, want(i)):
			t.Fatalf("packet %d: payload differs from the encoded announcement", i)
		}
	}
}

// An answered call: sipp rings, answers with PCMU at our sink; we ACK,
// play the whole announcement paced at 20 ms, and hang up with BYE.
func TestCallAnsweredPlaysAnnouncement(t *testing.T) {
	sink := newRTPSink(t)
	sipp := startSIPp(t, "answer.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "0", "enc": "PCMU"})
	wav, samples := toneWAV(4000) // half a second: 25 frames, then the tail
	d := newDialer(t, sipp.Addr, func(c *Config) { c.Announcement = wav })

	start := time.Now()
	if err := d.Call(context.Background(), testNumber); err != nil {
		t.Fatalf("Call: %v", err)
	}
	elapsed := time.Since(start)
	sippPassed(t, sipp)

	frames := 25 + tailFrames
	packets := sink.waitPackets(t, frames)
	checkStream(t, packets, frames, ptPCMU, func(i int) []byte {
		out := bytes.Repeat([]byte{ulawSilence}, 160)
		for j := range out {
			if k := i*160 + j; k < len(samples) {
				out[j] = linearToULaw(samples[k])
			}
		}
		return out
	})
	// Paced, not burst: the packets span (frames-1) ticks of 20 ms at
	// least (a ticker is never early; allow one tick of timer slack).
	_, arrived, bad := sink.snapshot()
	if span, min := arrived[len(arrived)-1].Sub(arrived[0]), time.Duration(frames-2)*20*time.Millisecond; span < min {
		t.Errorf("packets span %v, want at least %v", span, min)
	}
	if bad != 0 {
		t.Errorf("%d packets did not parse as RTP", bad)
	}
	// The pacing as it arrived, for docs/benchmarks.md (run with -v).
	var worst time.Duration
	for i := 1; i < len(arrived); i++ {
		worst = max(worst, (arrived[i].Sub(arrived[i-1]) - 20*time.Millisecond).Abs())
	}
	t.Logf("RTP pacing: %d packets over %v, mean gap %v, worst deviation from 20ms %v",
		len(arrived), arrived[len(arrived)-1].Sub(arrived[0]),
		arrived[len(arrived)-1].Sub(arrived[0])/time.Duration(len(arrived)-1), worst)
	if elapsed < time.Duration(frames)*20*time.Millisecond {
		t.Errorf("Call returned after %v, before the announcement could have played", elapsed)
	}
	if got := testutil.ToFloat64(d.metrics.calls.WithLabelValues("answered")); got != 1 {
		t.Errorf("answered calls metric %v, want 1", got)
	}
	if got := testutil.ToFloat64(d.metrics.rtpPackets); got != float64(frames) {
		t.Errorf("RTP packets metric %v, want %d", got, frames)
	}
}

// PCMA answer, built-in announcement, cut at MaxDuration, sent from the
// one even port of the configured RTP range.
func TestCallPCMABuiltInCutAtMaxDuration(t *testing.T) {
	sink := newRTPSink(t)
	sipp := startSIPp(t, "answer.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "8", "enc": "PCMA"})
	rtpPort := freeEvenPort(t)
	d := newDialer(t, sipp.Addr, func(c *Config) {
		c.MaxDuration = 300 * time.Millisecond
		c.RTPPortMin, c.RTPPortMax = rtpPort, rtpPort+1
	})
	if err := d.Call(context.Background(), testNumber); err != nil {
		t.Fatalf("Call: %v", err)
	}
	sippPassed(t, sipp)
	sink.mu.Lock()
	sources := maps.Clone(sink.sources)
	sink.mu.Unlock()
	if want := netip.AddrPortFrom(loopback, uint16(rtpPort)); len(sources) != 1 || sources[want] == 0 {
		t.Errorf("RTP came from %v, want only %v", sources, want)
	}
	chime := defaultAnnouncement()
	packets := sink.waitPackets(t, 15)
	checkStream(t, packets, 15, ptPCMA, func(i int) []byte {
		out := make([]byte, 160)
		for j := range out {
			out[j] = linearToALaw(chime[i*160+j])
		}
		return out
	})
}

// 486 Busy Here -> ErrBusy with the status in the text; sipp sees our ACK.
func TestCallBusy(t *testing.T) {
	sipp := startSIPp(t, "busy.xml", nil)
	d := newDialer(t, sipp.Addr, nil)
	err := d.Call(context.Background(), testNumber)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "486 Busy Here") {
		t.Fatalf("Call: %v, want ErrBusy with 486 Busy Here", err)
	}
	sippPassed(t, sipp)
	if got := testutil.ToFloat64(d.metrics.calls.WithLabelValues("busy")); got != 1 {
		t.Errorf("busy calls metric %v, want 1", got)
	}
}

// A reason phrase that quotes the number, in whatever format, reaches
// neither the error nor the log ("call ended" logs the error at info).
func TestCallReasonPhraseRedacted(t *testing.T) {
	for _, reason := range []string{"5550123456 not in service", "(555) 012-3456 unknown", "+1 555.012.3456 gone"} {
		t.Run(reason, func(t *testing.T) {
			sipp := startSIPp(t, "refused.xml", map[string]string{"reason": reason})
			d, logs := newDialerLogs(t, sipp.Addr, nil)
			err := d.Call(context.Background(), testNumber)
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "404 ") || !strings.Contains(err.Error(), "#") {
				t.Fatalf("Call: %v, want ErrRejected with 404 and the number as #", err)
			}
			sippPassed(t, sipp)
			for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
				if strings.Contains(strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(text), "0123456") {
					t.Errorf("the number reached the %s:\n%s", what, text)
				}
			}
		})
	}
}

// Nobody answers: after RingTimeout the INVITE is cancelled (sipp requires
// the CANCEL and the ACK of its 487) and Call returns ErrNoAnswer.
func TestCallNoAnswer(t *testing.T) {
	sipp := startSIPp(t, "ring.xml", nil)
	const ring = 400 * time.Millisecond
	d := newDialer(t, sipp.Addr, func(c *Config) { c.RingTimeout = ring })
	start := time.Now()
	err := d.Call(context.Background(), testNumber)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Call: %v, want ErrNoAnswer", err)
	}
	if e := time.Since(start); e < ring {
		t.Fatalf("gave up after %v, before RingTimeout %v", e, ring)
	}
	sippPassed(t, sipp)
}

// Cancelling ctx while the far end rings sends CANCEL (sipp requires it)
// and returns ctx's error. While the call rings, a second call is refused
// by MaxCalls 1.
func TestCallCancelWhileRinging(t *testing.T) {
	sipp := startSIPp(t, "ring.xml", nil)
	d := newDialer(t, sipp.Addr, func(c *Config) { c.MaxCalls = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- d.Call(ctx, testNumber) }()

	// Ringing once 100 and 180 have arrived.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(d.metrics.responses.WithLabelValues("1xx")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no 180 within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Call(context.Background(), testNumber); !errors.Is(err, ErrTooManyCalls) {
		t.Errorf("second call: %v, want ErrTooManyCalls", err)
	}
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Call: %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Call did not return after cancel")
	}
	sippPassed(t, sipp)
}

// The far end hangs up half a second into the 4.5 s chime: Call returns
// nil at once, having answered sipp's BYE with 200 (sipp requires it), and
// sends no BYE of its own.
func TestCallFarEndHangsUp(t *testing.T) {
	sink := newRTPSink(t)
	sipp := startSIPp(t, "hangup.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "0", "enc": "PCMU"})
	d := newDialer(t, sipp.Addr, nil)
	start := time.Now()
	if err := d.Call(context.Background(), testNumber); err != nil {
		t.Fatalf("Call: %v", err)
	}
	elapsed := time.Since(start)
	sippPassed(t, sipp)
	full := d.audio.frames()
	if elapsed > time.Duration(full)*20*time.Millisecond/2 {
		t.Errorf("Call returned after %v; the far end hung up after 0.5 s of %d frames", elapsed, full)
	}
	packets, _, _ := sink.snapshot()
	if len(packets) == 0 || len(packets) >= full {
		t.Errorf("%d RTP packets of %d", len(packets), full)
	}
	if got := testutil.ToFloat64(d.metrics.farEndHangs); got != 1 {
		t.Errorf("far-end hangups metric %v, want 1", got)
	}
}

// Close during the announcement hangs up with BYE (sipp requires it) and
// the call returns ErrClosed; calls after Close fail with ErrClosed.
func TestCloseDuringCall(t *testing.T) {
	sink := newRTPSink(t)
	sipp := startSIPp(t, "answer.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "0", "enc": "PCMU"})
	d := newDialer(t, sipp.Addr, nil)
	result := make(chan error, 1)
	go func() { result <- d.Call(context.Background(), testNumber) }()
	sink.waitPackets(t, 5)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; !errors.Is(err, ErrClosed) {
		t.Fatalf("Call: %v, want ErrClosed", err)
	}
	sippPassed(t, sipp)
	if err := d.Call(context.Background(), testNumber); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v, want ErrClosed", err)
	}
}

// A proxy that never answers: the call gives up at RingTimeout with
// ErrUnreachable (no CANCEL is possible without a provisional response).
func TestCallUnreachable(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	d := newDialer(t, silent.LocalAddr().String(), func(c *Config) { c.RingTimeout = 300 * time.Millisecond })
	err = d.Call(context.Background(), testNumber)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Call: %v, want ErrUnreachable", err)
	}
	// The INVITE did go out, to the proxy.
	buf := make([]byte, 4096)
	silent.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := silent.ReadFrom(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("INVITE sip:"+testNumber+"@127.0.0.1:")) {
		t.Fatalf("proxy got %q, %v", buf[:min(n, 80)], err)
	}
}

func TestCallInvalidNumber(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	d := newDialer(t, silent.LocalAddr().String(), nil)
	for _, n := range []string{"", "+", "12a4", "123@evil", "1;transport=tcp", strings.Repeat("1", 33), "++1"} {
		if err := d.Call(context.Background(), n); !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("Call(%q): %v, want ErrInvalidNumber", n, err)
		}
	}
}

// Digest authentication: the trunk challenges with 401, the second INVITE
// carries credentials that sipp verifies before it answers; with a wrong
// password the call is rejected (403, or the challenge again).
func TestCallDigestAuth(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"secret", true}, {"wrong", false}} {
		t.Run(tc.password, func(t *testing.T) {
			sink := newRTPSink(t)
			sipp := startSIPp(t, "auth.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port()})
			d := newDialer(t, sipp.Addr, func(c *Config) {
				c.AuthUser, c.AuthPassword = "pager", tc.password
				c.MaxDuration = 100 * time.Millisecond
			})
			err := d.Call(context.Background(), testNumber)
			if tc.ok && err != nil {
				t.Fatalf("Call: %v", err)
			}
			if !tc.ok && (!errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "403")) {
				t.Fatalf("Call: %v, want ErrRejected with 403", err)
			}
			sippPassed(t, sipp)
			if !tc.ok {
				if p, _, _ := sink.snapshot(); len(p) != 0 {
					t.Fatalf("%d RTP packets for a rejected call", len(p))
				}
				return
			}
			if p := sink.waitPackets(t, 5); len(p) != 5 {
				t.Fatalf("%d RTP packets, want 5", len(p))
			}
		})
	}
}

// An answer without PCMU or PCMA: the call is ACKed and hung up (sipp
// requires both) and fails with ErrMedia; no RTP is sent.
func TestCallNoCommonCodec(t *testing.T) {
	sink := newRTPSink(t)
	sipp := startSIPp(t, "answer.xml", map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "18", "enc": "G729"})
	d := newDialer(t, sipp.Addr, nil)
	err := d.Call(context.Background(), testNumber)
	if !errors.Is(err, ErrMedia) || !strings.Contains(err.Error(), "no PCMU or PCMA") {
		t.Fatalf("Call: %v, want ErrMedia", err)
	}
	sippPassed(t, sipp)
	if p, _, _ := sink.snapshot(); len(p) != 0 {
		t.Fatalf("%d RTP packets sent without a codec", len(p))
	}
	if got := testutil.ToFloat64(d.metrics.badSDP); got != 1 {
		t.Errorf("bad SDP metric %v, want 1", got)
	}
}

// Two calls at once: separate dialogs, separate RTP streams (told apart by
// SSRC), both complete; sipp handles both and exits 0.
func TestConcurrentCalls(t *testing.T) {
	sink := newRTPSink(t)
	sipp := interop.StartSIPp(t, interop.SIPpConfig{
		Scenario: filepath.Join("testdata", "sipp", "answer.xml"),
		Keys:     map[string]string{"rtp_ip": "127.0.0.1", "rtp_port": sink.port(), "pt": "0", "enc": "PCMU"},
		Calls:    2,
		Timeout:  30 * time.Second,
	})
	wav, _ := toneWAV(1600) // 10 frames, then the tail
	d := newDialer(t, sipp.Addr, func(c *Config) { c.Announcement = wav; c.MaxCalls = 2 })
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- d.Call(context.Background(), testNumber) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Call: %v", err)
		}
	}
	sippPassed(t, sipp)
	frames := 10 + tailFrames
	packets := sink.waitPackets(t, 2*frames)
	bySSRC := map[uint32][]rtp.Packet{}
	for _, p := range packets {
		bySSRC[p.SSRC] = append(bySSRC[p.SSRC], p)
	}
	if len(bySSRC) != 2 {
		t.Fatalf("%d RTP streams, want 2", len(bySSRC))
	}
	for ssrc, stream := range bySSRC {
		if len(stream) != frames {
			t.Errorf("stream %#x: %d packets, want %d", ssrc, len(stream), frames)
		}
	}
}

// The far end's 200 crosses our CANCEL: Call still returns ctx's error,
// but first ACKs the answer and hangs it up with BYE (sipp requires both),
// so no call is left up without anyone on it.
func TestCallAnswerCrossesCancel(t *testing.T) {
	sipp := startSIPp(t, "glare.xml", nil)
	d, logs := newDialerLogs(t, sipp.Addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- d.Call(ctx, testNumber) }()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(d.metrics.responses.WithLabelValues("1xx")) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no 180 within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Call: %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Call did not return after cancel")
	}
	sippPassed(t, sipp)
	if !strings.Contains(logs.String(), "answered while being cancelled") {
		t.Errorf("the crossing answer was not noticed:\n%s", logs.String())
	}
}
