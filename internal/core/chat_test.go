package core

import (
	"strings"
	"testing"
	"unicode/utf8"

	"switchboard/internal/pms"
)

// Segments end on rune boundaries, fill records, and put the text back
// together exactly.
func TestChatSegments(t *testing.T) {
	for _, text := range []string{
		"", "hi", strings.Repeat("a", pms.MaxChatText), strings.Repeat("a", pms.MaxChatText+1),
		strings.Repeat("a", pms.MaxChatText-1) + "é" + "tail",
		strings.Repeat("€", 200), strings.Repeat("😀x", 100),
	} {
		b := []byte(text)
		var parts [][]byte
		for rest := b; len(rest) > 0; {
			n := segmentLen(rest)
			if n <= 0 || n > pms.MaxChatText {
				t.Fatalf("segment of %d bytes", n)
			}
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		if want := max(len(parts), 1); ChatSegments(b) != want {
			t.Fatalf("ChatSegments = %d, want %d", ChatSegments(b), want)
		}
		var joined []byte
		for i, p := range parts {
			if !utf8.Valid(p) {
				t.Fatalf("segment %d of %q splits a character", i, text[:min(len(text), 20)])
			}
			// Only the last segment may be short by more than a character.
			if i < len(parts)-1 && len(p) < pms.MaxChatText-utf8.UTFMax+1 {
				t.Fatalf("segment %d holds only %d bytes", i, len(p))
			}
			joined = append(joined, p...)
		}
		if string(joined) != text {
			t.Fatal("segments do not put the text back together")
		}
	}
}
