package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			b := unhex(t, v.hex...)
			if got := binary.BigEndian.Uint32(b); int(got) != len(b) {
				t.Fatalf("vector's command_length %d, but it has %d octets", got, len(b))
			}
			if n, err := Frame(b, DefaultMaxPDU); n != len(b) || err != nil {
				t.Fatalf("Frame = %d, %v; want %d", n, err, len(b))
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(p, v.want) {
				t.Fatalf("Decode =\n %#v\nwant\n %#v", p.Body, v.want.Body)
			}
			if p.Body.CommandID() != p.Header.Command {
				t.Fatalf("body %T says %s, header %s", p.Body, p.Body.CommandID(), p.Header.Command)
			}

			enc := v.want
			if v.headerOnly {
				enc.Body = nil
			}
			out, err := Append([]byte("prefix"), enc)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.HasPrefix(out, []byte("prefix")) || !bytes.Equal(out[6:], b) {
				t.Fatalf("Append =\n % X\nwant\n % X", out[6:], b)
			}

			// The value form of a body encodes as its pointer form does.
			if !v.headerOnly {
				val := v.want
				val.Body = reflect.ValueOf(v.want.Body).Elem().Interface().(Body)
				out2, err := Append(nil, val)
				if err != nil || !bytes.Equal(out2, b) {
					t.Fatalf("Append(value %T) = % X, %v", val.Body, out2, err)
				}
			}
		})
	}
}

// TestVectorsCoverEveryCommand keeps the golden table honest: a command
// added to the codec needs a vector.
func TestVectorsCoverEveryCommand(t *testing.T) {
	seen := map[CommandID]bool{}
	for _, v := range vectors {
		seen[v.want.Header.Command] = true
	}
	for c := CommandID(0); c < 0x200; c++ {
		for _, id := range []CommandID{c, c | responseBit} {
			if id.Known() && !seen[id] {
				t.Errorf("no vector for %s", id)
			}
		}
	}
}

// pduHex builds a PDU from a header and body fragments, computing
// command_length, for the bad-input table where only the body is wrong.
func pduHex(t *testing.T, cmd CommandID, seq uint32, body ...string) []byte {
	t.Helper()
	b := unhex(t, body...)
	h := make([]byte, HeaderLen, HeaderLen+len(b))
	binary.BigEndian.PutUint32(h, uint32(HeaderLen+len(b)))
	binary.BigEndian.PutUint32(h[4:], uint32(cmd))
	binary.BigEndian.PutUint32(h[12:], seq)
	return append(h, b...)
}

