package coresock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/internal/pms"
)

// sampleRecord is the pms test vector's SM, so the socket examples carry a
// record whose bytes docs/pms.md already shows.
func sampleRecord(t testing.TB) RecordBytes {
	t.Helper()
	r := pms.Record{
		Index: 1, Kind: pms.KindSM, Entry: time.Unix(0, 0x0102030405060708),
		Validity: 3600, SrcClass: pms.ClassLocal, DstClass: pms.ClassUpstream,
		UDL: 2, UD: []byte{0xc8, 0x34},
		Src:   pms.Address{TON: 1, NPI: 1, Digits: "16195550100"},
		Dst:   pms.Address{Digits: "12345"},
		State: pms.State{SRR: true, PeerMsgID: "abc"},
	}
	var rb RecordBytes
	if err := rb.Encode(&r); err != nil {
		t.Fatal(err)
	}
	return rb
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// codecCase is one message with its exact encoding (or, for the record
// carrying types, the encoding of everything but the record).
type codecCase struct {
	name string
	h    Header
	body Body
	hex  string
}

func codecCases(t testing.TB) []codecCase {
	rec := sampleRecord(t)
	recHex := hex.EncodeToString(rec[:])
	oa := pms.Address{TON: 1, NPI: 1, Digits: "16195550100"}
	da := pms.Address{TON: 5, NPI: 0, Digits: "Kannel"}
	return []codecCase{
		{"submit", Header{Type: TypeSubmit, ID: 1}, &Submit{Flags: 0, Record: rec},
			"01 01 0000 00000001 00000000" + recHex},
		{"submit imsi", Header{Type: TypeSubmit, ID: 0xfffffffe}, &Submit{Flags: SubmitIMSIAddressed, Record: rec},
			"01 01 0000 fffffffe 00000001" + recHex},
		{"submit resp", Header{Type: TypeSubmit.Response(), ID: 1}, &SubmitResp{Index: 0x1234, Duplicate: true},
			"01 81 0000 00000001 0000 0000 0000000000001234 01"},
		{"submit refused", Header{Type: TypeSubmit.Response(), ID: 1, Status: StatusPIDNotAllowed, Reason: 0x41}, nil,
			"01 81 0000 00000001 0008 0041"},
		{"cancel by index", Header{Type: TypeCancel, ID: 2}, &Cancel{Sel: Selector{ByIndex: true, Index: 77}},
			"01 02 0000 00000002 00 000000000000004d"},
		{"cancel by tuple", Header{Type: TypeCancel, ID: 3}, &Cancel{Sel: Selector{OA: oa, DA: da, MR: 9}},
			"01 02 0000 00000003 01" +
				"0b 91 6191550501f0 00000000" + // +16195550100
				"0b d0 cbb0db5d6603 00000000" + // "Kannel": 6 septets, 11 semi-octets
				"09"},
		{"cancel resp", Header{Type: TypeCancel.Response(), ID: 3}, nil, "01 82 0000 00000003 0000 0000"},
		{"cancel not found", Header{Type: TypeCancel.Response(), ID: 3, Status: StatusNotFound}, nil, "01 82 0000 00000003 000f 0000"},
		{"change srr", Header{Type: TypeChangeSRR, ID: 4}, &ChangeSRR{Sel: Selector{ByIndex: true, Index: 1}, SRR: true},
			"01 03 0000 00000004 00 0000000000000001 01"},
		{"change srr empty tuple", Header{Type: TypeChangeSRR, ID: 4}, &ChangeSRR{Sel: Selector{}},
			"01 03 0000 00000004 01 000000000000000000000000 000000000000000000000000 00 00"},
		{"change srr resp", Header{Type: TypeChangeSRR.Response(), ID: 4}, nil, "01 83 0000 00000004 0000 0000"},
		{"register upstream", Header{Type: TypeRHRegister, ID: 5}, &RHRegister{Role: RolePeerDelivery},
			"01 04 0000 00000005 03 00"},
		{"register kannel", Header{Type: TypeRHRegister, ID: 5}, &RHRegister{Role: RolePeerDelivery, Name: "kannel"},
			"01 04 0000 00000005 03 06 6b616e6e656c"},
		{"register gsm", Header{Type: TypeRHRegister, ID: 5}, &RHRegister{Role: RoleGSMMTDelivery},
			"01 04 0000 00000005 02 00"},
		{"register taken", Header{Type: TypeRHRegister.Response(), ID: 5, Status: StatusRoleTaken}, nil,
			"01 84 0000 00000005 000d 0000"},
		{"service up", Header{Type: TypeRHServiceState, ID: 6}, &RHServiceState{Up: true}, "01 05 0000 00000006 01"},
		{"service down", Header{Type: TypeRHServiceState, ID: 6}, &RHServiceState{}, "01 05 0000 00000006 00"},
		{"discharge", Header{Type: TypeMTDischarge, ID: 7}, &MTDischarge{Index: 9, Disposition: pms.Delivered, Reason: 0},
			"01 06 0000 00000007 0000000000000009 02 00"},
		{"discharge failed", Header{Type: TypeMTDischarge, ID: 7}, &MTDischarge{Index: 9, Disposition: pms.Failed, Reason: 31},
			"01 06 0000 00000007 0000000000000009 04 1f"},
		{"reload", Header{Type: TypeNumberingReload, ID: 8}, &NumberingReload{}, "01 07 0000 00000008"},
		{"ping", Header{Type: TypePing, ID: 9}, &Ping{}, "01 08 0000 00000009"},
		{"pong", Header{Type: TypePing.Response(), ID: 9}, nil, "01 88 0000 00000009 0000 0000"},
		{"find imsi", Header{Type: TypeFindIMSI, ID: 10}, &FindIMSI{MSISDN: "16195550100"},
			"01 20 0000 0000000a 0b 3136313935353530313030"},
		{"find imsi resp", Header{Type: TypeFindIMSI.Response(), ID: 10}, &FindIMSIResp{IMSI: "310150123456789"},
			"01 a0 0000 0000000a 0000 0000 0f 333130313530313233343536373839"},
		{"find imsi unknown", Header{Type: TypeFindIMSI.Response(), ID: 10, Status: StatusPermanentFailure, Reason: 1}, nil,
			"01 a0 0000 0000000a 0013 0001"},
		{"mt transfer", Header{Type: TypeMTTransfer, ID: 11}, &MTTransfer{Index: 1, Record: rec},
			"01 21 0000 0000000b 0000000000000001" + recHex},
		{"mt transfer resp", Header{Type: TypeMTTransfer.Response(), ID: 11}, nil, "01 a1 0000 0000000b 0000 0000"},
		{"mt cancel", Header{Type: TypeMTCancel, ID: 12}, &MTCancel{Index: 1}, "01 22 0000 0000000c 0000000000000001"},
		{"deliver", Header{Type: TypeDeliverToPeer, ID: 13}, &DeliverToPeer{Index: 1, Record: rec},
			"01 23 0000 0000000d 0000000000000001" + recHex},
		{"deliver resp", Header{Type: TypeDeliverToPeer.Response(), ID: 13}, &DeliverToPeerResp{PeerMsgID: "5f3a"},
			"01 a3 0000 0000000d 0000 0000 04 35663361"},
		{"deliver resp empty id", Header{Type: TypeDeliverToPeer.Response(), ID: 13}, &DeliverToPeerResp{},
			"01 a3 0000 0000000d 0000 0000 00"},
		{"deliver temp", Header{Type: TypeDeliverToPeer.Response(), ID: 13, Status: StatusTemporaryFailure, Reason: 0x58}, nil,
			"01 a3 0000 0000000d 0012 0058"},
		{"unknown type answered", Header{Type: Type(0x55).Response(), ID: 14, Status: StatusUnknownType}, nil,
			"01 d5 0000 0000000e 0002 0000"},
		{"hello", Header{Type: TypeHello, ID: 15}, &hello{caps: capBatch, maxBatch: 16384},
			"01 09 0000 0000000f 00000001 00004000"},
		{"hello resp", Header{Type: TypeHello.Response(), ID: 15}, &helloResp{caps: capBatch, maxBatch: 65536},
			"01 89 0000 0000000f 0000 0000 00000001 00010000"},
		{"hello resp without batch", Header{Type: TypeHello.Response(), ID: 15}, &helloResp{},
			"01 89 0000 0000000f 0000 0000 00000000 00000000"},
		{"hello from an old peer", Header{Type: TypeHello.Response(), ID: 15, Status: StatusUnknownType}, nil,
			"01 89 0000 0000000f 0002 0000"},
		{"broken batch answered", Header{Type: TypeBatch.Response(), ID: 16, Status: StatusMalformed}, nil,
			"01 90 0000 00000010 0001 0000"},
	}
}

func TestCodecVectors(t *testing.T) {
	for _, c := range codecCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.hex)
			got, err := Marshal([]byte("prefix"), c.h, c.body)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got[6:], want) || string(got[:6]) != "prefix" {
				t.Fatalf("Marshal:\n got % x\nwant % x", got[6:], want)
			}
			h, body, err := Unmarshal(want)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if h != c.h {
				t.Fatalf("header %+v, want %+v", h, c.h)
			}
			if (body == nil) != (c.body == nil) {
				t.Fatalf("body %#v, want %#v", body, c.body)
			}
			if body != nil {
				again, err := Marshal(nil, h, body)
				if err != nil || !bytes.Equal(again, want) {
					t.Fatalf("re-marshal: % x, %v", again, err)
				}
			}
		})
	}
}

