package sipcall

import "testing"

// The built-in chime as docs/sipcall.md describes it: 4.31 s, 200 ms of
// lead silence, peaks at the amplitude, three notes three times.
func TestDefaultAnnouncement(t *testing.T) {
	s := defaultAnnouncement()
	if want := (leadMillis + chimeRepeats*(3*noteMillis+2*gapMillis+pauseMillis)) * 8; len(s) != want || want != 34480 {
		t.Fatalf("%d samples, want %d (4.31 s)", len(s), want)
	}
	peak := 0
	for i, v := range s {
		if i < 1600 && v != 0 {
			t.Fatalf("sample %d of the lead silence is %d", i, v)
		}
		peak = max(peak, int(v), -int(v))
	}
	if peak > chimeAmplitude || peak < chimeAmplitude*99/100 {
		t.Fatalf("peak %d, want just under %d", peak, chimeAmplitude)
	}
	// Deterministic: the same samples every time.
	again := synthChime()
	for i := range s {
		if s[i] != again[i] {
			t.Fatalf("sample %d differs between renderings", i)
		}
	}
	e := encode(s)
	if e.frames() != 216+tailFrames {
		t.Fatalf("%d frames, want %d", e.frames(), 216+tailFrames)
	}
	last := e.frame(codecPCMA, e.frames()-1)
	for _, c := range last {
		if c != alawSilence {
			t.Fatalf("tail frame is not A-law silence: %x", last)
		}
	}
}
