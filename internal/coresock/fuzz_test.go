package coresock

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzUnmarshal checks that the decoder never panics, that a failure leaves
// no body, and that whatever decodes re-marshals to exactly the same bytes:
// every accepted message has one encoding, so the decoder cannot accept
// something the core would then see differently from what was sent. Seeds,
// one or more per message type, live in testdata/fuzz/FuzzUnmarshal.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{1, 8, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := Unmarshal(b)
		if err != nil {
			if body != nil {
				t.Fatalf("body %#v with error %v", body, err)
			}
			if HeaderReadable(err) {
				ph, perr := PeekHeader(b)
				if perr != nil || ph.ID != h.ID || ph.Type != h.Type {
					t.Fatalf("readable header %+v but PeekHeader gives %+v, %v", h, ph, perr)
				}
			}
			return
		}
		out, err := Marshal(nil, h, body)
		if err != nil {
			t.Fatalf("Unmarshal(% x) = %+v %#v, but Marshal fails: %v", b, h, body, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-marshal differs:\n  in % x\n out % x", b, out)
		}
	})
}

// TestFuzzCorpusCoversEveryType keeps the committed seed corpus honest: it
// must hold a decodable example of every request type and of every response
// type that has fields, plus some rejects.
func TestFuzzCorpusCoversEveryType(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzUnmarshal/*")
	if err != nil || len(files) < 8 {
		t.Fatalf("%d seed files, %v", len(files), err)
	}
	seen := map[Type]bool{}
	rejects := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a go test fuzz v1 []byte seed", name)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h, _, err := Unmarshal([]byte(s))
		if err != nil {
			rejects++
			continue
		}
		seen[h.Type] = true
	}
	for req := range typeNames {
		if !seen[req] {
			t.Errorf("no seed decodes as %s", req)
		}
		if b, _ := newBody(req.Response()); b != nil && !seen[req.Response()] {
			t.Errorf("no seed decodes as %s", req.Response())
		}
	}
	if rejects < 3 {
		t.Errorf("only %d rejected seeds", rejects)
	}
}
