package pms

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleSM() *Record {
	return &Record{
		Index:       42,
		Kind:        KindSM,
		Entry:       time.Unix(1700000000, 123456789),
		Validity:    86400,
		SrcClass:    ClassLocal,
		DstClass:    ClassGSM,
		PID:         0x00,
		DCS:         0x00,
		ESM:         0x40,
		MR:          7,
		UDL:         10,
		UD:          []byte{0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0xE8, 0x32, 0x9B, 0x0D},
		ConcatRef:   0x2A,
		ConcatTotal: 2,
		ConcatSeq:   1,
		Src:         Address{TON: 1, NPI: 1, Digits: "16195550100"},
		Dst:         Address{TON: 0, NPI: 1, Digits: "6195550101"},
		SrcPeer:     "",
		State: State{
			SRR:  true,
			IMSI: "310150123456789",
		},
	}
}

func roundTrip(t *testing.T, r *Record) *Record {
	t.Helper()
	var b [RecordSize]byte
	if err := Encode(b[:], r); err != nil {
		t.Fatalf("encode: %v", err)
	}
	var got Record
	if err := Decode(b[:], &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &got
}

func TestRoundTripSM(t *testing.T) {
	r := sampleSM()
	got := roundTrip(t, r)
	if !got.Entry.Equal(r.Entry) {
		t.Fatalf("entry %v != %v", got.Entry, r.Entry)
	}
	got.Entry = r.Entry
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if want := r.Entry.Add(24 * time.Hour); !got.Expiry().Equal(want) {
		t.Fatalf("expiry %v, want %v", got.Expiry(), want)
	}
}

func TestRoundTripVariants(t *testing.T) {
	alpha := sampleSM()
	alpha.Src = Address{TON: TONAlphanumeric, NPI: 0, Digits: "Themyscir["}
	alpha.DstClass = ClassDownstream
	alpha.State = State{Disposition: Delivered, Discharged: time.Unix(1700000100, 0), DstPeer: "sd2g-peer-name16", Attempts: 3, Reason: 9}
	alpha.SrcPeer = "abcdefghijklmnop"
	alpha.StatusReport = true
	alpha.UD = bytes.Repeat([]byte{0xAB}, MaxUD)

	up := sampleSM()
	up.DstClass = ClassUpstream
	up.Dst = Address{TON: 1, NPI: 1, Digits: "442079460000"}
	up.State = State{PeerMsgID: "0123456789abcdef"}
	up.IMSIAddressed = true
	up.Src = Address{TON: 0, NPI: 0, Digits: "*#abc0123456789*#abc"}

	empty := &Record{Kind: KindSM, Entry: time.Unix(0, 1), DstClass: ClassLocal, State: State{Disposition: Stored}}

	chat := &Record{
		Index: 1, Kind: KindChat, Entry: time.Unix(1700000000, 0), SrcClass: ClassChat, DstClass: ClassChat,
		From: "alexandre", To: strings.Repeat("g", MaxChatName), ToGroup: true, Part: 1, Parts: 3,
		Text:  []byte(strings.Repeat("é", MaxChatText/2)),
		State: State{Disposition: Stored},
	}
	// A replacement for a downstream peer, asking for failure reports only;
	// its index field uses all 48 bits.
	repl := sampleSM()
	repl.ESM, repl.UDL, repl.UD = 0, 2, []byte{0xC8, 0x34}
	repl.ConcatRef, repl.ConcatTotal, repl.ConcatSeq = 0, 0, 0
	repl.Replacement, repl.Replaces = true, MaxReplaces
	repl.DstClass = ClassDownstream
	repl.State = State{SRR: true, SRRFailureOnly: true, DstPeer: "pa"}
	// The first record ever written can be replaced too: index 0.
	repl0 := sampleSM()
	repl0.ESM, repl0.ConcatRef, repl0.ConcatTotal, repl0.ConcatSeq = 0, 0, 0, 0
	repl0.Replacement = true
	// A replaced record keeps where its SM went instead of its destination.
	replaced := sampleSM()
	replaced.State = State{Disposition: Replaced, Discharged: time.Unix(1700000100, 0), ReplacedBy: 1<<63 + 5, SRR: true}
	for name, r := range map[string]*Record{"alpha": alpha, "upstream": up, "empty": empty, "chat": chat,
		"replacement": repl, "replacement of 0": repl0, "replaced": replaced} {
		t.Run(name, func(t *testing.T) {
			got := roundTrip(t, r)
			got.Entry = r.Entry
			if !got.State.Discharged.Equal(r.State.Discharged) {
				t.Fatalf("discharged %v != %v", got.State.Discharged, r.State.Discharged)
			}
			got.State.Discharged = r.State.Discharged
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

// TestVector pins the byte layout documented in docs/pms.md.
func TestVector(t *testing.T) {
	r := &Record{
		Index: 1, Kind: KindSM, Entry: time.Unix(0, 0x0102030405060708), Validity: 3600,
		SrcClass: ClassLocal, DstClass: ClassUpstream, DCS: 0, UDL: 2, UD: []byte{0xC8, 0x34},
		Src:   Address{TON: 1, NPI: 1, Digits: "16195550100"},
		Dst:   Address{TON: 0, NPI: 0, Digits: "12345"},
		State: State{SRR: true, PeerMsgID: "abc"},
	}
	var b [RecordSize]byte
	if err := Encode(b[:], r); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		0:   "5342010163ed2150",                 // magic "SB", version 1, kind SM, body CRC-32C
		8:   "0000000000000001",                 // index
		16:  "0102030405060708",                 // entry time, ns
		24:  "00000e10",                         // validity 3600 s
		28:  "01030000",                         // src class local, dst class upstream, flags, reserved
		32:  "00000000020200000000",             // pid dcs esm mr udl ud_len, concat ref/total/seq
		42:  "0b916191550501f0",                 // src: 11 semi-octets, TOA 0x91, BCD
		54:  "05802143f5",                       // dst: 5 semi-octets, TOA 0x80, BCD
		84:  "c834",                             // user data
		224: "00010000000000000000000061626300", // disposition, flags (SRR), attempts, reason, discharged, peer msg id
		252: "abdfed37",                         // state CRC-32C
	}
	for off, hexs := range want {
		if len(hexs)%2 == 1 {
			hexs = hexs[:len(hexs)-1]
		}
		w, err := hex.DecodeString(hexs)
		if err != nil {
			t.Fatal(err)
		}
		if got := b[off : off+len(w)]; !bytes.Equal(got, w) {
			t.Errorf("offset %d: got %x want %x", off, got, w)
		}
	}
	if t.Failed() {
		t.Logf("record:\n%s", hex.Dump(b[:]))
	}
}

// TestReplacementVector pins the bytes a replacement and a replaced
// record use (docs/pms.md, replacement).
func TestReplacementVector(t *testing.T) {
	r := &Record{
		Index: 9, Kind: KindSM, Entry: time.Unix(0, 0x0102030405060708), Validity: 3600,
		SrcClass: ClassDownstream, SrcPeer: "pa", DstClass: ClassDownstream, DCS: 0, UDL: 2, UD: []byte{0xC8, 0x34},
		Src:         Address{TON: 1, NPI: 1, Digits: "17605550002"},
		Dst:         Address{TON: 1, NPI: 1, Digits: "18585550001"},
		Replacement: true, Replaces: 0x0000_0102_0304_0506,
		State: State{SRR: true, SRRFailureOnly: true, DstPeer: "pb"},
	}
	var b [RecordSize]byte
	if err := Encode(b[:], r); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		28:  "04040400",                         // src and dst class downstream, flags: replacement, reserved
		32:  "00000000020203040506",             // pid dcs esm mr udl ud_len, then the low 32 bits of Replaces
		66:  "7061",                             // source peer "pa"
		82:  "0102",                             // the high 16 bits of Replaces
		84:  "c834",                             // user data
		224: "00050000000000000000000070620000", // active, flags SRR|failure-only, attempts, reason, discharged, peer "pb"
		252: "27f46ac2",                         // state CRC-32C
	}
	checkBytes(t, b[:], want)
	var got Record
	if err := Decode(b[:], &got); err != nil || !got.Replacement || got.Replaces != r.Replaces || got.ConcatTotal != 0 {
		t.Fatalf("decoded %+v, %v", got, err)
	}

	var st [StateSize]byte
	if err := EncodeState(st[:], ClassDownstream, &State{Disposition: Replaced, Discharged: time.Unix(0, 0x1122334455667788),
		ReplacedBy: 10, DstPeer: "pb"}); err != nil {
		t.Fatal(err)
	}
	checkBytes(t, st[:], map[int]string{
		0:  "06000000112233445566778800000000", // replaced, no flags, attempts, reason, discharged, replaced by...
		16: "0000000a0000000000000000ff98a9d3", // ...index 10 (the peer name is not kept), state CRC-32C
	})
}

func checkBytes(t *testing.T, b []byte, want map[int]string) {
	t.Helper()
	for off, hexs := range want {
		w, err := hex.DecodeString(hexs)
		if err != nil {
			t.Fatal(err)
		}
		if got := b[off : off+len(w)]; !bytes.Equal(got, w) {
			t.Errorf("offset %d: got %x want %x", off, got, w)
		}
	}
	if t.Failed() {
		t.Logf("bytes:\n%s", hex.Dump(b))
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]func(r *Record){
		"ud too long":       func(r *Record) { r.UD = make([]byte, MaxUD+1) },
		"address too long":  func(r *Record) { r.Dst.Digits = strings.Repeat("1", MaxAddrDigits+1) },
		"bad digit":         func(r *Record) { r.Dst.Digits = "12x4" },
		"alpha too long":    func(r *Record) { r.Src = Address{TON: 5, Digits: "ABCDEFGHIJKL"} },
		"alpha unencodable": func(r *Record) { r.Src = Address{TON: 5, Digits: "日本"} },
		"ton range":         func(r *Record) { r.Src.TON = 8 },
		"peer too long":     func(r *Record) { r.SrcPeer = strings.Repeat("p", MaxPeerName+1) },
		"peer NUL":          func(r *Record) { r.SrcPeer = "a\x00b" },
		"imsi on upstream":  func(r *Record) { r.DstClass = ClassUpstream },
		"imsi too long":     func(r *Record) { r.State.IMSI = "1234567890123456" },
		"imsi not digits":   func(r *Record) { r.State.IMSI = "12345a" },
		"kind":              func(r *Record) { r.Kind = 9 },
		"empty with ton":    func(r *Record) { r.Dst = Address{TON: 1} },
		"replacement part":  func(r *Record) { r.Replacement = true },
		"replaces too big": func(r *Record) {
			r.ConcatRef, r.ConcatTotal, r.ConcatSeq = 0, 0, 0
			r.Replacement, r.Replaces = true, MaxReplaces+1
		},
		"chat replacement": func(r *Record) {
			*r = Record{Kind: KindChat, SrcClass: ClassChat, DstClass: ClassChat, From: "a", To: "b", Replacement: true}
		},
		"replaced-by while active": func(r *Record) { r.State.ReplacedBy = 3 },
	}
	for name, mut := range cases {
		r := sampleSM()
		mut(r)
		var b [RecordSize]byte
		if err := Encode(b[:], r); err == nil {
			t.Errorf("%s: no error", name)
		} else if !bytes.Equal(b[:], make([]byte, RecordSize)) {
			t.Errorf("%s: destination written on error", name)
		}
	}
}

func TestDecodeDetectsDamage(t *testing.T) {
	var good [RecordSize]byte
	if err := Encode(good[:], sampleSM()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < RecordSize; i++ {
		if i >= bodyCRCOff && i < indexOff {
			continue
		}
		b := good
		b[i] ^= 0x10
		var r Record
		err := Decode(b[:], &r)
		switch {
		case i < 2:
			if !errors.Is(err, ErrMagic) {
				t.Errorf("byte %d: %v", i, err)
			}
		case i == 2:
			if !errors.Is(err, ErrVersion) {
				t.Errorf("byte %d: %v", i, err)
			}
		case i < stateOffset:
			if !errors.Is(err, ErrBodyCRC) {
				t.Errorf("byte %d: %v", i, err)
			}
		default:
			if !errors.Is(err, ErrStateCRC) {
				t.Errorf("byte %d: %v", i, err)
			}
			if r.Index != 42 || r.State != (State{}) {
				t.Errorf("byte %d: body not decoded or state not cleared: %+v", i, r)
			}
		}
	}
	var r Record
	if err := Decode(good[:100], &r); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
}

func TestClassAndDispositionNames(t *testing.T) {
	for c := ClassNone; c <= ClassChat; c++ {
		got, err := ParseClass(c.String())
		if err != nil || got != c {
			t.Errorf("class %d: %v %v", c, got, err)
		}
	}
	if _, err := ParseClass("nope"); err == nil {
		t.Error("ParseClass accepted nope")
	}
	if Active.Historical() || !Stored.Historical() || Cancelled.String() != "cancelled" {
		t.Error("disposition helpers")
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever decodes cleanly must encode back to the same bytes.
// fuzzSeeds are the records the fuzz targets start from: an ordinary SM, a
// replacement and a replaced record, so that the layouts that reuse bytes
// are explored too.
func fuzzSeeds() []*Record {
	repl := sampleSM()
	repl.ESM, repl.ConcatRef, repl.ConcatTotal, repl.ConcatSeq = 0, 0, 0, 0
	repl.Replacement, repl.Replaces = true, 0x0000_0102_0304_0506
	repl.State.SRRFailureOnly = true
	replaced := sampleSM()
	replaced.State = State{Disposition: Replaced, Discharged: time.Unix(1700000100, 0), ReplacedBy: 43}
	return []*Record{sampleSM(), repl, replaced}
}

func FuzzDecode(f *testing.F) {
	var b [RecordSize]byte
	for _, r := range fuzzSeeds() {
		if err := Encode(b[:], r); err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), b[:]...))
	}
	f.Add(make([]byte, RecordSize))
	f.Add([]byte("SB\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := Decode(data, &r); err != nil {
			return
		}
		var out [RecordSize]byte
		if err := Encode(out[:], &r); err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
		var again Record
		if err := Decode(out[:], &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normal(&r), normal(&again)) {
			t.Fatalf("decode/encode/decode differs:\n%+v\n%+v", r, again)
		}
	})
}

// normal clears what legitimately differs between encodings of one value:
// time zones of times.
func normal(r *Record) Record {
	c := *r
	c.Entry = c.Entry.UTC()
	c.State.Discharged = c.State.Discharged.UTC()
	return c
}

// FuzzDecodeFields fixes up magic, version and both CRCs of arbitrary bytes
// so that the fuzzer reaches the field decoders behind the checksums.
func FuzzDecodeFields(f *testing.F) {
	var b [RecordSize]byte
	for _, r := range fuzzSeeds() {
		if err := Encode(b[:], r); err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte(nil), b[:]...))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec [RecordSize]byte
		copy(rec[:], data)
		rec[0], rec[1], rec[2] = magic0, magic1, FormatVersion
		binary.BigEndian.PutUint32(rec[bodyCRCOff:], bodyCRC(rec[:]))
		binary.BigEndian.PutUint32(rec[stateCRCOff:], stateCRC(rec[:]))
		var r Record
		if err := Decode(rec[:], &r); err != nil {
			return
		}
		var out [RecordSize]byte
		if err := Encode(out[:], &r); err != nil {
			t.Fatalf("decoded record does not re-encode: %v\n%+v", err, r)
		}
		var again Record
		if err := Decode(out[:], &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normal(&r), normal(&again)) {
			t.Fatalf("decode/encode/decode differs:\n%+v\n%+v", r, again)
		}
	})
}