func TestDecodeErrors(t *testing.T) {
	smHead := []string{"00", "01 01 '12345' 00", "01 01 '15551234567' 00", "00 00 00", "00", "00", "00 00 00 00"}
	sm := func(tail ...string) []string { return append(append([]string{}, smHead...), tail...) }
	long := func(n int) string { return "'" + strings.Repeat("x", n) + "'" }

	tests := []struct {
		name     string
		b        []byte
		status   Status
		sentinel error
	}{
		{"fewer than 16 octets", unhex(t, "00000010 00000015 00000000"), StatusInvCmdLen, ErrBadLength},
		{"command_length below 16", unhex(t, "0000000C 00000015 00000000 00000001"), StatusInvCmdLen, ErrBadLength},
		{"command_length longer than the octets", unhex(t, "00000014 00000015 00000000 00000001"), StatusInvCmdLen, ErrBadLength},
		{"command_length shorter than the octets", unhex(t, "00000010 00000015 00000000 00000001 00"), StatusInvCmdLen, ErrBadLength},
		{"unknown command_id", pduHex(t, 0x00000099, 5), StatusInvCmdID, ErrUnknownCommand},
		{"unknown response command_id", pduHex(t, 0x80000102, 5), StatusInvCmdID, ErrUnknownCommand},
		{"enquire_link with a body", pduHex(t, EnquireLink, 1, "00"), StatusInvCmdLen, ErrMalformed},
		{"generic_nack with a body", pduHex(t, GenericNack, 1, "00000000"), StatusInvCmdLen, ErrMalformed},
		{"bind missing the last NUL", pduHex(t, BindTransceiver, 1, "'test' 00 'secret' 00 00 34 00 00"), StatusInvCmdLen, ErrMalformed},
		{"bind system_id without NUL at the end", pduHex(t, BindTransceiver, 1, "'test'"), StatusInvCmdLen, ErrMalformed},
		{"bind body ends before interface_version", pduHex(t, BindTransceiver, 1, "'test' 00 'secret' 00 00"), StatusInvCmdLen, ErrMalformed},
		{"bind with trailing octets", pduHex(t, BindTransceiver, 1, "'test' 00 'secret' 00 00 34 00 00 00 0210 0001 34"), StatusInvCmdLen, ErrMalformed},
		{"over-long system_id", pduHex(t, BindTransceiver, 1, long(16), "00 'secret' 00 00 34 00 00 00"), StatusInvSysID, ErrMalformed},
		{"over-long password", pduHex(t, BindTransceiver, 1, "'test' 00", long(9), "00 00 34 00 00 00"), StatusInvPaswd, ErrMalformed},
		{"over-long system_type", pduHex(t, BindTransmitter, 1, "'test' 00 00", long(13), "00 34 00 00 00"), StatusInvSysTyp, ErrMalformed},
		{"over-long outbind system_id", pduHex(t, Outbind, 1, long(20), "00 00"), StatusInvSysID, ErrMalformed},
		{"over-long service_type", pduHex(t, SubmitSM, 1, long(6), "00"), StatusInvSerTyp, ErrMalformed},
		{"over-long source_addr", pduHex(t, SubmitSM, 1, "00 01 01", long(21), "00"), StatusInvSrcAdr, ErrMalformed},
		{"over-long destination_addr", pduHex(t, SubmitSM, 1, "00 01 01 '1' 00 01 01", long(21), "00"), StatusInvDstAdr, ErrMalformed},
		{"over-long schedule_delivery_time", pduHex(t, SubmitSM, 1, "00 00 00 00 00 00 00 00 00 00", long(17), "00"), StatusInvSched, ErrMalformed},
		{"over-long validity_period", pduHex(t, SubmitSM, 1, "00 00 00 00 00 00 00 00 00 00 00", long(17), "00"), StatusInvExpiry, ErrMalformed},
		{"over-long message_id", pduHex(t, SubmitSMResp, 1, long(65), "00"), StatusInvMsgID, ErrMalformed},
		{"data_sm source_addr over 64", pduHex(t, DataSM, 1, "00 01 01", long(65), "00"), StatusInvSrcAdr, ErrMalformed},
		{"submit_sm body ends before esm_class", pduHex(t, SubmitSM, 1, smHead[:3]...), StatusInvCmdLen, ErrMalformed},
		{"sm_length past the end", pduHex(t, SubmitSM, 1, sm("05 'hell'")...), StatusInvMsgLen, ErrMalformed},
		{"sm_length over 254", pduHex(t, SubmitSM, 1, sm("FF", strings.Repeat("00", 255))...), StatusInvMsgLen, ErrMalformed},
		{"sm_length missing", pduHex(t, SubmitSM, 1, smHead...), StatusInvCmdLen, ErrMalformed},
		{"TLV length past the end", pduHex(t, SubmitSM, 1, sm("00", "0424 0010 DEADBEEF")...), StatusInvParLen, ErrMalformed},
		{"TLV header cut short", pduHex(t, SubmitSM, 1, sm("00", "0204 00")...), StatusInvOptParStream, ErrMalformed},
		{"one junk octet after short_message", pduHex(t, SubmitSM, 1, sm("00", "FF")...), StatusInvOptParStream, ErrMalformed},
		{"message_state of two octets", pduHex(t, DeliverSM, 1, sm("00", "0427 0002 0002")...), StatusInvParLen, ErrMalformed},
		{"sar_msg_ref_num of one octet", pduHex(t, SubmitSM, 1, sm("00", "020C 0001 01")...), StatusInvParLen, ErrMalformed},
		{"bind_resp broken TLV", pduHex(t, BindTransceiverResp, 1, "'SMSC' 00 0210 0002 34"), StatusInvParLen, ErrMalformed},
		{"query_sm with a TLV after it", pduHex(t, QuerySM, 1, "'id' 00 00 00 00 0204 0002 0001"), StatusInvCmdLen, ErrMalformed},
		{"submit_sm_resp message_id without NUL", pduHex(t, SubmitSMResp, 1, "'abc'"), StatusInvCmdLen, ErrMalformed},
		{"number_of_dests 0", pduHex(t, SubmitMulti, 1, "00 00 00 00 00"), StatusInvNumDests, ErrMalformed},
		{"number_of_dests beyond the body", pduHex(t, SubmitMulti, 1, "00 00 00 00 FF 01 00 00 00"), StatusInvCmdLen, ErrMalformed},
		{"dest_flag 3", pduHex(t, SubmitMulti, 1, "00 00 00 00 01 03 00 00 00 00 00 00 00 00 00 00 00 00 00"), StatusInvDestFlag, ErrMalformed},
		{"over-long dl_name", pduHex(t, SubmitMulti, 1, "00 00 00 00 01 02", long(21), "00"), StatusInvDLName, ErrMalformed},
		{"no_unsuccess beyond the body", pduHex(t, SubmitMultiResp, 1, "'m' 00 02 00 00 00 00000000"), StatusInvCmdLen, ErrMalformed},
		{"query_sm_resp cut after final_date", pduHex(t, QuerySMResp, 1, "'m' 00 00 02"), StatusInvCmdLen, ErrMalformed},
		{"replace_sm sm_length past the end", pduHex(t, ReplaceSM, 1, "'m' 00 00 00 00 00 00 00 00 09 'abc'"), StatusInvMsgLen, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.b)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %#v, %v; want an *Error", p, err)
			}
			if de.Status != tt.status {
				t.Errorf("Status = %s, want %s (%v)", de.Status, tt.status, err)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tt.sentinel)
			}
			if p.Body != nil {
				t.Errorf("failed Decode returned body %#v", p.Body)
			}
			if want := partialHeader(tt.b); de.Header != want || p.Header != want {
				t.Errorf("error header %+v, PDU header %+v, want %+v", de.Header, p.Header, want)
			}
		})
	}
}

