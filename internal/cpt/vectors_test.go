package cpt

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vector is one test vector of docs/cpt.md: the exact bytes of a line as
// they cross the wire, and what they parse to. TestDocVectors checks that
// the page shows the same bytes.
type vector struct {
	name string
	wire string   // terminator included
	req  *Request // a client line, or
	rep  *Reply   // a server line, or
	err  error    // a client line that fails with this sentinel
	// canonical marks lines that the encoders write byte for byte; the
	// others are accepted forms (CRLF, SYNC without a timestamp).
	canonical bool
}

var vectors = []vector{
	{name: "connect", wire: "CONNECT alexandre\n", req: &Request{Verb: VerbConnect, Name: b("alexandre")}, canonical: true},
	{name: "connect-password", wire: "CONNECT alice s3cret\n", req: &Request{Verb: VerbConnect, Name: b("alice"), Secret: b("s3cret")}, canonical: true},
	{name: "send", wire: "SEND group1 Hello ceci est un test\n", req: &Request{Verb: VerbSend, Name: b("group1"), Text: b("Hello ceci est un test")}, canonical: true},
	{name: "send-phone-crlf", wire: "SEND +16195550100 on my way  :)\r\n", req: &Request{Verb: VerbSend, Name: b("+16195550100"), Text: b("on my way  :)")}},
	{name: "sync", wire: "SYNC group1 1700000000\n", req: &Request{Verb: VerbSync, Name: b("group1"), HasGroup: true, After: 1700000000}, canonical: true},
	{name: "sync-bare", wire: "SYNC\n", req: &Request{Verb: VerbSync}, canonical: true},
	{name: "sync-no-after", wire: "SYNC group1\n", req: &Request{Verb: VerbSync, Name: b("group1"), HasGroup: true}},
	{name: "accept", wire: "ACCEPT\n", rep: &Reply{Verb: VerbAccept}, canonical: true},
	{name: "decline", wire: "DECLINE username_taken\n", rep: &Reply{Verb: VerbDecline, Reason: b("username_taken")}, canonical: true},
	{name: "ack", wire: "ACK\n", rep: &Reply{Verb: VerbAck}, canonical: true},
	{name: "msg", wire: "MSG group1 alexandre 1700000000 Hello ceci est un test\n", rep: &Reply{Verb: VerbMsg, Group: b("group1"), Sender: b("alexandre"), Time: 1700000000, Text: b("Hello ceci est un test")}, canonical: true},
	{name: "msg-utf8", wire: "MSG équipe zoë 1700000001 ça va ? ☃\n", rep: &Reply{Verb: VerbMsg, Group: b("équipe"), Sender: b("zoë"), Time: 1700000001, Text: b("ça va ? ☃")}, canonical: true},
	{name: "endsync", wire: "ENDSYNC\n", rep: &Reply{Verb: VerbEndSync}, canonical: true},
	{name: "bad-double-space", wire: "SEND  x\n", err: ErrBadFormat},
	{name: "bad-timestamp", wire: "SYNC group1 -5\n", err: ErrBadFormat},
	{name: "bad-utf8", wire: "SEND bob caf\xe9\n", err: ErrBadUTF8},
	{name: "not-client", wire: "ACK\n", err: ErrNotClientCommand},
}

// TestVectors reads every vector through a Reader, parses it, and encodes
// the canonical ones back to the same bytes.
func TestVectors(t *testing.T) {
	for _, v := range vectors {
		line, err := NewReader(strings.NewReader(v.wire), DefaultMaxLine).ReadLine()
		if err != nil {
			t.Errorf("%s: ReadLine: %v", v.name, err)
			continue
		}
		switch {
		case v.err != nil:
			if _, err := ParseRequest(line); !errors.Is(err, v.err) {
				t.Errorf("%s: ParseRequest error %v, want %v", v.name, err, v.err)
			}
		case v.req != nil:
			got, err := ParseRequest(line)
			if err != nil || !requestsEqual(got, *v.req) {
				t.Errorf("%s: ParseRequest = %+v, %v; want %+v", v.name, got, err, *v.req)
			}
			if enc := appendRequest(nil, *v.req); v.canonical && string(enc) != v.wire {
				t.Errorf("%s: encodes to %q, want %q", v.name, enc, v.wire)
			}
		default:
			got, err := ParseReply(line)
			if err != nil || !repliesEqual(got, *v.rep) {
				t.Errorf("%s: ParseReply = %+v, %v; want %+v", v.name, got, err, *v.rep)
			}
			if enc := appendReply(nil, *v.rep); v.canonical && string(enc) != v.wire {
				t.Errorf("%s: encodes to %q, want %q", v.name, enc, v.wire)
			}
		}
	}
}

const docPath = "../../docs/cpt.md"

// TestDocVectors checks that docs/cpt.md shows every vector, as a row
// "| name | `"Go-quoted bytes"` | ... |" of its test-vector table, and no
// row that the test does not check. CPT_PRINT_VECTORS=1 prints the rows.
func TestDocVectors(t *testing.T) {
	if os.Getenv("CPT_PRINT_VECTORS") == "1" {
		for _, v := range vectors {
			t.Logf("| %s | `%s` | |", v.name, strconv.Quote(v.wire))
		}
		return
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`\"") {
			continue
		}
		name := strings.TrimSpace(cells[1])
		q := strings.Trim(strings.TrimSpace(cells[2]), "`")
		wire, err := strconv.Unquote(q)
		if err != nil {
			t.Errorf("%s: the doc's %s is not a Go string: %v", name, q, err)
			continue
		}
		shown[name] = wire
	}
	for _, v := range vectors {
		got, ok := shown[v.name]
		switch {
		case !ok:
			t.Errorf("%s: not in %s", v.name, docPath)
		case got != v.wire:
			t.Errorf("%s: the doc shows %q, the test checks %q", v.name, got, v.wire)
		}
		delete(shown, v.name)
	}
	for name := range shown {
		t.Errorf("%s: in %s but not checked by the test", name, docPath)
	}
}
