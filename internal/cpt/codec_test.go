package cpt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"switchboard/internal/chat"
)

// b is a shorthand for the byte slices of the tables.
func b(s string) []byte { return []byte(s) }

func TestParseRequest(t *testing.T) {
	long := strings.Repeat("n", MaxName)
	tests := []struct {
		line string
		want Request
		err  error // a sentinel that errors.Is must find
	}{
		{"CONNECT alice", Request{Verb: VerbConnect, Name: b("alice")}, nil},
		{"CONNECT alice s3cret", Request{Verb: VerbConnect, Name: b("alice"), Secret: b("s3cret")}, nil},
		{"CONNECT " + long, Request{Verb: VerbConnect, Name: b(long)}, nil},
		{"CONNECT élodie", Request{Verb: VerbConnect, Name: b("élodie")}, nil},
		{"SEND group1 Hello ceci est un test", Request{Verb: VerbSend, Name: b("group1"), Text: b("Hello ceci est un test")}, nil},
		{"SEND bob  two  spaces kept ", Request{Verb: VerbSend, Name: b("bob"), Text: b(" two  spaces kept ")}, nil},
		{"SEND bob tab\there", Request{Verb: VerbSend, Name: b("bob"), Text: b("tab\there")}, nil},
		{"SEND +16195550100 hi", Request{Verb: VerbSend, Name: b("+16195550100"), Text: b("hi")}, nil},
		{"SEND 6195550100 hi", Request{Verb: VerbSend, Name: b("6195550100"), Text: b("hi")}, nil},
		{"SEND bob ☃ snow", Request{Verb: VerbSend, Name: b("bob"), Text: b("☃ snow")}, nil},
		{"SYNC", Request{Verb: VerbSync}, nil},
		{"SYNC group1 0", Request{Verb: VerbSync, Name: b("group1"), HasGroup: true}, nil},
		{"SYNC group1 1700000000", Request{Verb: VerbSync, Name: b("group1"), HasGroup: true, After: 1700000000}, nil},
		{"SYNC group1 9223372036854775807", Request{Verb: VerbSync, Name: b("group1"), HasGroup: true, After: 1<<63 - 1}, nil},
		{"SYNC group1 007", Request{Verb: VerbSync, Name: b("group1"), HasGroup: true, After: 7}, nil},
		// The documented leniency: a group without a timestamp is after 0.
		{"SYNC group1", Request{Verb: VerbSync, Name: b("group1"), HasGroup: true}, nil},

		{"", Request{}, ErrUnknownCommand},
		{"HELLO", Request{}, ErrUnknownCommand},
		{"connect alice", Request{}, ErrUnknownCommand},
		{" CONNECT alice", Request{}, ErrUnknownCommand},
		{"CONNECT\talice", Request{}, ErrUnknownCommand},
		{"ACCEPT", Request{Verb: VerbAccept}, ErrNotClientCommand},
		{"DECLINE x", Request{Verb: VerbDecline}, ErrNotClientCommand},
		{"ACK", Request{Verb: VerbAck}, ErrNotClientCommand},
		{"MSG g s 0 t", Request{Verb: VerbMsg}, ErrNotClientCommand},
		{"ENDSYNC", Request{Verb: VerbEndSync}, ErrNotClientCommand},

		{"CONNECT", Request{Verb: VerbConnect}, ErrBadFormat},
		{"CONNECT ", Request{Verb: VerbConnect}, ErrBadName},
		{"CONNECT  alice", Request{Verb: VerbConnect}, ErrBadName},
		{"CONNECT alice ", Request{Verb: VerbConnect}, ErrBadFormat},
		{"CONNECT alice pw extra", Request{Verb: VerbConnect}, ErrBadFormat},
		{"CONNECT alice p\x7fw", Request{Verb: VerbConnect}, ErrBadFormat},
		{"CONNECT " + long + "x", Request{Verb: VerbConnect}, ErrBadName},
		{"CONNECT al\x01ice", Request{Verb: VerbConnect}, ErrBadName},
		{"CONNECT al\x7fice", Request{Verb: VerbConnect}, ErrBadName},
		{"SEND", Request{Verb: VerbSend}, ErrBadFormat},
		{"SEND bob", Request{Verb: VerbSend}, ErrBadFormat},
		{"SEND bob ", Request{Verb: VerbSend}, ErrBadFormat},
		{"SEND  bob hi", Request{Verb: VerbSend}, ErrBadName},
		{"SEND  x", Request{Verb: VerbSend}, ErrBadName},
		{"SEND bob a\x00b", Request{Verb: VerbSend}, ErrBadFormat},
		{"SEND bob a\rb", Request{Verb: VerbSend}, ErrBadFormat},
		{"SEND bob \x1b[31mred", Request{Verb: VerbSend}, ErrBadFormat},
		{"SYNC ", Request{Verb: VerbSync}, ErrBadName},
		{"SYNC g ", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g -1", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g +1", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g 1.5", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g 9223372036854775808", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g 99999999999999999999", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC g 1 2", Request{Verb: VerbSync}, ErrBadFormat},
		{"SYNC  g 1", Request{Verb: VerbSync}, ErrBadName},

		{"SEND bob caf\xe9", Request{}, ErrBadUTF8},
		{"\xffCONNECT alice", Request{}, ErrBadUTF8},
		{"FOO \xc3", Request{}, ErrBadUTF8},
	}
	for _, tt := range tests {
		got, err := ParseRequest([]byte(tt.line))
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("ParseRequest(%q): error %v, want %v", tt.line, err, tt.err)
			continue
		}
		if tt.err != nil {
			if got.Verb != tt.want.Verb {
				t.Errorf("ParseRequest(%q): verb %v on error, want %v", tt.line, got.Verb, tt.want.Verb)
			}
			continue
		}
		if !requestsEqual(got, tt.want) {
			t.Errorf("ParseRequest(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

// requestsEqual compares requests, telling a nil Secret or Name from an
// empty one, since nil is how "absent" is spelled.
func requestsEqual(a, b Request) bool {
	return a.Verb == b.Verb && a.After == b.After && a.HasGroup == b.HasGroup &&
		bytes.Equal(a.Name, b.Name) && (a.Name == nil) == (b.Name == nil) &&
		bytes.Equal(a.Secret, b.Secret) && (a.Secret == nil) == (b.Secret == nil) &&
		bytes.Equal(a.Text, b.Text)
}

func repliesEqual(a, b Reply) bool {
	return a.Verb == b.Verb && a.Time == b.Time && bytes.Equal(a.Reason, b.Reason) &&
		bytes.Equal(a.Group, b.Group) && bytes.Equal(a.Sender, b.Sender) && bytes.Equal(a.Text, b.Text)
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		line string
		want Reply
		err  error
	}{
		{"ACCEPT", Reply{Verb: VerbAccept}, nil},
		{"ACK", Reply{Verb: VerbAck}, nil},
		{"ENDSYNC", Reply{Verb: VerbEndSync}, nil},
		{"DECLINE username_taken", Reply{Verb: VerbDecline, Reason: b("username_taken")}, nil},
		{"DECLINE some free text", Reply{Verb: VerbDecline, Reason: b("some free text")}, nil},
		{"MSG group1 red 1700000000 Before joined", Reply{Verb: VerbMsg, Group: b("group1"), Sender: b("red"), Time: 1700000000, Text: b("Before joined")}, nil},
		{"MSG g system 0 announcement", Reply{Verb: VerbMsg, Group: b("g"), Sender: b("system"), Text: b("announcement")}, nil},
		{"MSG g s 5  spaced ", Reply{Verb: VerbMsg, Group: b("g"), Sender: b("s"), Time: 5, Text: b(" spaced ")}, nil},
		{"MSG g s 5 ", Reply{Verb: VerbMsg, Group: b("g"), Sender: b("s"), Time: 5}, nil},
		{"MSG g s 5", Reply{Verb: VerbMsg, Group: b("g"), Sender: b("s"), Time: 5}, nil},

		{"", Reply{}, ErrUnknownCommand},
		{"WHAT", Reply{}, ErrUnknownCommand},
		{"CONNECT alice", Reply{Verb: VerbConnect}, ErrUnknownCommand},
		{"SEND a b", Reply{Verb: VerbSend}, ErrUnknownCommand},
		{"SYNC", Reply{Verb: VerbSync}, ErrUnknownCommand},
		{"ACCEPT now", Reply{Verb: VerbAccept}, ErrBadFormat},
		{"ACK ", Reply{Verb: VerbAck}, ErrBadFormat},
		{"ENDSYNC x", Reply{Verb: VerbEndSync}, ErrBadFormat},
		{"DECLINE", Reply{Verb: VerbDecline}, ErrBadFormat},
		{"DECLINE ", Reply{Verb: VerbDecline}, ErrBadFormat},
		{"MSG", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g s", Reply{Verb: VerbMsg}, ErrBadFormat},
		// The spec's diagram writes the bare-SYNC answer without a group;
		// the MSG definition has one, and so do we.
		{"MSG red 1700000000 Private message", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG  s 5 t", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g  5 t", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g s -5 t", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g s x t", Reply{Verb: VerbMsg}, ErrBadFormat},
		{"MSG g s 5\xff", Reply{}, ErrBadUTF8},
	}
	for _, tt := range tests {
		got, err := ParseReply([]byte(tt.line))
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("ParseReply(%q): error %v, want %v", tt.line, err, tt.err)
			continue
		}
		if tt.err != nil {
			if got.Verb != tt.want.Verb {
				t.Errorf("ParseReply(%q): verb %v on error, want %v", tt.line, got.Verb, tt.want.Verb)
			}
			continue
		}
		if !repliesEqual(got, tt.want) {
			t.Errorf("ParseReply(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{"NOPE", ReasonInvalidCommand},
		{"", ReasonInvalidCommand},
		{"ACK", ReasonUnsupportedCommand},
		{"MSG a b 0 c", ReasonUnsupportedCommand},
		{"SEND bob", ReasonInvalidCommand},
		{"CONNECT " + strings.Repeat("x", 33), ReasonInvalidCommand},
		{"SYNC g -1", ReasonInvalidCommand},
		{"SEND bob \xff", ReasonInvalidUTF8},
	}
	for _, tt := range tests {
		_, err := ParseRequest([]byte(tt.line))
		if got := Reason(err); got != tt.want {
			t.Errorf("Reason(ParseRequest(%q) = %v) = %q, want %q", tt.line, err, got, tt.want)
		}
	}
	if got := Reason(ErrLineTooLong); got != ReasonLineTooLong {
		t.Errorf("Reason(ErrLineTooLong) = %q", got)
	}
}

// Every sentinel chain is what the doc comments promise: a name error is
// both ErrBadName and ErrBadFormat, and no error is two kinds at once.
func TestErrorKinds(t *testing.T) {
	err := ValidName(b("a b"))
	if !errors.Is(err, ErrBadName) || !errors.Is(err, ErrBadFormat) {
		t.Errorf("ValidName error %v is not ErrBadName and ErrBadFormat", err)
	}
	if strings.Contains(err.Error(), "a b") {
		t.Errorf("the error %q quotes the name", err)
	}
	_, err = ParseRequest(b("SEND bob x\x00y"))
	if errors.Is(err, ErrBadName) {
		t.Errorf("a text error %v is ErrBadName", err)
	}
	kinds := []error{ErrUnknownCommand, ErrNotClientCommand, ErrBadFormat, ErrBadUTF8, ErrLineTooLong}
	for _, line := range []string{"X", "ACK", "SEND", "SEND a \xff"} {
		_, err := ParseRequest(b(line))
		n := 0
		for _, k := range kinds {
			if errors.Is(err, k) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("ParseRequest(%q) = %v matches %d kinds", line, err, n)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "alice", "+16195550100", "6195550100", "Zoë", "日本語", "a-b_c.d", strings.Repeat("é", 16)} {
		if err := ValidName(b(ok)); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a b", "a\x00", "a\tb", "a\nb", "\x7f", strings.Repeat("é", 16) + "x", "\xc3", strings.Repeat("a", 33)} {
		if err := ValidName(b(bad)); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

func TestValidText(t *testing.T) {
	for _, ok := range []string{"x", " ", "a\tb", "del\x7f", "\u0085", "emoji 🎉"} {
		if err := ValidText(b(ok)); err != nil {
			t.Errorf("ValidText(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\nb", "a\rb", "\x00", "\x1b[2J", "\xed\xa0\x80"} {
		if err := ValidText(b(bad)); !errors.Is(err, ErrBadFormat) {
			t.Errorf("ValidText(%q) = %v, want ErrBadFormat", bad, err)
		}
	}
}

func TestIsReserved(t *testing.T) {
	for name, want := range map[string]bool{"system": true, "SYSTEM": true, "System": true, "systems": false, "sys": false, "": false} {
		if got := chat.IsReserved(b(name)); got != want {
			t.Errorf("IsReserved(%q) = %v", name, got)
		}
	}
}

func TestVerbString(t *testing.T) {
	if VerbEndSync.String() != "ENDSYNC" || Verb(0).String() != "Verb(0)" || Verb(200).String() != "Verb(200)" {
		t.Errorf("Verb.String: %v %v %v", VerbEndSync, Verb(0), Verb(200))
	}
	for v := VerbConnect; v <= VerbEndSync; v++ {
		if lookupVerb(b(v.String())) != v {
			t.Errorf("%v does not look up to itself", v)
		}
	}
}

// TestEncoders checks each encoder's bytes and that what it writes parses
// back to what it was given.
func TestEncoders(t *testing.T) {
	check := func(got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("encoded %q, want %q", got, want)
		}
	}
	check(AppendConnect(nil, "alice", ""), "CONNECT alice\n")
	check(AppendConnect(nil, "alice", "pw"), "CONNECT alice pw\n")
	check(AppendSend(nil, "g", b("a  b")), "SEND g a  b\n")
	check(AppendSync(nil, "", 99), "SYNC\n")
	check(AppendSync(nil, "g", 0), "SYNC g 0\n")
	check(AppendSync(nil, "g", 1700000000), "SYNC g 1700000000\n")
	check(AppendAccept(nil), "ACCEPT\n")
	check(AppendDecline(nil, ReasonUsernameTaken), "DECLINE username_taken\n")
	check(AppendAck(nil), "ACK\n")
	check(AppendEndSync(nil), "ENDSYNC\n")
	check(AppendMsg(nil, "g", "bob", 1700000000, b("hi there")), "MSG g bob 1700000000 hi there\n")
	check(AppendAck(b("ACK\n")), "ACK\nACK\n")

	reqs := []Request{
		{Verb: VerbConnect, Name: b("alice")},
		{Verb: VerbConnect, Name: b("alice"), Secret: b("pw")},
		{Verb: VerbSend, Name: b("g"), Text: b(" x ")},
		{Verb: VerbSync},
		{Verb: VerbSync, Name: b("g"), HasGroup: true, After: 12},
	}
	for _, r := range reqs {
		line := appendRequest(nil, r)
		got, err := ParseRequest(line[:len(line)-1])
		if err != nil || !requestsEqual(got, r) {
			t.Errorf("%q parses to %+v, %v; want %+v", line, got, err, r)
		}
	}
	reps := []Reply{
		{Verb: VerbAccept}, {Verb: VerbAck}, {Verb: VerbEndSync},
		{Verb: VerbDecline, Reason: b(ReasonNotConnected)},
		{Verb: VerbMsg, Group: b("g"), Sender: b("s"), Time: 3, Text: b("t t")},
	}
	for _, r := range reps {
		line := appendReply(nil, r)
		got, err := ParseReply(line[:len(line)-1])
		if err != nil || !repliesEqual(got, r) {
			t.Errorf("%q parses to %+v, %v; want %+v", line, got, err, r)
		}
	}
}

// appendRequest encodes a parsed request with the public encoders (the
// round-trip tests' inverse of ParseRequest).
func appendRequest(dst []byte, r Request) []byte {
	switch r.Verb {
	case VerbConnect:
		return AppendConnect(dst, string(r.Name), string(r.Secret))
	case VerbSend:
		return AppendSend(dst, string(r.Name), r.Text)
	case VerbSync:
		return AppendSync(dst, string(r.Name), r.After)
	}
	panic("not a request verb: " + r.Verb.String())
}

func appendReply(dst []byte, r Reply) []byte {
	switch r.Verb {
	case VerbAccept:
		return AppendAccept(dst)
	case VerbAck:
		return AppendAck(dst)
	case VerbEndSync:
		return AppendEndSync(dst)
	case VerbDecline:
		return AppendDecline(dst, string(r.Reason))
	case VerbMsg:
		return AppendMsg(dst, string(r.Group), string(r.Sender), r.Time, r.Text)
	}
	panic("not a reply verb: " + r.Verb.String())
}
