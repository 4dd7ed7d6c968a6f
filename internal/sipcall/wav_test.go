package sipcall

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

// wavFile builds a RIFF/WAVE file: a "fmt " chunk of the given fields, the
// chunks in extra (already framed), then a "data" chunk.
func wavFile(format, channels uint16, rate uint32, bits uint16, data []byte, extra ...[]byte) []byte {
	fmtChunk := make([]byte, 16)
	binary.LittleEndian.PutUint16(fmtChunk[0:], format)
	binary.LittleEndian.PutUint16(fmtChunk[2:], channels)
	binary.LittleEndian.PutUint32(fmtChunk[4:], rate)
	blockAlign := channels * bits / 8
	binary.LittleEndian.PutUint32(fmtChunk[8:], rate*uint32(blockAlign))
	binary.LittleEndian.PutUint16(fmtChunk[12:], blockAlign)
	binary.LittleEndian.PutUint16(fmtChunk[14:], bits)
	body := []byte("WAVE")
	body = append(body, chunk("fmt ", fmtChunk)...)
	for _, e := range extra {
		body = append(body, e...)
	}
	body = append(body, chunk("data", data)...)
	return append(append([]byte("RIFF"), le32(uint32(len(body)))...), body...)
}

func chunk(id string, body []byte) []byte {
	out := append([]byte(id), le32(uint32(len(body)))...)
	out = append(out, body...)
	if len(body)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func pcm16(samples ...int16) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// The byte-by-byte test vector of docs/sipcall.md: a 44-byte header and
// four samples of 16-bit PCM.
const docWAVVector = "52494646" + "2c000000" + "57415645" +
	"666d7420" + "10000000" + "0100" + "0100" + "401f0000" + "803e0000" + "0200" + "1000" +
	"64617461" + "08000000" + "0000" + "e803" + "18fc" + "ff7f"

func TestDecodeWAVDocVector(t *testing.T) {
	b, err := hex.DecodeString(docWAVVector)
	if err != nil {
		t.Fatal(err)
	}
	if want := wavFile(wavFormatPCM, 1, 8000, 16, pcm16(0, 1000, -1000, 32767)); !slices.Equal(b, want) {
		t.Fatalf("doc vector differs from the builder:\n%x\n%x", b, want)
	}
	got, err := decodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int16{0, 1000, -1000, 32767}; !slices.Equal(got, want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
}

func TestDecodeWAVFormats(t *testing.T) {
	list := chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00sox\x00\x00")) // odd-sized body: padded
	for _, tc := range []struct {
		name string
		file []byte
		want []int16
	}{
		{"pcm16", wavFile(1, 1, 8000, 16, pcm16(1, -2, 3)), []int16{1, -2, 3}},
		{"pcm16 with LIST chunk", wavFile(1, 1, 8000, 16, pcm16(7, 8), list), []int16{7, 8}},
		{"pcm16 odd trailing byte", wavFile(1, 1, 8000, 16, append(pcm16(5), 0x01)), []int16{5}},
		{"ulaw", wavFile(7, 1, 8000, 8, []byte{0xFF, 0x80, 0x00}), []int16{0, 32124, -32124}},
		{"alaw", wavFile(6, 1, 8000, 8, []byte{0xD5, 0xAA}), []int16{8, 32256}},
		{"extensible ulaw", extensible(7, 8, []byte{0xCE}), []int16{uLawToLinear(0xCE)}},
		{"extensible pcm", extensible(1, 16, pcm16(-7)), []int16{-7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeWAV(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("samples %v, want %v", got, tc.want)
			}
		})
	}
}

// A streaming writer leaves the data size at 0xFFFFFFFF: read to the end.
func TestDecodeWAVOversizedData(t *testing.T) {
	b := wavFile(1, 1, 8000, 16, pcm16(1, 2, 3))
	binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
	got, err := decodeWAV(b)
	if err != nil || !slices.Equal(got, []int16{1, 2, 3}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func extensible(sub, bits uint16, data []byte) []byte {
	f := make([]byte, 40)
	binary.LittleEndian.PutUint16(f[0:], wavFormatExtensible)
	binary.LittleEndian.PutUint16(f[2:], 1)
	binary.LittleEndian.PutUint32(f[4:], 8000)
	binary.LittleEndian.PutUint32(f[8:], 8000*uint32(bits/8))
	binary.LittleEndian.PutUint16(f[12:], bits/8)
	binary.LittleEndian.PutUint16(f[14:], bits)
	binary.LittleEndian.PutUint16(f[16:], 22)
	binary.LittleEndian.PutUint16(f[18:], bits)
	binary.LittleEndian.PutUint32(f[20:], 4)
	binary.LittleEndian.PutUint16(f[24:], sub)
	copy(f[26:], "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
	body := append([]byte("WAVE"), chunk("fmt ", f)...)
	body = append(body, chunk("data", data)...)
	return append(append([]byte("RIFF"), le32(uint32(len(body)))...), body...)
}

func TestDecodeWAVRejects(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		file       []byte
	}{
		{"empty", "not a RIFF/WAVE", nil},
		{"not wave", "not a RIFF/WAVE", []byte("RIFF\x04\x00\x00\x00AVI ")},
		{"stereo", "2 channels", wavFile(1, 2, 8000, 16, pcm16(1, 2))},
		{"44.1 kHz", "44100 Hz", wavFile(1, 1, 44100, 16, pcm16(1))},
		{"8-bit pcm", "format 1 with 8-bit", wavFile(1, 1, 8000, 8, []byte{1})},
		{"float", "format 3", wavFile(3, 1, 8000, 32, make([]byte, 4))},
		{"no samples", "no samples", wavFile(1, 1, 8000, 16, nil)},
		{"no data", "no data chunk", wavFile(1, 1, 8000, 16, pcm16(1))[:36]},
		{"data before fmt", "data chunk before fmt", append([]byte("RIFF\x0c\x00\x00\x00WAVE"), chunk("data", pcm16(1))...)},
		{"short fmt", "fmt chunk of 4 bytes", append([]byte("RIFF\x0c\x00\x00\x00WAVE"), chunk("fmt ", []byte{1, 0, 1, 0})...)},
		{"truncated chunk", "claims", append([]byte("RIFF\x0c\x00\x00\x00WAVE"), []byte("LIST\xff\x00\x00\x00ab")...)},
		{"too long", "samples, at most", wavFile(7, 1, 8000, 8, make([]byte, MaxAnnouncement+1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeWAV(tc.file)
			if !errors.Is(err, ErrInvalidWAV) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrInvalidWAV with %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeWAV: no input panics, and what is accepted is non-empty and
// bounded.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(wavFile(1, 1, 8000, 16, pcm16(0, 1000, -1000, 32767)))
	f.Add(wavFile(7, 1, 8000, 8, []byte{0xFF, 0x00}))
	f.Add(extensible(6, 8, []byte{0xD5}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeWAV(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidWAV) {
				t.Fatalf("error %v does not wrap ErrInvalidWAV", err)
			}
			return
		}
		if len(s) == 0 || len(s) > MaxAnnouncement || len(s) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(s), len(b))
		}
	})
}
