package pdu

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex joins hex fragments, ignoring spaces, so a vector can be written one
// field per fragment. Text between single quotes ('text') is taken as
// ASCII, so text fields stay readable; the NUL after a C-Octet string is
// always written as its own 00.
func unhex(t testing.TB, parts ...string) []byte {
	t.Helper()
	var out []byte
	for _, p := range parts {
		for p != "" {
			if p[0] == '\'' {
				end := strings.IndexByte(p[1:], '\'')
				if end < 0 {
					t.Fatalf("unclosed quote in %q", p)
				}
				out = append(out, p[1:1+end]...)
				p = p[2+end:]
				continue
			}
			end := strings.IndexByte(p, '\'')
			if end < 0 {
				end = len(p)
			}
			b, err := hex.DecodeString(strings.ReplaceAll(p[:end], " ", ""))
			if err != nil {
				t.Fatalf("bad hex in %q: %v", p, err)
			}
			out = append(out, b...)
			p = p[end:]
		}
	}
	return out
}

// vector is one hand-written PDU: its bytes, field by field from the
// spec's layout tables, and the value they mean. docs/smpp-pdu.md shows the
// same bytes; TestDocVectors checks that the two agree.
type vector struct {
	name string
	hex  []string
	want PDU
	// headerOnly marks an error response sent without a body: Decode
	// yields the zero body, and Append reproduces the bytes only when
	// given a nil Body.
	headerOnly bool
}

// receiptText is the short_message of the deliver_sm receipt vector, 103
// octets (0x67).
const receiptText = "id:abc123 sub:001 dlvrd:001 submit date:2612011830 done date:2612011831 stat:DELIVRD err:000 text:hello"

