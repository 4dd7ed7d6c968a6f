package udpchat

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The vectors of docs/udpchat.md.
func TestEncodeVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"ok", AppendOK(nil), "000000"},
		{"error", AppendError(nil, "user not found"), "01000e75736572206e6f7420666f756e64"},
		{"register", AppendPacket(nil, OpRegister, []byte("bob")), "0b0003626f62"},
		{"logout", AppendPacket(nil, OpLogout), "0c0000"},
		{"info", AppendPacket(nil, OpInfo), "280000"},
		{"list request", AppendPacket(nil, OpList), "2a0000"},
		{"broadcast", AppendPacket(nil, OpBroadcast, []byte("hi")), "1400026869"},
		{"public", AppendNameText(nil, OpPublic, []byte("bob"), []byte("hi")), "150006626f62006869"},
		{"private", AppendNameText(nil, OpPrivate, []byte("amy"), []byte("yo")), "160006616d7900796f"},
		{"direct", AppendNameText(nil, OpDirect, []byte("bob"), []byte("yo")), "170006626f6200796f"},
		{"list", AppendLists(nil, []string{"amy", "bob"}, 1472)[0], "2b0007616d7900626f62"},
		{"empty list", AppendLists(nil, nil, 1472)[0], "2b0000"},
	} {
		if got := hex.EncodeToString(tc.got); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		op   byte
		data string
		err  error
	}{
		{"000000", OpOK, "", nil},
		{"0b0003626f62", OpRegister, "bob", nil},
		{"", 0, "", ErrShort},
		{"0b00", 0, "", ErrShort},
		{"0b0004626f62", 0, "", ErrLength}, // LENGTH says more than there is
		{"0b0002626f62", 0, "", ErrLength}, // and less
		{"0bffff", 0, "", ErrLength},       // a LENGTH no datagram backs
		{"630000", 99, "", nil},            // unknown opcodes decode; the server refuses them
		{"140003610062", OpBroadcast, "a\x00b", nil},
	} {
		b, _ := hex.DecodeString(tc.in)
		p, err := Decode(b)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && (p.Op != tc.op || string(p.Data) != tc.data) {
			t.Errorf("%s: %d %q, want %d %q", tc.in, p.Op, p.Data, tc.op, tc.data)
		}
	}
}

func TestSplitNameText(t *testing.T) {
	name, text, err := SplitNameText([]byte("amy\x00hello"))
	if err != nil || string(name) != "amy" || string(text) != "hello" {
		t.Fatalf("got %q %q %v", name, text, err)
	}
	if _, _, err := SplitNameText([]byte("amyhello")); !errors.Is(err, ErrNoSeparator) {
		t.Fatalf("no separator: %v", err)
	}
}

// Lists longer than one datagram are split between names, never inside
// one, and each packet's LENGTH is right.
func TestAppendListsSplits(t *testing.T) {
	var names []string
	for i := 0; i < 200; i++ {
		names = append(names, strings.Repeat(string(rune('a'+i%26)), 1+i%32))
	}
	pkts := AppendLists(nil, names, 256)
	if len(pkts) < 2 {
		t.Fatalf("%d packets for a long list", len(pkts))
	}
	var got []string
	for _, p := range pkts {
		if len(p) > 256 {
			t.Fatalf("packet of %d bytes over the 256 limit", len(p))
		}
		d, err := Decode(p)
		if err != nil || d.Op != OpListReply {
			t.Fatalf("packet %x: %v", p[:3], err)
		}
		got = append(got, SplitList(d.Data)...)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("names changed across the split")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"000000", "0b0003626f62", "160006616d7900796f", "2b0007616d7900626f62", "0b00", "0bffff", ""} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// A decoded packet encodes back to the same datagram.
		if got := AppendPacket(nil, p.Op, p.Data); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
		if name, text, err := SplitNameText(p.Data); err == nil {
			if got := AppendNameText(nil, p.Op, name, text); !bytes.Equal(got, b) {
				t.Fatalf("name/text re-encoded %x, want %x", got, b)
			}
		}
		_ = SplitList(p.Data)
	})
}
