package pdu

import "encoding/binary"

// TLV is one optional parameter: a 16-bit tag, and a value whose length
// travels as a 16-bit length before it.
type TLV struct {
	Tag   uint16
	Value []byte
}

// The optional parameter tags of SMPP 3.4 §5.3.2.
const (
	TagDestAddrSubunit          uint16 = 0x0005
	TagDestNetworkType          uint16 = 0x0006
	TagDestBearerType           uint16 = 0x0007
	TagDestTelematicsID         uint16 = 0x0008
	TagSourceAddrSubunit        uint16 = 0x000D
	TagSourceNetworkType        uint16 = 0x000E
	TagSourceBearerType         uint16 = 0x000F
	TagSourceTelematicsID       uint16 = 0x0010
	TagQOSTimeToLive            uint16 = 0x0017
	TagPayloadType              uint16 = 0x0019
	TagAdditionalStatusInfoText uint16 = 0x001D
	TagReceiptedMessageID       uint16 = 0x001E
	TagMSMsgWaitFacilities      uint16 = 0x0030
	TagPrivacyIndicator         uint16 = 0x0201
	TagSourceSubaddress         uint16 = 0x0202
	TagDestSubaddress           uint16 = 0x0203
	TagUserMessageReference     uint16 = 0x0204
	TagUserResponseCode         uint16 = 0x0205
	TagSourcePort               uint16 = 0x020A
	TagDestinationPort          uint16 = 0x020B
	TagSarMsgRefNum             uint16 = 0x020C
	TagLanguageIndicator        uint16 = 0x020D
	TagSarTotalSegments         uint16 = 0x020E
	TagSarSegmentSeqnum         uint16 = 0x020F
	TagSCInterfaceVersion       uint16 = 0x0210
	TagCallbackNumPresInd       uint16 = 0x0302
	TagCallbackNumAtag          uint16 = 0x0303
	TagNumberOfMessages         uint16 = 0x0304
	TagCallbackNum              uint16 = 0x0381
	TagDPFResult                uint16 = 0x0420
	TagSetDPF                   uint16 = 0x0421
	TagMSAvailabilityStatus     uint16 = 0x0422
	TagNetworkErrorCode         uint16 = 0x0423
	TagMessagePayload           uint16 = 0x0424
	TagDeliveryFailureReason    uint16 = 0x0425
	TagMoreMessagesToSend       uint16 = 0x0426
	TagMessageState             uint16 = 0x0427
	TagUSSDServiceOp            uint16 = 0x0501
	TagDisplayTime              uint16 = 0x1201
	TagSMSSignal                uint16 = 0x1203
	TagMSValidity               uint16 = 0x1204
	TagAlertOnMessageDelivery   uint16 = 0x130C
	TagITSReplyType             uint16 = 0x1380
	TagITSSessionInfo           uint16 = 0x1383
)

// tlvInfo is what the codec knows about a tag: its spec name, and its value
// length when the spec fixes one (-1 when it does not, or when
// implementations disagree on it).
type tlvInfo struct {
	name string
	size int
}

// tlvTable lists every SMPP 3.4 tag. Fixed sizes are enforced on decode and
// encode (ESME_RINVPARLEN), because a message_state of two octets or a
// sar_msg_ref_num of one means the peer and we disagree about the PDU, and
// guessing would misroute segments or receipts. dest_telematics_id,
// source_telematics_id and ms_validity are left unchecked: SMPP 3.4 and
// 5.0 give them different sizes and both are seen in the field.
// alert_on_message_delivery is unchecked for the same reason (0 octets in
// 3.4, 1 in 5.0).
var tlvTable = map[uint16]tlvInfo{
	TagDestAddrSubunit:          {"dest_addr_subunit", 1},
	TagDestNetworkType:          {"dest_network_type", 1},
	TagDestBearerType:           {"dest_bearer_type", 1},
	TagDestTelematicsID:         {"dest_telematics_id", -1},
	TagSourceAddrSubunit:        {"source_addr_subunit", 1},
	TagSourceNetworkType:        {"source_network_type", 1},
	TagSourceBearerType:         {"source_bearer_type", 1},
	TagSourceTelematicsID:       {"source_telematics_id", -1},
	TagQOSTimeToLive:            {"qos_time_to_live", 4},
	TagPayloadType:              {"payload_type", 1},
	TagAdditionalStatusInfoText: {"additional_status_info_text", -1},
	TagReceiptedMessageID:       {"receipted_message_id", -1},
	TagMSMsgWaitFacilities:      {"ms_msg_wait_facilities", 1},
	TagPrivacyIndicator:         {"privacy_indicator", 1},
	TagSourceSubaddress:         {"source_subaddress", -1},
	TagDestSubaddress:           {"dest_subaddress", -1},
	TagUserMessageReference:     {"user_message_reference", 2},
	TagUserResponseCode:         {"user_response_code", 1},
	TagSourcePort:               {"source_port", 2},
	TagDestinationPort:          {"destination_port", 2},
	TagSarMsgRefNum:             {"sar_msg_ref_num", 2},
	TagLanguageIndicator:        {"language_indicator", 1},
	TagSarTotalSegments:         {"sar_total_segments", 1},
	TagSarSegmentSeqnum:         {"sar_segment_seqnum", 1},
	TagSCInterfaceVersion:       {"sc_interface_version", 1},
	TagCallbackNumPresInd:       {"callback_num_pres_ind", 1},
	TagCallbackNumAtag:          {"callback_num_atag", -1},
	TagNumberOfMessages:         {"number_of_messages", 1},
	TagCallbackNum:              {"callback_num", -1},
	TagDPFResult:                {"dpf_result", 1},
	TagSetDPF:                   {"set_dpf", 1},
	TagMSAvailabilityStatus:     {"ms_availability_status", 1},
	TagNetworkErrorCode:         {"network_error_code", 3},
	TagMessagePayload:           {"message_payload", -1},
	TagDeliveryFailureReason:    {"delivery_failure_reason", 1},
	TagMoreMessagesToSend:       {"more_messages_to_send", 1},
	TagMessageState:             {"message_state", 1},
	TagUSSDServiceOp:            {"ussd_service_op", 1},
	TagDisplayTime:              {"display_time", 1},
	TagSMSSignal:                {"sms_signal", 2},
	TagMSValidity:               {"ms_validity", -1},
	TagAlertOnMessageDelivery:   {"alert_on_message_delivery", -1},
	TagITSReplyType:             {"its_reply_type", 1},
	TagITSSessionInfo:           {"its_session_info", 2},
}