// TestDecodeErrorHeader checks that the header of a rejected request is
// what the session needs to answer it: the command and sequence_number.
func TestDecodeErrorHeader(t *testing.T) {
	_, err := Decode(unhex(t, "00000010 000000FF 00000000 0000002A"))
	var de *Error
	if !errors.As(err, &de) || de.Header.Sequence != 42 || de.Header.Command != 0xFF || de.Status != StatusInvCmdID {
		t.Fatalf("Decode error = %#v", err)
	}
	if !strings.Contains(err.Error(), "ESME_RINVCMDID") || !strings.Contains(err.Error(), "0x000000ff") {
		t.Errorf("Error() = %q, want the status and the command", err.Error())
	}
}

// TestDecodeEmptyResponses checks that every response, and generic_nack,
// accepts an empty body, as error responses may come without one.
func TestDecodeEmptyResponses(t *testing.T) {
	for c := CommandID(0); c < 0x200; c++ {
		r := c | responseBit
		if !r.Known() {
			continue
		}
		p, err := Decode(pduHex(t, r, 1))
		if err != nil {
			t.Errorf("%s with an empty body: %v", r, err)
			continue
		}
		if p.Body.CommandID() != r {
			t.Errorf("%s decoded as %T", r, p.Body)
		}
		if _, err := Append(nil, p); err != nil {
			t.Errorf("%s: the zero body does not encode: %v", r, err)
		}
	}
	// Requests with bodies may not be empty.
	if _, err := Decode(pduHex(t, SubmitSM, 1)); err == nil {
		t.Error("empty submit_sm decoded")
	}
}

// TestDecodeDoesNotRetain checks that no decoded field aliases the input,
// so the session can reuse its read buffer.
func TestDecodeDoesNotRetain(t *testing.T) {
	for _, v := range vectors {
		b := unhex(t, v.hex...)
		p, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 0xA5
		}
		if !reflect.DeepEqual(p, v.want) {
			t.Errorf("%s: overwriting the input changed the decoded PDU", v.name)
		}
	}
}

// TestDecodedSlicesAreCapped checks that appending to one decoded slice
// cannot overwrite the next field, which shares its backing array.
func TestDecodedSlicesAreCapped(t *testing.T) {
	var v vector
	for _, x := range vectors {
		if x.name == "submit_sm with TLVs" {
			v = x
		}
	}
	p, err := Decode(unhex(t, v.hex...))
	if err != nil {
		t.Fatal(err)
	}
	sm := p.Body.(*SM)
	_ = append(sm.ShortMessage, "XXXXXXXX"...)
	_ = append(sm.TLVs[0].Value, "XXXXXXXX"...)
	if !reflect.DeepEqual(p, v.want) {
		t.Errorf("appending to decoded slices changed other fields: %#v", sm)
	}
}

