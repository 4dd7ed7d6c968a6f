package coresock

import (
	"bytes"
	"errors"
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
		if req == TypeBatch {
			// A container, never a message: FuzzBatch has its seeds.
			continue
		}
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

// FuzzBatch checks that taking a BATCH apart never panics, and that a
// BATCH accepted as well framed is exactly its members put back together:
// the framing has one encoding, so the receiver cannot see members other
// than the ones the sender packed. Seeds live in testdata/fuzz/FuzzBatch.
func FuzzBatch(f *testing.F) {
	f.Add(batchOf(0, pingMsg(1), pingMsg(2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isBatch(b) {
			return
		}
		err := checkBatch(b)
		// What refuseBatch walks must not panic either, whatever the
		// framing.
		for rest := b[HeaderSize:]; len(rest) > 0; {
			m, next, ok := nextMember(rest)
			PeekHeader(m)
			if !ok {
				if err == nil {
					t.Fatalf("checkBatch accepted % x, whose framing breaks", b)
				}
				break
			}
			rest = next
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("checkBatch: %v does not wrap ErrMalformed", err)
			}
			return
		}
		out := append([]byte(nil), b[:HeaderSize]...)
		n := 0
		for rest := b[HeaderSize:]; len(rest) > 0; n++ {
			var m []byte
			m, rest, _ = nextMember(rest)
			out = appendMember(out, m)
		}
		if n == 0 || !bytes.Equal(out, b) {
			t.Fatalf("%d members re-packed differ:\n  in % x\n out % x", n, b, out)
		}
	})
}

// TestFuzzBatchCorpus keeps the committed BATCH seeds honest: some must be
// well framed and some broken.
func TestFuzzBatchCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzBatch/*")
	if err != nil || len(files) < 4 {
		t.Fatalf("%d seed files, %v", len(files), err)
	}
	good, broken := 0, 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !isBatch([]byte(s)) {
			t.Fatalf("%s: not a BATCH", name)
		}
		if checkBatch([]byte(s)) == nil {
			good++
		} else {
			broken++
		}
	}
	if good < 2 || broken < 2 {
		t.Errorf("%d good and %d broken seeds, want 2 of each", good, broken)
	}
}

// countingHandler counts the requests that reach it and answers them.
type countingHandler struct{ n int }

func (c *countingHandler) HandleRequest(p *Peer, h Header, body Body) {
	c.n++
	p.Reply(h, StatusOK, 0, nil)
}

// FuzzPeerBatch feeds a packet to a Peer's BATCH handling, without a
// socket: it must not panic, a BATCH refused as broken must reach the
// handler with nothing, and everything it answers must be a readable
// response. Its seeds in testdata/fuzz/FuzzPeerBatch are FuzzBatch's.
func FuzzPeerBatch(f *testing.F) {
	f.Add(batchOf(0, pingMsg(1), pingMsg(2)))
	f.Add(append(batchOf(0, pingMsg(1)), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !isBatch(b) || len(b) > defaultMaxBatch {
			return
		}
		h := &countingHandler{}
		p := newPeer(&Conn{maxMessage: MaxMessage}, &Config{})
		p.handler = h
		p.unbatch(b, false)
		// Every member, the one cut at a break included, gets at most
		// one answer, and the BATCH one more.
		members := 0
		for rest := b[HeaderSize:]; len(rest) > 0; members++ {
			var ok bool
			if _, rest, ok = nextMember(rest); !ok {
				members++
				break
			}
		}
		if checkBatch(b) != nil && h.n != 0 {
			t.Fatalf("broken BATCH % x: %d requests reached the handler", b, h.n)
		}
		replies := 0
		for len(p.wq) > 0 {
			bp := <-p.wq
			rh, err := PeekHeader(*bp)
			if err != nil || !rh.Type.IsResponse() {
				t.Fatalf("answer % x: %+v, %v", *bp, rh, err)
			}
			replies++
		}
		if replies > members+1 {
			t.Fatalf("%d answers to %d members", replies, members)
		}
	})
}
