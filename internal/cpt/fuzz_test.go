package cpt

import (
	"errors"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/, one file per seed,
// covering every verb and every error; f.Add adds none, so that the files
// are the one list to maintain. Run a target for longer with, e.g.,
//
//	go test -run '^$' -fuzz FuzzParseRequest -fuzztime 60s ./internal/cpt/

// FuzzParseRequest: never panic; every error is one of the kinds Reason
// knows; whatever parses re-encodes to a line that parses to the same
// request, with the slices inside the input.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := ParseRequest(line)
		if err != nil {
			if !errors.Is(err, ErrUnknownCommand) && !errors.Is(err, ErrNotClientCommand) &&
				!errors.Is(err, ErrBadFormat) && !errors.Is(err, ErrBadUTF8) {
				t.Fatalf("ParseRequest(%q): unclassified error %v", line, err)
			}
			return
		}
		if !req.Verb.IsClient() {
			t.Fatalf("ParseRequest(%q) parsed a %v", line, req.Verb)
		}
		if ValidName(req.Name) != nil && (req.Verb != VerbSync || req.HasGroup) {
			t.Fatalf("ParseRequest(%q) accepted the name %q", line, req.Name)
		}
		enc := appendRequest(nil, req)
		if strings.Count(string(enc), "\n") != 1 {
			t.Fatalf("ParseRequest(%q) re-encodes to %q, not one line", line, enc)
		}
		again, err := ParseRequest(enc[:len(enc)-1])
		if err != nil || !requestsEqual(again, req) {
			t.Fatalf("ParseRequest(%q) = %+v; re-encoded %q parses to %+v, %v", line, req, enc, again, err)
		}
	})
}

// FuzzParseReply: the same properties for the server's lines.
func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		rep, err := ParseReply(line)
		if err != nil {
			if !errors.Is(err, ErrUnknownCommand) && !errors.Is(err, ErrBadFormat) && !errors.Is(err, ErrBadUTF8) {
				t.Fatalf("ParseReply(%q): unclassified error %v", line, err)
			}
			return
		}
		if rep.Verb.IsClient() {
			t.Fatalf("ParseReply(%q) parsed a %v", line, rep.Verb)
		}
		enc := appendReply(nil, rep)
		again, err := ParseReply(enc[:len(enc)-1])
		if err != nil || !repliesEqual(again, rep) {
			t.Fatalf("ParseReply(%q) = %+v; re-encoded %q parses to %+v, %v", line, rep, enc, again, err)
		}
	})
}

// FuzzReader feeds arbitrary bytes, split where the fuzzer says, and
// compares what Reader returns with a plain split of the whole input.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data, cuts []byte, max uint8) {
		limit := 2 + int(max)%64 // small limits reach the long-line paths
		want := splitLines(data, limit)
		got := readAll(NewReader(&splitReader{data: data, cuts: cuts}, limit))
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("limit %d, input %q cut at %v:\n got %q\nwant %q", limit, data, cuts, got, want)
		}
	})
}