// PeekChat agrees with Decode on the fields it reads, and refuses what
// Decode refuses.
func TestPeekChat(t *testing.T) {
	var b [RecordSize]byte
	r := &Record{Kind: KindChat, Index: 7, Entry: time.Unix(5, 6), SrcClass: ClassChat, DstClass: ClassChat,
		From: "alice", To: "group1", ToGroup: true, Part: 2, Parts: 3, Text: []byte("hi"),
		State: State{Disposition: Stored, Discharged: time.Unix(5, 6)}}
	if err := Encode(b[:], r); err != nil {
		t.Fatal(err)
	}
	var p ChatPeek
	if err := PeekChat(b[:], &p); err != nil {
		t.Fatal(err)
	}
	if p.Index != 7 || p.Entry != time.Unix(5, 6).UnixNano() || string(p.From) != "alice" || string(p.To) != "group1" || !p.ToGroup || p.Part != 2 || p.Parts != 3 {
		t.Fatalf("peek: %+v", p)
	}
	b[100] ^= 1
	if err := PeekChat(b[:], &p); !errors.Is(err, ErrBodyCRC) {
		t.Fatalf("a damaged body peeks as %v", err)
	}
	var sm [RecordSize]byte
	if err := Encode(sm[:], &Record{Kind: KindSM, SrcClass: ClassLocal, DstClass: ClassLocal}); err != nil {
		t.Fatal(err)
	}
	if err := PeekChat(sm[:], &p); !errors.Is(err, ErrKind) {
		t.Fatalf("an SM peeks as %v", err)
	}
}