func TestMarshalTakesTypeFromBody(t *testing.T) {
	got, err := Marshal(nil, Header{ID: 3}, &Ping{})
	if err != nil || !bytes.Equal(got, unhex(t, "01 08 0000 00000003")) {
		t.Fatalf("% x, %v", got, err)
	}
}

func TestMarshalRejects(t *testing.T) {
	long := strings.Repeat("x", MaxName+1)
	for _, c := range []struct {
		name string
		h    Header
		body Body
	}{
		{"body of another type", Header{Type: TypeCancel}, &Ping{}},
		{"request without body", Header{Type: TypePing}, nil},
		{"response missing fields", Header{Type: TypeSubmit.Response()}, nil},
		{"error response with fields", Header{Type: TypeSubmit.Response(), Status: StatusMalformed}, &SubmitResp{}},
		{"status on a request", Header{Type: TypePing, Status: StatusMalformed}, &Ping{}},
		{"unknown type", Header{Type: 0x55}, nil},
		{"unknown response type", Header{Type: 0xd5}, nil},
		{"name too long", Header{}, &RHRegister{Role: RolePeerDelivery, Name: long}},
		{"NUL in name", Header{}, &RHRegister{Role: RolePeerDelivery, Name: "a\x00b"}},
		{"msisdn not digits", Header{}, &FindIMSI{MSISDN: "+1619"}},
		{"msisdn empty", Header{}, &FindIMSI{}},
		{"msisdn too long", Header{}, &FindIMSI{MSISDN: strings.Repeat("1", MaxMSISDN+1)}},
		{"imsi too long", Header{Type: TypeFindIMSI.Response()}, &FindIMSIResp{IMSI: strings.Repeat("1", MaxIMSI+1)}},
		{"peer id too long", Header{Type: TypeDeliverToPeer.Response()}, &DeliverToPeerResp{PeerMsgID: strings.Repeat("1", MaxPeerMsgID+1)}},
		{"unknown submit flag", Header{}, &Submit{Flags: 2}},
		{"bad disposition", Header{}, &MTDischarge{Disposition: pms.Stored}},
		{"bad address", Header{}, &Cancel{Sel: Selector{OA: pms.Address{Digits: "12x"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := Marshal(dst, c.h, c.body)
			if err == nil {
				t.Fatalf("Marshal succeeded: % x", got)
			}
			if string(got) != "keep" {
				t.Fatalf("dst changed to %q on error", got)
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for _, c := range []struct {
		name     string
		hex      string
		want     error
		readable bool
	}{
		{"empty", "", ErrShort, false},
		{"short header", "01 08 0000 000000", ErrShort, false},
		{"bad version", "02 08 0000 00000001", ErrVersion, false},
		{"version 0", "00 08 0000 00000001", ErrVersion, false},
		{"reserved", "01 08 0001 00000001", ErrMalformed, true},
		{"unknown request", "01 55 0000 00000001", ErrUnknownType, true},
		{"unknown type 0", "01 00 0000 00000001", ErrUnknownType, true},
		{"unknown OK response", "01 d5 0000 00000001 0000 0000", ErrUnknownType, true},
		{"trailing on ping", "01 08 0000 00000001 00", ErrMalformed, true},
		{"trailing on reload", "01 07 0000 00000001 ff", ErrMalformed, true},
		{"response without status", "01 88 0000 00000001 00", ErrMalformed, true},
		{"trailing on empty response", "01 88 0000 00000001 0000 0000 00", ErrMalformed, true},
		{"fields after error status", "01 81 0000 00000001 0001 0000 00", ErrMalformed, true},
		{"submit short record", "01 01 0000 00000001 00000000 5342", ErrMalformed, true},
		{"submit unknown flag", "01 01 0000 00000001 80000000", ErrMalformed, true},
		{"submit resp truncated", "01 81 0000 00000001 0000 0000 00000000", ErrMalformed, true},
		{"submit resp duplicate 2", "01 81 0000 00000001 0000 0000 0000000000000001 02", ErrMalformed, true},
		{"submit resp trailing", "01 81 0000 00000001 0000 0000 0000000000000001 00 00", ErrMalformed, true},
		{"selector mode 2", "01 02 0000 00000001 02", ErrMalformed, true},
		{"selector missing", "01 02 0000 00000001", ErrMalformed, true},
		{"selector index short", "01 02 0000 00000001 00 0000", ErrMalformed, true},
		{"selector tuple short", "01 02 0000 00000001 01 000000000000000000000000", ErrMalformed, true},
		{"selector address filler inside", "01 02 0000 00000001 01 0491f1f2000000000000000000 000000000000000000000000 00", ErrMalformed, true},
		{"selector address bad filler", "01 02 0000 00000001 01 039121030000000000000000 000000000000000000000000 00", ErrMalformed, true},
		{"selector address junk after", "01 02 0000 00000001 01 02912100000000000000ff00 000000000000000000000000 00", ErrMalformed, true},
		{"selector address no type", "01 02 0000 00000001 01 020021000000000000000000 000000000000000000000000 00", ErrMalformed, true},
		{"selector address 21 digits", "01 02 0000 00000001 01 1591000000000000000000 00 000000000000000000000000 00", ErrMalformed, true},
		{"selector address ext bit clear", "01 02 0000 00000001 01 021121000000000000000000 000000000000000000000000 00", ErrMalformed, true},
		{"change srr 2", "01 03 0000 00000001 00 0000000000000001 02", ErrMalformed, true},
		{"change srr missing", "01 03 0000 00000001 00 0000000000000001", ErrMalformed, true},
		{"register name past end", "01 04 0000 00000001 03 06 6b616e6e", ErrMalformed, true},
		{"register name too long", "01 04 0000 00000001 03 11 6161616161616161616161616161616161", ErrMalformed, true},
		{"register NUL in name", "01 04 0000 00000001 03 02 6100", ErrMalformed, true},
		{"register no length", "01 04 0000 00000001 03", ErrMalformed, true},
		{"service state 2", "01 05 0000 00000001 02", ErrMalformed, true},
		{"discharge active", "01 06 0000 00000001 0000000000000001 00 00", ErrMalformed, true},
		{"discharge stored", "01 06 0000 00000001 0000000000000001 01 00", ErrMalformed, true},
		{"discharge 6", "01 06 0000 00000001 0000000000000001 06 00", ErrMalformed, true},
		{"find imsi letters", "01 20 0000 00000001 02 3161", ErrMalformed, true},
		{"find imsi empty", "01 20 0000 00000001 00", ErrMalformed, true},
		{"find imsi 21 digits", "01 20 0000 00000001 15 313131313131313131313131313131313131313131", ErrMalformed, true},
		{"imsi 16 digits", "01 a0 0000 00000001 0000 0000 10 31313131313131313131313131313131", ErrMalformed, true},
		{"mt cancel short", "01 22 0000 00000001 00000000000001", ErrMalformed, true},
		{"mt cancel long", "01 22 0000 00000001 0000000000000001 00", ErrMalformed, true},
		{"peer id past end", "01 a3 0000 00000001 0000 0000 05 31", ErrMalformed, true},
		{"peer id 65", "01 a3 0000 00000001 0000 0000 41 " + strings.Repeat("31", 65), ErrMalformed, true},
		{"peer id NUL", "01 a3 0000 00000001 0000 0000 01 00", ErrMalformed, true},
		{"hello short", "01 09 0000 00000001 00000001 0000", ErrMalformed, true},
		{"hello trailing", "01 09 0000 00000001 00000001 00004000 00", ErrMalformed, true},
		{"hello resp short", "01 89 0000 00000001 0000 0000 00000001", ErrMalformed, true},
		{"batch as a message", "01 10 0000 00000001 0008 01080000 00000001", ErrMalformed, true},
		{"OK answer to a batch", "01 90 0000 00000001 0000 0000", ErrMalformed, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			h, body, err := Unmarshal(b)
			if !errors.Is(err, c.want) {
				t.Fatalf("Unmarshal(% x) = %+v, %#v, %v; want %v", b, h, body, err, c.want)
			}
			if body != nil {
				t.Fatalf("body %#v returned with error", body)
			}
			if HeaderReadable(err) != c.readable {
				t.Fatalf("HeaderReadable(%v) = %v", err, !c.readable)
			}
			if c.readable && h.ID != 1 {
				t.Fatalf("header id %d, want 1", h.ID)
			}
		})
	}
}

func TestUnmarshalDoesNotAlias(t *testing.T) {
	rec := sampleRecord(t)
	b, err := Marshal(nil, Header{ID: 1}, &Submit{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if body.(*Submit).Record != rec {
		t.Fatal("decoded record changed when the packet buffer was reused")
	}
}

func TestRecordBytesRoundTrip(t *testing.T) {
	rb := sampleRecord(t)
	var r pms.Record
	if err := rb.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Src.Digits != "16195550100" || r.State.PeerMsgID != "abc" {
		t.Fatalf("decoded %+v", r)
	}
}

func TestRHRegisterValid(t *testing.T) {
	for _, c := range []struct {
		m    RHRegister
		want bool
	}{
		{RHRegister{Role: RoleIMSILookup}, true},
		{RHRegister{Role: RoleGSMMTDelivery}, true},
		{RHRegister{Role: RolePeerDelivery}, true},
		{RHRegister{Role: RolePeerDelivery, Name: "kannel"}, true},
		{RHRegister{Role: RoleIMSILookup, Name: "x"}, false},
		{RHRegister{Role: RoleGSMMTDelivery, Name: "x"}, false},
		{RHRegister{Role: 0}, false},
		{RHRegister{Role: 4}, false},
	} {
		if got := c.m.Valid(); got != c.want {
			t.Errorf("%+v.Valid() = %v", c.m, got)
		}
	}
	if RolePeerDelivery.String() != "PEER_DELIVERY" || Role(9).String() != "ROLE_9" {
		t.Error("Role.String")
	}
}

func TestTypeNames(t *testing.T) {
	if s := TypeSubmit.String(); s != "SUBMIT" {
		t.Error(s)
	}
	if s := TypeDeliverToPeer.Response().String(); s != "DELIVER_TO_PEER response" {
		t.Error(s)
	}
	if s := Type(0x55).String(); s != "TYPE_0x55" {
		t.Error(s)
	}
	if !TypeFindIMSI.FromCore() || TypeSubmit.FromCore() || !TypeMTCancel.Response().FromCore() {
		t.Error("FromCore")
	}
}

func TestStatus(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range AllStatuses() {
		if !s.Known() || s.String() == "" || s.Description() == "" || seen[s.String()] {
			t.Errorf("status %d: %q %q", uint16(s), s, s.Description())
		}
		seen[s.String()] = true
	}
	// The numbering is part of the protocol: spot-check that it never moves.
	fixed := map[Status]string{0: "OK", 1: "MALFORMED", 2: "UNKNOWN_TYPE", 7: "UNKNOWN_DESTINATION_FROM_UPSTREAM",
		12: "STORE_FAILED", 13: "ROLE_TAKEN", 19: "PERMANENT_FAILURE", 21: "TOO_BUSY"}
	for s, name := range fixed {
		if s.String() != name {
			t.Errorf("status %d is %s, want %s", uint16(s), s, name)
		}
	}
	if len(AllStatuses()) != 22 {
		t.Errorf("%d statuses", len(AllStatuses()))
	}
	if Status(99).String() != "STATUS_99" || Status(99).Known() {
		t.Error("unknown status")
	}
	if !StatusStoreFailed.Temporary() || StatusMalformed.Temporary() {
		t.Error("Temporary")
	}
	e := &StatusError{Status: StatusRoleTaken, Reason: 3}
	if !strings.Contains(e.Error(), "ROLE_TAKEN") {
		t.Error(e.Error())
	}
}

func TestStatusFor(t *testing.T) {
	_, _, err := Unmarshal(unhex(t, "01 55 0000 00000001"))
	if StatusFor(err) != StatusUnknownType {
		t.Error(err)
	}
	_, _, err = Unmarshal(unhex(t, "01 08 0000 00000001 00"))
	if StatusFor(err) != StatusMalformed {
		t.Error(err)
	}
	if StatusFor(nil) != StatusOK {
		t.Error("nil")
	}
}

func TestBodyShapeMatchesNewBody(t *testing.T) {
	for i := range 256 {
		typ := Type(i)
		b, known := newBody(typ)
		k, has := bodyShape(typ)
		if k != known || has != (b != nil) {
			t.Errorf("%s: bodyShape %v %v, newBody %v %v", typ, k, has, b != nil, known)
		}
	}
}

func TestMarshalAllocations(t *testing.T) {
	s := &Submit{Record: sampleRecord(t)}
	buf := make([]byte, 0, MaxMessage)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = Marshal(buf[:0], Header{ID: 1}, s)
	}); n != 0 {
		t.Fatalf("Marshal allocates %v times", n)
	}
}