func TestAppendErrors(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	okSM := SM{Cmd: SubmitSM, Dest: Address{1, 1, "15551234567"}}
	tests := []struct {
		name     string
		body     Body
		status   Status
		sentinel error
	}{
		{"system_id of 16", &Bind{Cmd: BindTransceiver, SystemID: long(16)}, StatusInvSysID, ErrMalformed},
		{"password of 9", Bind{Cmd: BindTransceiver, Password: long(9)}, StatusInvPaswd, ErrMalformed},
		{"NUL in system_id", &Bind{Cmd: BindReceiver, SystemID: "a\x00b"}, StatusInvSysID, ErrMalformed},
		{"Bind with a submit_sm Cmd", &Bind{Cmd: SubmitSM}, StatusInvCmdID, ErrMalformed},
		{"Bind without Cmd", &Bind{}, StatusInvCmdID, ErrMalformed},
		{"SM without Cmd", &SM{}, StatusInvCmdID, ErrMalformed},
		{"SMResp with a request Cmd", &SMResp{Cmd: SubmitSM}, StatusInvCmdID, ErrMalformed},
		{"BindResp with a bind Cmd", &BindResp{Cmd: BindTransceiver}, StatusInvCmdID, ErrMalformed},
		{"short_message of 255", func() Body { m := okSM; m.ShortMessage = make([]byte, 255); return &m }(), StatusInvMsgLen, ErrMalformed},
		{"source_addr of 21", func() Body { m := okSM; m.Source.Addr = long(21); return m }(), StatusInvSrcAdr, ErrMalformed},
		{"destination_addr of 21", func() Body { m := okSM; m.Dest.Addr = long(21); return m }(), StatusInvDstAdr, ErrMalformed},
		{"NUL in destination_addr", func() Body { m := okSM; m.Dest.Addr = "1\x002"; return m }(), StatusInvDstAdr, ErrMalformed},
		{"validity_period of 17", func() Body { m := okSM; m.ValidityPeriod = long(17); return m }(), StatusInvExpiry, ErrMalformed},
		{"TLV over 65535", func() Body { m := okSM; m.TLVs = TLVs{{TagMessagePayload, make([]byte, 65536)}}; return m }(), StatusInvParLen, ErrMalformed},
		{"message_state TLV of 2", func() Body { m := okSM; m.TLVs = TLVs{{TagMessageState, []byte{0, 2}}}; return m }(), StatusInvParLen, ErrMalformed},
		{"message_id of 65", &SMResp{Cmd: SubmitSMResp, MessageID: long(65)}, StatusInvMsgID, ErrMalformed},
		{"data_sm dest of 65", &DataSMBody{Dest: Address{Addr: long(65)}}, StatusInvDstAdr, ErrMalformed},
		{"submit_multi without dests", &SubmitMultiBody{}, StatusInvNumDests, ErrMalformed},
		{"submit_multi with 256 dests", &SubmitMultiBody{Dests: make([]MultiDest, 256)}, StatusInvNumDests, ErrMalformed},
		{"dl_name of 21", &SubmitMultiBody{Dests: []MultiDest{{IsDistList: true, DistList: long(21)}}}, StatusInvDLName, ErrMalformed},
		{"nil *SM", (*SM)(nil), StatusInvCmdID, ErrUnknownCommand},
		{"nil *EnquireLinkBody", (*EnquireLinkBody)(nil), StatusInvCmdID, ErrUnknownCommand},
		{"foreign body type", foreignBody{}, StatusInvCmdID, ErrUnknownCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := Append(dst, PDU{Header: Header{Sequence: 3}, Body: tt.body})
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Append = % X, %v; want an *Error", out, err)
			}
			if de.Status != tt.status || !errors.Is(err, tt.sentinel) {
				t.Errorf("Append error %v (status %s), want %s wrapping %v", err, de.Status, tt.status, tt.sentinel)
			}
			if de.Header.Sequence != 3 {
				t.Errorf("error header %+v lost the sequence number", de.Header)
			}
			if string(out) != "keep" {
				t.Errorf("Append changed dst to %q on error", out)
			}
		})
	}
}

type foreignBody struct{}

func (foreignBody) CommandID() CommandID { return SubmitSM }

func TestAppendHeaderOnly(t *testing.T) {
	out, err := Append(nil, PDU{Header: Header{Command: SubmitSMResp, Status: StatusThrottled, Sequence: 7}})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "00000010 80000004 00000058 00000007"); !bytes.Equal(out, want) {
		t.Fatalf("header-only Append = % X, want % X", out, want)
	}
	for _, c := range []CommandID{SubmitSM, Outbind, 0x80000102} {
		if _, err := Append(nil, PDU{Header: Header{Command: c}}); err == nil {
			t.Errorf("nil body for %s encoded", c)
		}
	}
}

