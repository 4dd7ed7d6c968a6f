package pdu

import (
	"bytes"
	"reflect"
	"testing"
)

func TestTLVs(t *testing.T) {
	var ts TLVs
	ts.Set(TagMessageState, []byte{StateDelivered})
	ts = append(ts, TLVUint16(TagSarMsgRefNum, 0x1234), TLVCString(TagReceiptedMessageID, "abc"),
		TLVUint32(TagQOSTimeToLive, 0xDEADBEEF), TLV{Tag: 0x1400, Value: []byte("vendor")})

	if v, ok := ts.Uint8(TagMessageState); !ok || v != StateDelivered {
		t.Errorf("Uint8(message_state) = %d, %v", v, ok)
	}
	if v, ok := ts.Uint16(TagSarMsgRefNum); !ok || v != 0x1234 {
		t.Errorf("Uint16(sar_msg_ref_num) = %#x, %v", v, ok)
	}
	if v, ok := ts.Uint32(TagQOSTimeToLive); !ok || v != 0xDEADBEEF {
		t.Errorf("Uint32(qos_time_to_live) = %#x, %v", v, ok)
	}
	if v, ok := ts.Get(TagReceiptedMessageID); !ok || !bytes.Equal(v, []byte("abc\x00")) {
		t.Errorf("TLVCString stored % X", v)
	}
	if s, ok := ts.CString(TagReceiptedMessageID); !ok || s != "abc" {
		t.Errorf("CString = %q, %v", s, ok)
	}
	// A wrongly sized value is not read as an integer.
	if _, ok := ts.Uint8(TagSarMsgRefNum); ok {
		t.Error("Uint8 read a two-octet value")
	}
	if _, ok := ts.Uint16(TagMessageState); ok {
		t.Error("Uint16 read a one-octet value")
	}
	if _, ok := ts.Get(TagMessagePayload); ok {
		t.Error("Get found an absent tag")
	}

	ts.Set(TagMessageState, []byte{StateUndeliverable})
	if v, _ := ts.Uint8(TagMessageState); v != StateUndeliverable || len(ts) != 5 {
		t.Errorf("Set did not replace in place: %v", ts)
	}
	ts.Set(TagMessagePayload, []byte("x"))
	if len(ts) != 6 || ts[5].Tag != TagMessagePayload {
		t.Errorf("Set did not append: %v", ts)
	}
	ts = append(ts, TLV{Tag: 0x1400, Value: []byte("again")})
	ts.Del(0x1400)
	for _, x := range ts {
		if x.Tag == 0x1400 {
			t.Errorf("Del left %v", x)
		}
	}
	if len(ts) != 5 {
		t.Errorf("Del removed too much: %v", ts)
	}
}

func TestTLVCStringUnterminated(t *testing.T) {
	ts := TLVs{{TagReceiptedMessageID, []byte("abc")}}
	if s, ok := ts.CString(TagReceiptedMessageID); !ok || s != "abc" {
		t.Errorf("CString of an unterminated value = %q, %v", s, ok)
	}
}

// TestTLVSizes checks the fixed-size table against the sizes SMPP 3.4
// §5.3.2 gives for the tags the server reads.
func TestTLVSizes(t *testing.T) {
	want := map[uint16]int{
		TagMessageState: 1, TagSarMsgRefNum: 2, TagSarTotalSegments: 1, TagSarSegmentSeqnum: 1,
		TagUserMessageReference: 2, TagSCInterfaceVersion: 1, TagNetworkErrorCode: 3, TagQOSTimeToLive: 4,
		TagSourcePort: 2, TagDestinationPort: 2, TagMSAvailabilityStatus: 1,
	}
	for tag, n := range want {
		if !tlvSizeOK(tag, n) || tlvSizeOK(tag, n+1) || tlvSizeOK(tag, n-1) {
			t.Errorf("%s: size %d not enforced", TagName(tag), n)
		}
	}
	for _, tag := range []uint16{TagMessagePayload, TagReceiptedMessageID, TagSourceTelematicsID, 0x1400} {
		if !tlvSizeOK(tag, 0) || !tlvSizeOK(tag, 300) {
			t.Errorf("tag %#04x has a size limit", tag)
		}
	}
	if len(tlvTable) != 44 {
		t.Errorf("%d tags, SMPP 3.4 §5.3.2 lists 44", len(tlvTable))
	}
	if TagName(TagMessageState) != "message_state" || TagName(0x1400) != "" {
		t.Error("TagName wrong")
	}
}

// TestUnknownTLVKept checks that tags the codec does not know survive a
// decode and re-encode byte for byte, in order.
func TestUnknownTLVKept(t *testing.T) {
	b := pduHex(t, DataSM, 1, "00 00 00 00 00 00 00 00 00 00",
		"1401 0000", "FFFF 0002 0102", "0424 0001 41")
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := TLVs{{0x1401, nil}, {0xFFFF, []byte{1, 2}}, {TagMessagePayload, []byte("A")}}
	if got := p.Body.(*DataSMBody).TLVs; !reflect.DeepEqual(got, want) {
		t.Fatalf("TLVs = %v, want %v", got, want)
	}
	out, err := Append(nil, p)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encoded % X, %v; want % X", out, err, b)
	}
}
