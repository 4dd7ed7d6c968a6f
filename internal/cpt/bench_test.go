package cpt

import (
	"bytes"
	"testing"

	"switchboard/internal/chat"
)

var (
	benchSend = []byte("SEND group1 Hello, this is a chat line of ordinary length.")
	benchMsg  = []byte("MSG group1 alexandre 1700000000 Hello, this is a chat line of ordinary length.")
	benchText = []byte("Hello, this is a chat line of ordinary length.")
)

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSend)))
	for b.Loop() {
		if _, err := ParseRequest(benchSend); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseReply(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMsg)))
	for b.Loop() {
		if _, err := ParseReply(benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMsg(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = AppendMsg(buf[:0], "group1", "alexandre", 1700000000, benchText)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkReadLine reads pipelined SEND lines, many per read, as a server
// does under load.
func BenchmarkReadLine(b *testing.B) {
	b.ReportAllocs()
	chunk := bytes.Repeat(append(append([]byte(nil), benchSend...), '\n'), 64)
	src := &repeatReader{chunk: chunk}
	r := NewReader(src, DefaultMaxLine)
	b.SetBytes(int64(len(benchSend) + 1))
	for b.Loop() {
		if _, err := r.ReadLine(); err != nil {
			b.Fatal(err)
		}
	}
}

// repeatReader returns chunk forever, from where the last read stopped.
type repeatReader struct {
	chunk []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.chunk[r.off:])
	r.off = (r.off + n) % len(r.chunk)
	return n, nil
}

// TestAllocs holds the codec to zero allocations on the paths a server
// runs per line: parsing a request, a failed parse, encoding a reply into a
// buffer with room, and reading a line once the buffer exists.
func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under coverage and the race detector")
	}
	buf := make([]byte, 0, 256)
	r := NewReader(&repeatReader{chunk: append(append([]byte(nil), benchSend...), '\n')}, DefaultMaxLine)
	r.ReadLine()
	cases := []struct {
		name string
		f    func()
	}{
		{"ParseRequest(SEND)", func() { ParseRequest(benchSend) }},
		{"ParseRequest(CONNECT)", func() { ParseRequest([]byte("CONNECT alice secret")) }},
		{"ParseRequest(SYNC)", func() { ParseRequest([]byte("SYNC group1 1700000000")) }},
		{"ParseRequest(bad name)", func() { ParseRequest([]byte("SEND  x")) }},
		{"ParseRequest(bad UTF-8)", func() { ParseRequest([]byte("SEND x \xff")) }},
		{"ParseReply(MSG)", func() { ParseReply(benchMsg) }},
		{"AppendMsg", func() { buf = AppendMsg(buf[:0], "group1", "alexandre", 1700000000, benchText) }},
		{"AppendDecline", func() { buf = AppendDecline(buf[:0], ReasonUnknownTarget) }},
		{"AppendSync", func() { buf = AppendSync(buf[:0], "group1", 1700000000) }},
		{"ReadLine", func() { r.ReadLine() }},
		{"Reason", func() { Reason(ErrLineTooLong) }},
		{"IsReserved", func() { chat.IsReserved([]byte("System")) }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(200, c.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", c.name, n)
		}
	}
}
