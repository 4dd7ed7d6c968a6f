package cpt

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll drains a Reader into the lines and errors it returns, an error
// shown as "!" plus the error's text, up to the final read error.
func readAll(r *Reader) []string {
	var got []string
	for {
		line, err := r.ReadLine()
		switch {
		case err == nil:
			got = append(got, string(line))
			continue
		case errors.Is(err, ErrLineTooLong), errors.Is(err, io.ErrUnexpectedEOF):
			got = append(got, "!"+err.Error())
			continue
		}
		return append(got, "!"+err.Error())
	}
}

// chunkReader returns its data in pieces of random sizes, seeded, so that
// lines and terminators are split at every kind of boundary.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rnd.IntN(c.max), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestReaderLines(t *testing.T) {
	tooLong := "!" + ErrLineTooLong.Error()
	eof := "!" + io.EOF.Error()
	unexpected := "!" + io.ErrUnexpectedEOF.Error()
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"lf", "CONNECT a\nSYNC\n", 64, []string{"CONNECT a", "SYNC", eof}},
		{"crlf", "CONNECT a\r\nSYNC\r\n", 64, []string{"CONNECT a", "SYNC", eof}},
		{"one cr only", "a\r\r\n", 64, []string{"a\r", eof}},
		{"lone cr kept", "a\rb\n", 64, []string{"a\rb", eof}},
		{"empty lines", "\n\r\n\n", 64, []string{"", "", "", eof}},
		{"spaces kept", "SEND g  a  b \n", 64, []string{"SEND g  a  b ", eof}},
		{"empty input", "", 64, []string{eof}},
		{"unterminated last line", "ACK\nSEND g hal", 64, []string{"ACK", unexpected, eof}},
		{"cr at eof", "ACK\r", 64, []string{unexpected, eof}},
		// max counts the terminator: 7 bytes of text and "\n" is 8.
		{"exactly max", "1234567\nx\n", 8, []string{"1234567", "x", eof}},
		{"exactly max crlf", "123456\r\nx\n", 8, []string{"123456", "x", eof}},
		{"one over max", "12345678\nx\n", 8, []string{tooLong, "x", eof}},
		{"crlf one over max", "1234567\r\nx\n", 8, []string{tooLong, "x", eof}},
		{"long then short", strings.Repeat("z", 100) + "\nSYNC\n", 16, []string{tooLong, "SYNC", eof}},
		{"two long", strings.Repeat("z", 40) + "\n" + strings.Repeat("y", 40) + "\nok\n", 16, []string{tooLong, tooLong, "ok", eof}},
		{"long at eof", strings.Repeat("z", 40), 16, []string{tooLong, eof}},
		{"long unterminated after good", "ok\n" + strings.Repeat("z", 40), 16, []string{"ok", tooLong, eof}},
		{"growth past initial", strings.Repeat("g", 1000) + "\nend\n", 4096, []string{strings.Repeat("g", 1000), "end", eof}},
		{"default max", strings.Repeat("d", DefaultMaxLine-1) + "\n" + strings.Repeat("d", DefaultMaxLine) + "\nz\n", 0,
			[]string{strings.Repeat("d", DefaultMaxLine-1), tooLong, "z", eof}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":     func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"data+eof": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
		"chunks": func(s string) io.Reader {
			return &chunkReader{data: []byte(s), rnd: rand.New(rand.NewPCG(1, uint64(len(s)))), max: 7}
		},
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			got := readAll(NewReader(mk(tt.in), tt.max))
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("%s (%s reader): got %q, want %q", tt.name, rname, got, tt.want)
			}
		}
	}
}

// A read error other than EOF comes back as it is, after the buffered
// lines.
func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("ACK\npart"), iotest.ErrReader(boom)), 64)
	if line, err := r.ReadLine(); err != nil || string(line) != "ACK" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if _, err := r.ReadLine(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the cut line: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := r.ReadLine(); !errors.Is(err, boom) {
		t.Fatalf("after it: %v, want boom", err)
	}
}

