package gsm7

import (
	"strings"
	"testing"
)

// benchText is a full single-segment message: 160 characters, mostly ASCII
// with a few Latin-1 and Greek letters and no extension characters, so it
// encodes to exactly 160 septets.
var benchText = func() string {
	s := strings.Repeat("Your code is 4711. Ça va? Grüße aus Köln, Ω Δ £5 @ 10:30. ", 3)
	r := []rune(s)
	return string(r[:160])
}()

func BenchmarkEncode(b *testing.B) {
	if n, ok := SeptetLen(benchText); !ok || n != 160 {
		b.Fatalf("bench text is %d septets, %v; want 160", n, ok)
	}
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(benchText); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanEncode(b *testing.B) {
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		CanEncode(benchText)
	}
}

func BenchmarkPack(b *testing.B) {
	septets := mustEncode(b, benchText)
	b.SetBytes(int64(len(septets)))
	b.ReportAllocs()
	for b.Loop() {
		Pack(septets)
	}
}

func BenchmarkUnpack(b *testing.B) {
	packed := Pack(mustEncode(b, benchText))
	b.SetBytes(int64(len(packed)))
	b.ReportAllocs()
	for b.Loop() {
		Unpack(packed, 160)
	}
}

func BenchmarkDecode(b *testing.B) {
	septets := mustEncode(b, benchText)
	b.SetBytes(int64(len(septets)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(septets); err != nil {
			b.Fatal(err)
		}
	}
}
