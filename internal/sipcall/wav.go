package sipcall

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalidWAV is wrapped by every error of the WAV reader.
var ErrInvalidWAV = errors.New("sipcall: invalid announcement WAV")

// WAV format tags this reader accepts (the "fmt " chunk's audio format, or
// the first two bytes of the sub-format GUID of WAVE_FORMAT_EXTENSIBLE).
const (
	wavFormatPCM        = 1
	wavFormatALaw       = 6
	wavFormatULaw       = 7
	wavFormatExtensible = 0xFFFE
)

// MaxAnnouncement bounds the length of an announcement (ten minutes at
// 8 kHz), so that a mistaken file cannot make the dialer hold hundreds of
// megabytes; MaxDuration bounds what is actually played.
const MaxAnnouncement = 10 * 60 * sampleRate

// sampleRate is the only rate G.711 telephony uses, and so the only one the
// reader accepts: resampling is left to tools made for it (sox).
const sampleRate = 8000

// decodeWAV reads a RIFF/WAVE file holding 8 kHz mono audio as 16-bit
// linear PCM, µ-law or A-law, and returns its samples as 16-bit linear
// PCM. Chunks other than "fmt " and "data" are skipped; a data chunk that
// claims more bytes than the file holds (as streaming writers leave it) is
// read to the end of the file. It is a pure function: bytes in, samples out.
func decodeWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrInvalidWAV)
	}
	var (
		haveFmt             bool
		format, channels    uint16
		rate                uint32
		bitsPerSample       uint16
		samples             []int16
		haveData            bool
		rest                = b[12:]
		validBitsExtensible uint16
	)
	for len(rest) >= 8 && !haveData {
		id := string(rest[0:4])
		size := binary.LittleEndian.Uint32(rest[4:8])
		rest = rest[8:]
		body := rest
		if uint64(size) <= uint64(len(rest)) {
			body = rest[:size]
		} else if id != "data" {
			return nil, fmt.Errorf("%w: chunk %q claims %d bytes, %d left", ErrInvalidWAV, printable(id), size, len(rest))
		}
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalidWAV, len(body))
			}
			haveFmt = true
			format = binary.LittleEndian.Uint16(body[0:2])
			channels = binary.LittleEndian.Uint16(body[2:4])
			rate = binary.LittleEndian.Uint32(body[4:8])
			bitsPerSample = binary.LittleEndian.Uint16(body[14:16])
			if format == wavFormatExtensible {
				// cbSize u16, valid bits u16, channel mask u32, GUID (16).
				if len(body) < 40 {
					return nil, fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrInvalidWAV, len(body))
				}
				validBitsExtensible = binary.LittleEndian.Uint16(body[18:20])
				format = binary.LittleEndian.Uint16(body[24:26])
				if validBitsExtensible != 0 && validBitsExtensible != bitsPerSample {
					return nil, fmt.Errorf("%w: %d valid bits in %d-bit samples", ErrInvalidWAV, validBitsExtensible, bitsPerSample)
				}
			}
			if err := checkWAVFormat(format, channels, rate, bitsPerSample); err != nil {
				return nil, err
			}
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalidWAV)
			}
			var err error
			if samples, err = wavSamples(format, body); err != nil {
				return nil, err
			}
			haveData = true
		}
		// Chunks are padded to an even length.
		skip := uint64(size) + uint64(size&1)
		if skip > uint64(len(rest)) {
			skip = uint64(len(rest))
		}
		rest = rest[skip:]
	}
	if !haveFmt {
		return nil, fmt.Errorf("%w: no fmt chunk", ErrInvalidWAV)
	}
	if !haveData {
		return nil, fmt.Errorf("%w: no data chunk", ErrInvalidWAV)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrInvalidWAV)
	}
	return samples, nil
}

// checkWAVFormat accepts what can be played without resampling or mixing.
func checkWAVFormat(format, channels uint16, rate uint32, bits uint16) error {
	if channels != 1 {
		return fmt.Errorf("%w: %d channels, want mono (sox in.wav -c 1 -r 8000 -b 16 out.wav)", ErrInvalidWAV, channels)
	}
	if rate != sampleRate {
		return fmt.Errorf("%w: %d Hz, want 8000 Hz (sox in.wav -c 1 -r 8000 -b 16 out.wav)", ErrInvalidWAV, rate)
	}
	switch {
	case format == wavFormatPCM && bits == 16,
		format == wavFormatULaw && bits == 8,
		format == wavFormatALaw && bits == 8:
		return nil
	}
	return fmt.Errorf("%w: format %d with %d-bit samples, want 16-bit PCM, 8-bit µ-law or 8-bit A-law", ErrInvalidWAV, format, bits)
}

// wavSamples converts the data chunk to linear samples.
func wavSamples(format uint16, data []byte) ([]int16, error) {
	n := len(data)
	if format == wavFormatPCM {
		n /= 2
	}
	if n > MaxAnnouncement {
		return nil, fmt.Errorf("%w: %d samples, at most %d (%d s) allowed", ErrInvalidWAV, n, MaxAnnouncement, MaxAnnouncement/sampleRate)
	}
	out := make([]int16, n)
	switch format {
	case wavFormatPCM:
		// A trailing odd byte is a truncated sample and is dropped.
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case wavFormatULaw:
		for i, c := range data {
			out[i] = uLawToLinear(c)
		}
	case wavFormatALaw:
		for i, c := range data {
			out[i] = aLawToLinear(c)
		}
	}
	return out, nil
}

// printable makes a chunk id safe to put in an error text.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			b[i] = '?'
		}
	}
	return string(b)
}