// TagName returns the spec's name for tag ("message_state"), or "" for a
// tag SMPP 3.4 does not define.
func TagName(tag uint16) string { return tlvTable[tag].name }

// tlvSizeOK reports whether n is an acceptable value length for tag.
func tlvSizeOK(tag uint16, n int) bool {
	info, ok := tlvTable[tag]
	return !ok || info.size < 0 || info.size == n
}

// TLVs is the optional part of a PDU body, in wire order. Tags the codec
// does not know are kept as they came, so a PDU relayed through us keeps
// its vendor-specific parameters.
type TLVs []TLV

// Get returns the value of the first TLV with tag.
func (t TLVs) Get(tag uint16) ([]byte, bool) {
	for i := range t {
		if t[i].Tag == tag {
			return t[i].Value, true
		}
	}
	return nil, false
}

// Uint8 returns the first TLV with tag as a one-octet integer. It reports
// false when the tag is absent or its value is not exactly one octet.
func (t TLVs) Uint8(tag uint16) (uint8, bool) {
	v, ok := t.Get(tag)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// Uint16 returns the first TLV with tag as a big-endian two-octet integer.
func (t TLVs) Uint16(tag uint16) (uint16, bool) {
	v, ok := t.Get(tag)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// Uint32 returns the first TLV with tag as a big-endian four-octet integer.
func (t TLVs) Uint32(tag uint16) (uint32, bool) {
	v, ok := t.Get(tag)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// CString returns the first TLV with tag as a C-Octet string, without its
// NUL. A value with no NUL is returned whole, because some SMSCs send
// receipted_message_id unterminated and the id is still the id.
func (t TLVs) CString(tag uint16) (string, bool) {
	v, ok := t.Get(tag)
	if !ok {
		return "", false
	}
	for i, c := range v {
		if c == 0 {
			v = v[:i]
			break
		}
	}
	return string(v), true
}

// Set replaces the value of the first TLV with tag, or appends a TLV when
// there is none.
func (t *TLVs) Set(tag uint16, v []byte) {
	for i := range *t {
		if (*t)[i].Tag == tag {
			(*t)[i].Value = v
			return
		}
	}
	*t = append(*t, TLV{Tag: tag, Value: v})
}

// Del removes every TLV with tag.
func (t *TLVs) Del(tag uint16) {
	out := (*t)[:0]
	for _, x := range *t {
		if x.Tag != tag {
			out = append(out, x)
		}
	}
	clear((*t)[len(out):])
	*t = out
}

// TLVUint8 builds a TLV holding a one-octet integer.
func TLVUint8(tag uint16, v uint8) TLV { return TLV{Tag: tag, Value: []byte{v}} }

// TLVUint16 builds a TLV holding a big-endian two-octet integer.
func TLVUint16(tag uint16, v uint16) TLV {
	return TLV{Tag: tag, Value: binary.BigEndian.AppendUint16(nil, v)}
}

// TLVUint32 builds a TLV holding a big-endian four-octet integer.
func TLVUint32(tag uint16, v uint32) TLV {
	return TLV{Tag: tag, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// TLVCString builds a TLV holding s and a terminating NUL, the form SMPP
// 3.4 gives receipted_message_id and additional_status_info_text.
func TLVCString(tag uint16, s string) TLV {
	v := make([]byte, len(s)+1)
	copy(v, s)
	return TLV{Tag: tag, Value: v}
}
