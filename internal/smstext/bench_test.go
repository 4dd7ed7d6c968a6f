package smstext

import (
	"strings"
	"testing"
	"unicode/utf8"

	"switchboard/internal/gsm7"
)

// gsmBenchText is a full single-part GSM message: 160 characters with a
// few non-ASCII GSM letters and no extension characters, so 160 septets.
var gsmBenchText = func() string {
	r := []rune(strings.Repeat("Your code is 4711. Ça va? Grüße aus Köln, Ω Δ £5 @ 10:30. ", 3))
	return string(r[:160])
}()

// ucs2BenchText is 500 characters that force UCS-2 (Cyrillic and an emoji
// now and then), so 8 concatenated parts with surrogate pairs near some
// boundaries.
var ucs2BenchText = func() string {
	r := []rune(strings.Repeat("Привет, как дела? Всё хорошо 😀 ", 20))
	return string(r[:500])
}()

func BenchmarkEncodeGSM160(b *testing.B) {
	if n, ok := gsm7.SeptetLen(gsmBenchText); !ok || n != 160 {
		b.Fatalf("bench text is %d septets, %v; want 160", n, ok)
	}
	b.SetBytes(int64(len(gsmBenchText)))
	b.ReportAllocs()
	for b.Loop() {
		parts, err := Encode(gsmBenchText, 1, Options{})
		if err != nil || len(parts) != 1 {
			b.Fatal(len(parts), err)
		}
	}
}

func BenchmarkEncodeUCS2500(b *testing.B) {
	if n := utf8.RuneCountInString(ucs2BenchText); n != 500 || gsm7.CanEncode(ucs2BenchText) {
		b.Fatalf("bench text is %d characters, GSM %v", n, gsm7.CanEncode(ucs2BenchText))
	}
	b.SetBytes(int64(len(ucs2BenchText)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(ucs2BenchText, 1, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReassembleUCS2500(b *testing.B) {
	parts, err := Encode(ucs2BenchText, 1, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Reassemble(parts); err != nil {
			b.Fatal(err)
		}
	}
}
