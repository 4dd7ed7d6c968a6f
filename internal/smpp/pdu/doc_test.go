package pdu

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docPath is the page that documents the codec and repeats the vectors.
var docPath = filepath.Join("..", "..", "..", "docs", "smpp-pdu.md")

// docVector renders a vector as docs/smpp-pdu.md shows it: one field per
// line in hex, with the ASCII of text fields after a '#', long texts cut
// into lines of 24 characters.
func docVector(v vector) string {
	var sb strings.Builder
	var hx, txt []string
	flush := func() {
		line := strings.Join(hx, " ")
		if len(txt) > 0 {
			line = fmt.Sprintf("%-40s # %s", line, strings.Join(txt, " "))
		}
		if line != "" {
			sb.WriteString(line + "\n")
		}
		hx, txt = nil, nil
	}
	for _, frag := range v.hex {
		for p := frag; p != ""; {
			if p[0] == '\'' {
				end := strings.IndexByte(p[1:], '\'')
				s := p[1 : 1+end]
				p = p[2+end:]
				if len(s) <= 24 {
					hx = append(hx, hex.EncodeToString([]byte(s)))
					txt = append(txt, fmt.Sprintf("%q", s))
					continue
				}
				flush()
				for ; s != ""; s = s[min(24, len(s)):] {
					c := s[:min(24, len(s))]
					hx, txt = []string{hex.EncodeToString([]byte(c))}, []string{fmt.Sprintf("%q", c)}
					flush()
				}
				continue
			}
			end := strings.IndexByte(p, '\'')
			if end < 0 {
				end = len(p)
			}
			if f := strings.TrimSpace(p[:end]); f != "" {
				hx = append(hx, strings.ToUpper(f))
			}
			p = p[end:]
		}
		flush()
	}
	return sb.String()
}

// TestDocVectors checks that every vector appears in docs/smpp-pdu.md, in
// a fenced block under a heading with its name, with the same bytes.
// PDU_PRINT_VECTORS=1 prints the blocks for pasting into the page.
func TestDocVectors(t *testing.T) {
	if os.Getenv("PDU_PRINT_VECTORS") == "1" {
		for _, v := range vectors {
			fmt.Printf("#### %s\n\n```text\n%s```\n\n", v.name, docVector(v))
		}
		return
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		head := "#### " + v.name + "\n\n```text\n"
		i := bytes.Index(doc, []byte(head))
		if i < 0 {
			t.Errorf("%s: no %q block in %s", v.name, strings.TrimSpace(head), docPath)
			continue
		}
		block := doc[i+len(head):]
		block = block[:bytes.Index(block, []byte("```"))]
		var hx strings.Builder
		for _, line := range strings.Split(string(block), "\n") {
			line, _, _ = strings.Cut(line, "#")
			hx.WriteString(strings.ReplaceAll(line, " ", ""))
		}
		got, err := hex.DecodeString(hx.String())
		if err != nil {
			t.Errorf("%s: bad hex in the doc: %v", v.name, err)
			continue
		}
		if want := unhex(t, v.hex...); !bytes.Equal(got, want) {
			t.Errorf("%s: the doc shows\n % X\nthe test checks\n % X", v.name, got, want)
		}
	}
}