var vectors = []vector{
	{
		name: "bind_transceiver",
		hex: []string{
			"00000021 00000009 00000000 00000001", // length 33, bind_transceiver, ESME_ROK, seq 1
			"'test' 00",                           // system_id
			"'secret' 00",                         // password
			"00",                                  // system_type ""
			"34",                                  // interface_version 3.4
			"00 00",                               // addr_ton, addr_npi
			"00",                                  // address_range ""
		},
		want: PDU{Header{33, BindTransceiver, StatusOK, 1}, &Bind{
			Cmd: BindTransceiver, SystemID: "test", Password: "secret", InterfaceVersion: 0x34}},
	},
	{
		name: "bind_transmitter with system_type and address_range",
		hex: []string{
			"00000025 00000002 00000000 00000002",
			"'esme' 00", "'pw' 00", "'VMA' 00", "34", "01 01", "'^1555' 00",
		},
		want: PDU{Header{37, BindTransmitter, StatusOK, 2}, &Bind{
			Cmd: BindTransmitter, SystemID: "esme", Password: "pw", SystemType: "VMA",
			InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "^1555"}},
	},
	{
		name: "bind_receiver",
		hex:  []string{"00000018 00000001 00000000 00000003", "'r' 00", "00", "00", "34", "00 00", "00"},
		want: PDU{Header{24, BindReceiver, StatusOK, 3}, &Bind{Cmd: BindReceiver, SystemID: "r", InterfaceVersion: 0x34}},
	},
	{
		name: "bind_transceiver_resp with sc_interface_version",
		hex: []string{
			"0000001A 80000009 00000000 00000001",
			"'SMSC' 00",    // system_id
			"0210 0001 34", // sc_interface_version = 0x34
		},
		want: PDU{Header{26, BindTransceiverResp, StatusOK, 1}, &BindResp{
			Cmd: BindTransceiverResp, SystemID: "SMSC", TLVs: TLVs{{TagSCInterfaceVersion, []byte{0x34}}}}},
	},
	{
		name:       "bind_transmitter_resp ESME_RBINDFAIL without body",
		hex:        []string{"00000010 80000002 0000000D 00000002"},
		want:       PDU{Header{16, BindTransmitterResp, StatusBindFail, 2}, &BindResp{Cmd: BindTransmitterResp}},
		headerOnly: true,
	},
	{
		name: "bind_receiver_resp",
		hex:  []string{"00000015 80000001 00000000 00000003", "'SMSC' 00"},
		want: PDU{Header{21, BindReceiverResp, StatusOK, 3}, &BindResp{Cmd: BindReceiverResp, SystemID: "SMSC"}},
	},
	{
		name: "outbind",
		hex:  []string{"00000018 0000000B 00000000 00000004", "'smsc' 00", "'pw' 00"},
		want: PDU{Header{24, Outbind, StatusOK, 4}, &OutbindBody{SystemID: "smsc", Password: "pw"}},
	},
	{
		name: "unbind",
		hex:  []string{"00000010 00000006 00000000 00000005"},
		want: PDU{Header{16, Unbind, StatusOK, 5}, &UnbindBody{}},
	},
	{
		name: "unbind_resp",
		hex:  []string{"00000010 80000006 00000000 00000005"},
		want: PDU{Header{16, UnbindResp, StatusOK, 5}, &UnbindRespBody{}},
	},
	{
		name: "enquire_link",
		hex:  []string{"00000010 00000015 00000000 00000007"},
		want: PDU{Header{16, EnquireLink, StatusOK, 7}, &EnquireLinkBody{}},
	},
	{
		name: "enquire_link_resp",
		hex:  []string{"00000010 80000015 00000000 00000007"},
		want: PDU{Header{16, EnquireLinkResp, StatusOK, 7}, &EnquireLinkRespBody{}},
	},
	{
		name: "generic_nack ESME_RINVCMDID",
		hex:  []string{"00000010 80000000 00000003 00000009"},
		want: PDU{Header{16, GenericNack, StatusInvCmdID, 9}, &GenericNackBody{}},
	},
	{
		name: "submit_sm with TLVs",
		hex: []string{
			"00000053 00000004 00000000 0000000A", // length 83
			"00",                                  // service_type ""
			"01 01 '12345' 00",                    // source TON, NPI, addr
			"01 01 '15551234567' 00",              // dest TON, NPI, addr
			"00 00 00",                            // esm_class, protocol_id, priority_flag
			"00",                                  // schedule_delivery_time ""
			"'000001000000000R' 00",               // validity_period: one day, relative
			"01 00 00 00",                         // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
			"05 'hello'",                          // sm_length, short_message
			"0204 0002 0042",                      // user_message_reference = 0x42
			"1400 0003 'abc'",                     // vendor tag 0x1400, kept as is
		},
		want: PDU{Header{83, SubmitSM, StatusOK, 10}, &SM{
			Cmd:            SubmitSM,
			Source:         Address{1, 1, "12345"},
			Dest:           Address{1, 1, "15551234567"},
			ValidityPeriod: "000001000000000R", RegisteredDelivery: 1,
			ShortMessage: []byte("hello"),
			TLVs:         TLVs{{TagUserMessageReference, []byte{0x00, 0x42}}, {0x1400, []byte("abc")}},
		}},
	},
	{
		name: "submit_sm_resp",
		hex:  []string{"00000017 80000004 00000000 0000000A", "'abc123' 00"},
		want: PDU{Header{23, SubmitSMResp, StatusOK, 10}, &SMResp{Cmd: SubmitSMResp, MessageID: "abc123"}},
	},
	{
		name:       "submit_sm_resp ESME_RSUBMITFAIL without body",
		hex:        []string{"00000010 80000004 00000045 0000000B"},
		want:       PDU{Header{16, SubmitSMResp, StatusSubmitFail, 11}, &SMResp{Cmd: SubmitSMResp}},
		headerOnly: true,
	},
	{
		name: "deliver_sm receipt",
		hex: []string{
			"000000A8 00000005 00000000 0000000C", // length 168
			"00",                                  // service_type
			"01 01 '15551234567' 00",              // source: the original destination
			"00 00 '12345' 00",                    // dest: the original source
			"04 00 00",                            // esm_class 0x04 = SMSC delivery receipt
			"00", "00",                            // schedule_delivery_time, validity_period
			"00 00 00 00",
			"67 '" + receiptText + "'", // sm_length 103
			"001E 0007 'abc123' 00",    // receipted_message_id, NUL-terminated
			"0427 0001 02",             // message_state = DELIVERED
		},
		want: PDU{Header{168, DeliverSM, StatusOK, 12}, &SM{
			Cmd:          DeliverSM,
			Source:       Address{1, 1, "15551234567"},
			Dest:         Address{0, 0, "12345"},
			ESMClass:     0x04,
			ShortMessage: []byte(receiptText),
			TLVs: TLVs{
				{TagReceiptedMessageID, []byte("abc123\x00")},
				{TagMessageState, []byte{StateDelivered}},
			},
		}},
	},
	{
		name: "deliver_sm_resp",
		hex:  []string{"00000011 80000005 00000000 0000000C", "00"},
		want: PDU{Header{17, DeliverSMResp, StatusOK, 12}, &SMResp{Cmd: DeliverSMResp}},
	},
	{
		name: "data_sm",
		hex: []string{
			"00000038 00000103 00000000 0000000D",
			"00",
			"01 01 '12345' 00",
			"01 01 '15551234567' 00",
			"00 01 04",           // esm_class, registered_delivery, data_coding
			"0424 0004 DEADBEEF", // message_payload
			"020A 0002 23F0",     // source_port 9200
		},
		want: PDU{Header{56, DataSM, StatusOK, 13}, &DataSMBody{
			Source: Address{1, 1, "12345"}, Dest: Address{1, 1, "15551234567"},
			RegisteredDelivery: 1, DataCoding: 4,
			TLVs: TLVs{{TagMessagePayload, []byte{0xDE, 0xAD, 0xBE, 0xEF}}, {TagSourcePort, []byte{0x23, 0xF0}}},
		}},
	},
	{
		name: "data_sm_resp",
		hex:  []string{"00000018 80000103 00000000 0000000D", "'m1' 00", "0425 0001 00"},
		want: PDU{Header{24, DataSMResp, StatusOK, 13}, &DataSMRespBody{
			MessageID: "m1", TLVs: TLVs{{TagDeliveryFailureReason, []byte{0}}}}},
	},
	{
		name: "submit_multi with one SME and one DL",
		hex: []string{
			"0000003E 00000021 00000000 0000000E", // length 62
			"00",
			"01 01 '12345' 00",          // source
			"02",                        // number_of_dests
			"01 01 01 '15551234567' 00", // dest_flag 1 (SME), TON, NPI, addr
			"02 'friends' 00",           // dest_flag 2 (distribution list), dl_name
			"00 00 00", "00", "00", "00 00 00 00",
			"02 'hi'",
		},
		want: PDU{Header{62, SubmitMulti, StatusOK, 14}, &SubmitMultiBody{
			Source: Address{1, 1, "12345"},
			Dests: []MultiDest{
				{Addr: Address{1, 1, "15551234567"}},
				{IsDistList: true, DistList: "friends"},
			},
			ShortMessage: []byte("hi"),
		}},
	},
	{
		name: "submit_multi_resp with one unsuccess_sme",
		hex: []string{
			"00000027 80000021 00000000 0000000E",
			"'mid' 00", "01", "01 01 '15551234567' 00", "0000000B", // no_unsuccess 1, ESME_RINVDSTADR
		},
		want: PDU{Header{39, SubmitMultiResp, StatusOK, 14}, &SubmitMultiRespBody{
			MessageID: "mid", Unsuccess: []UnsuccessSME{{Address{1, 1, "15551234567"}, StatusInvDstAdr}}}},
	},
	{
		name: "query_sm",
		hex:  []string{"0000001F 00000003 00000000 0000000F", "'abc123' 00", "01 01 '12345' 00"},
		want: PDU{Header{31, QuerySM, StatusOK, 15}, &QuerySMBody{MessageID: "abc123", Source: Address{1, 1, "12345"}}},
	},
	{
		name: "query_sm_resp",
		hex: []string{
			"0000002A 80000003 00000000 0000000F",
			"'abc123' 00",           // message_id
			"'261201183100000+' 00", // final_date
			"02",                    // message_state DELIVERED
			"00",                    // error_code
		},
		want: PDU{Header{42, QuerySMResp, StatusOK, 15}, &QuerySMRespBody{
			MessageID: "abc123", FinalDate: "261201183100000+", MessageState: StateDelivered}},
	},
	{
		name: "cancel_sm",
		hex: []string{"0000002E 00000008 00000000 00000010",
			"00", "'abc123' 00", "01 01 '12345' 00", "01 01 '15551234567' 00"},
		want: PDU{Header{46, CancelSM, StatusOK, 16}, &CancelSMBody{
			MessageID: "abc123", Source: Address{1, 1, "12345"}, Dest: Address{1, 1, "15551234567"}}},
	},
	{
		name: "cancel_sm_resp",
		hex:  []string{"00000010 80000008 00000000 00000010"},
		want: PDU{Header{16, CancelSMResp, StatusOK, 16}, &CancelSMRespBody{}},
	},
	{
		name: "replace_sm",
		hex: []string{"00000037 00000007 00000000 00000011",
			"'abc123' 00", "01 01 '12345' 00", "00", "'000002000000000R' 00", "01", "00", "03 'new'"},
		want: PDU{Header{55, ReplaceSM, StatusOK, 17}, &ReplaceSMBody{
			MessageID: "abc123", Source: Address{1, 1, "12345"}, ValidityPeriod: "000002000000000R",
			RegisteredDelivery: 1, ShortMessage: []byte("new")}},
	},
	{
		name: "replace_sm_resp",
		hex:  []string{"00000010 80000007 00000000 00000011"},
		want: PDU{Header{16, ReplaceSMResp, StatusOK, 17}, &ReplaceSMRespBody{}},
	},
	{
		name: "alert_notification",
		hex: []string{"0000002B 00000102 00000000 00000012",
			"01 01 '15551234567' 00", "00 00 '12345' 00", "0422 0001 00"}, // ms_availability_status available
		want: PDU{Header{43, AlertNotification, StatusOK, 18}, &AlertNotificationBody{
			Source: Address{1, 1, "15551234567"}, ESME: Address{0, 0, "12345"},
			TLVs: TLVs{{TagMSAvailabilityStatus, []byte{0}}}}},
	},
}
