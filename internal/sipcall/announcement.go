package sipcall

import (
	"math"
	"sync"
)

// Framing: G.711 at 8 kHz in 20 ms packets is 160 samples (and 160 bytes)
// per RTP packet, the packetisation every SIP trunk accepts.
const (
	frameSamples = 160
	frameMillis  = 20
)

// tailFrames of silence follow every announcement before the BYE, so that
// the far end's jitter buffer plays the last words out instead of cutting
// them off.
const tailFrames = 10

// The built-in announcement: a three-note ascending chime (C5, E5, G5, a
// major triad, like a doorbell) played three times, synthesised at first
// use. Each note is noteMillis long with fadeMillis ramps (no clicks), notes
// are gapMillis apart and each chime is followed by pauseMillis of
// silence; leadMillis of silence come first, because many phones and
// gateways clip the first moments of media after the answer.
const (
	chimeRepeats = 3
	noteMillis   = 250
	gapMillis    = 60
	pauseMillis  = 500
	fadeMillis   = 10
	leadMillis   = 200
	// chimeAmplitude is about -10 dBFS: loud, without clipping in either law.
	chimeAmplitude = 10000
)

// chimeNotes are the frequencies in Hz of C5, E5 and G5.
var chimeNotes = [...]float64{523.25, 659.26, 783.99}

var (
	defaultOnce    sync.Once
	defaultSamples []int16
)

// defaultAnnouncement returns the built-in chime as 8 kHz linear samples.
// Callers must not modify the slice.
func defaultAnnouncement() []int16 {
	defaultOnce.Do(func() { defaultSamples = synthChime() })
	return defaultSamples
}

// synthChime renders the chime; it is deterministic, so tests can check it.
func synthChime() []int16 {
	ms := func(n int) int { return n * sampleRate / 1000 }
	var out []int16
	out = append(out, make([]int16, ms(leadMillis))...)
	for range chimeRepeats {
		for i, f := range chimeNotes {
			if i > 0 {
				out = append(out, make([]int16, ms(gapMillis))...)
			}
			out = append(out, tone(f, ms(noteMillis), ms(fadeMillis))...)
		}
		out = append(out, make([]int16, ms(pauseMillis))...)
	}
	return out
}

// tone is a sine of freq Hz, n samples long, with linear fades of fade
// samples at both ends.
func tone(freq float64, n, fade int) []int16 {
	out := make([]int16, n)
	for i := range out {
		env := 1.0
		if i < fade {
			env = float64(i) / float64(fade)
		} else if n-1-i < fade {
			env = float64(n-1-i) / float64(fade)
		}
		out[i] = int16(math.Round(chimeAmplitude * env * math.Sin(2*math.Pi*freq*float64(i)/sampleRate)))
	}
	return out
}

// encoded is an announcement companded in both laws and cut into frames,
// ready to go into RTP payloads. It is built once per Dialer and only read
// afterwards, so concurrent calls share it.
type encoded struct {
	ulaw, alaw []byte
}

// encode compands samples in both laws and pads the end with silence to a
// whole number of frames, then adds the tail.
func encode(samples []int16) *encoded {
	frames := (len(samples)+frameSamples-1)/frameSamples + tailFrames
	e := &encoded{ulaw: make([]byte, frames*frameSamples), alaw: make([]byte, frames*frameSamples)}
	for i := range e.ulaw {
		if i < len(samples) {
			e.ulaw[i] = linearToULaw(samples[i])
			e.alaw[i] = linearToALaw(samples[i])
		} else {
			e.ulaw[i] = ulawSilence
			e.alaw[i] = alawSilence
		}
	}
	return e
}

// frames is the number of 20 ms frames of the announcement.
func (e *encoded) frames() int { return len(e.ulaw) / frameSamples }

// frame returns frame i in the law of c.
func (e *encoded) frame(c codec, i int) []byte {
	b := e.ulaw
	if c == codecPCMA {
		b = e.alaw
	}
	return b[i*frameSamples : (i+1)*frameSamples]
}