// TestAppendIgnoresHeaderCommand checks that the body, not the header,
// decides command_id, so a stale header cannot mislabel a PDU.
func TestAppendIgnoresHeaderCommand(t *testing.T) {
	out, err := Append(nil, PDU{Header: Header{Command: SubmitSM, Length: 99}, Body: &EnquireLinkBody{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "00000010 00000015 00000000 00000000"); !bytes.Equal(out, want) {
		t.Fatalf("Append = % X, want % X", out, want)
	}
}

func TestFrame(t *testing.T) {
	el := unhex(t, "00000010 00000015 00000000 00000001")
	two := append(append([]byte{}, el...), unhex(t, "00000011 80000005 00000000 00000002 00")...)
	tests := []struct {
		name   string
		buf    []byte
		max    int
		n      int
		badLen bool
	}{
		{"empty", nil, 0, 0, false},
		{"three octets", el[:3], 0, 0, false},
		{"length known, header incomplete", el[:10], 0, 0, false},
		{"whole PDU", el, 0, 16, false},
		{"two PDUs: the first", two, 0, 16, false},
		{"second PDU missing its last octet", two[16 : len(two)-1], 0, 0, false},
		{"command_length 15", unhex(t, "0000000F"), 0, 0, true},
		{"command_length 0", unhex(t, "00000000 00000015"), 0, 0, true},
		{"command_length over max", unhex(t, "00000401"), 1024, 0, true},
		{"command_length at max", append(unhex(t, "00000400"), make([]byte, 1020)...), 1024, 1024, false},
		{"over DefaultMaxPDU with max 0", unhex(t, "00010001"), 0, 0, true},
		{"huge command_length", unhex(t, "FFFFFFFF"), 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Frame(tt.buf, tt.max)
			if tt.badLen {
				var de *Error
				if !errors.As(err, &de) || de.Status != StatusInvCmdLen || !errors.Is(err, ErrBadLength) {
					t.Fatalf("Frame = %d, %v; want ESME_RINVCMDLEN wrapping ErrBadLength", n, err)
				}
				return
			}
			if n != tt.n || err != nil {
				t.Fatalf("Frame = %d, %v; want %d, nil", n, err, tt.n)
			}
		})
	}
}

func TestCommandID(t *testing.T) {
	tests := []struct {
		c     CommandID
		s     string
		known bool
	}{
		{SubmitSM, "submit_sm", true},
		{GenericNack, "generic_nack", true},
		{BindTransceiverResp, "bind_transceiver_resp", true},
		{DataSMResp, "data_sm_resp", true},
		{0xFF, "0x000000ff", false},
		{0x80000102, "0x80000102", false},
		{0, "0x00000000", false},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.s {
			t.Errorf("%#x.String() = %q, want %q", uint32(tt.c), got, tt.s)
		}
		if tt.c.Known() != tt.known {
			t.Errorf("%s.Known() = %v", tt.c, !tt.known)
		}
	}
	if !SubmitSMResp.IsResponse() || SubmitSM.IsResponse() || !GenericNack.IsResponse() {
		t.Error("IsResponse wrong")
	}
	if SubmitSM.Response() != SubmitSMResp || BindTransceiver.Response() != BindTransceiverResp ||
		EnquireLinkResp.Response() != EnquireLinkResp {
		t.Error("Response wrong")
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		s    Status
		name string
	}{
		{StatusOK, "ESME_ROK"},
		{StatusThrottled, "ESME_RTHROTTLED"},
		{StatusInvOptParStream, "ESME_RINVOPTPARSTREAM"},
		{StatusTempAppErr, "ESME_RX_T_APPN"},
		{StatusUnknownErr, "ESME_RUNKNOWNERR"},
		{0x400, "0x00000400"},
		{0x09, "0x00000009"}, // a gap in the spec's table
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.name {
			t.Errorf("Status(%#x).String() = %q, want %q", uint32(tt.s), got, tt.name)
		}
	}
	var err error = StatusThrottled
	if err.Error() != "ESME_RTHROTTLED (throttling error)" {
		t.Errorf("Error() = %q", err.Error())
	}
	if got := Status(0x400).Error(); got != "command_status 0x00000400" {
		t.Errorf("unknown Error() = %q", got)
	}
	var st Status
	if !errors.As(error(StatusMsgQFul), &st) || st != StatusMsgQFul {
		t.Error("a Status is not recoverable from an error")
	}
	if len(statusText) != 48 {
		t.Errorf("%d statuses in the table, the spec lists 48", len(statusText))
	}
}