// zeroReader returns 0, nil forever, as a broken io.Reader may.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}, 64).ReadLine(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

// The memory promises: no buffer before the first read, the initial size
// for short lines, growth only for a long line, and Shrink to give it back.
func TestReaderMemory(t *testing.T) {
	in := "short\n" + strings.Repeat("L", 3000) + "\nx\n"
	r := NewReader(strings.NewReader(in), 4096)
	if r.buf != nil {
		t.Fatal("NewReader allocated a buffer before the first read")
	}
	line, err := r.ReadLine()
	if err != nil || string(line) != "short" {
		t.Fatalf("%q %v", line, err)
	}
	if len(r.buf) != initialBuffer {
		t.Errorf("buffer %d bytes after a short line, want %d", len(r.buf), initialBuffer)
	}
	if r.Buffered() == 0 {
		t.Error("Buffered is 0 with more input in the buffer")
	}
	r.Shrink() // not empty: must keep the data
	if line, err = r.ReadLine(); err != nil || len(line) != 3000 {
		t.Fatalf("long line: %d bytes, %v", len(line), err)
	}
	if len(r.buf) != 4096 {
		t.Errorf("buffer %d bytes after a 3000-byte line, want 4096", len(r.buf))
	}
	if line, err = r.ReadLine(); err != nil || string(line) != "x" {
		t.Fatalf("%q %v", line, err)
	}
	if r.Buffered() != 0 {
		t.Errorf("Buffered %d with nothing left", r.Buffered())
	}
	r.Shrink()
	if r.buf != nil {
		t.Errorf("Shrink kept a %d-byte buffer", len(r.buf))
	}
	if _, err := r.ReadLine(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}

	// A flood without newlines never grows the buffer past the limit.
	r = NewReader(io.LimitReader(neverNewline{}, 1<<20), 512)
	if _, err := r.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("flood: %v", err)
	}
	if _, err := r.ReadLine(); err != io.EOF {
		t.Fatalf("flood end: %v", err)
	}
	if len(r.buf) > 512 {
		t.Errorf("buffer grew to %d bytes, limit 512", len(r.buf))
	}

	// A small limit caps the initial buffer too.
	r = NewReader(strings.NewReader("abc\n"), 16)
	r.ReadLine()
	if len(r.buf) != 16 {
		t.Errorf("buffer %d bytes with a 16-byte limit", len(r.buf))
	}
}

type neverNewline struct{}

func (neverNewline) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// Buffered counts pipelined lines that arrived in one read.
func TestReaderBuffered(t *testing.T) {
	r := NewReader(strings.NewReader("SEND a 1\nSEND a 2\nSEND a"), 64)
	r.ReadLine()
	if got := r.Buffered(); got != len("SEND a 2\nSEND a") {
		t.Errorf("Buffered = %d", got)
	}
	r.ReadLine()
	if got := r.Buffered(); got != len("SEND a") {
		t.Errorf("Buffered = %d with a partial line", got)
	}
}

// splitLines is the reference the fuzzer compares Reader with: a plain
// split of the whole input, following the documented rules.
func splitLines(in []byte, max int) []string {
	var out []string
	for len(in) > 0 {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			if len(in) >= max {
				out = append(out, "!"+ErrLineTooLong.Error())
			} else {
				out = append(out, "!"+io.ErrUnexpectedEOF.Error())
			}
			break
		}
		line := in[:i]
		in = in[i+1:]
		if len(line)+1 > max {
			out = append(out, "!"+ErrLineTooLong.Error())
			continue
		}
		out = append(out, string(bytes.TrimSuffix(line, []byte("\r"))))
	}
	return append(out, "!"+io.EOF.Error())
}

// splitReader returns the input in pieces that end at the given cut points.
type splitReader struct {
	data []byte
	cuts []byte
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(s.data)
	if len(s.cuts) > 0 {
		n = 1 + int(s.cuts[0])%len(s.data)
		s.cuts = s.cuts[1:]
	}
	n = copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}
