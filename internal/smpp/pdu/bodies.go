package pdu

// Body is one PDU body. Every type in this file implements it, as a value
// and as a pointer; Decode returns pointers.
//
// Body types whose natural name is taken by a CommandID constant (Unbind,
// EnquireLink, QuerySMResp, ...) carry a Body suffix, as GenericNackBody
// does.
type Body interface {
	CommandID() CommandID
}

// Bind is bind_transmitter, bind_receiver or bind_transceiver (§4.1); Cmd
// says which.
type Bind struct {
	Cmd              CommandID
	SystemID         string // max 15 characters
	Password         string // max 8
	SystemType       string // max 12
	InterfaceVersion uint8  // 0x34 for SMPP 3.4
	AddrTON, AddrNPI uint8
	AddressRange     string // max 40
}

// BindResp is the response to a bind; Cmd is the matching *_resp id. On an
// error status the body may be empty, which decodes as zero fields.
type BindResp struct {
	Cmd      CommandID
	SystemID string
	TLVs     TLVs // sc_interface_version
}

// OutbindBody is outbind (§4.1.7).
type OutbindBody struct {
	SystemID, Password string
}

// UnbindBody is unbind, which has no body.
type UnbindBody struct{}

// UnbindRespBody is unbind_resp, which has no body.
type UnbindRespBody struct{}

// EnquireLinkBody is enquire_link, which has no body.
type EnquireLinkBody struct{}

// EnquireLinkRespBody is enquire_link_resp, which has no body.
type EnquireLinkRespBody struct{}

// GenericNackBody is generic_nack, which has no body.
type GenericNackBody struct{}

// SM is submit_sm (§4.4.1) or deliver_sm (§4.6.1), which share one layout;
// Cmd says which.
type SM struct {
	Cmd                  CommandID
	ServiceType          string // max 5 characters
	Source, Dest         Address
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // "" or 16 characters (§7.1.1), see ParseTime
	ValidityPeriod       string // "" or 16 characters
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte // sm_length is len(ShortMessage), at most 254
	TLVs                 TLVs
}

// SMResp is submit_sm_resp or deliver_sm_resp; Cmd says which. Its body may
// be empty on an error status; deliver_sm_resp's message_id is unused and
// normally empty.
type SMResp struct {
	Cmd       CommandID
	MessageID string // max 64 characters
}

// DataSMBody is data_sm (§4.7.1). Its addresses may be longer than
// submit_sm's (64 characters).
type DataSMBody struct {
	ServiceType        string
	Source, Dest       Address
	ESMClass           uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	TLVs               TLVs
}

// DataSMRespBody is data_sm_resp.
type DataSMRespBody struct {
	MessageID string
	TLVs      TLVs
}

// SubmitMultiBody is submit_multi (§4.5.1).
type SubmitMultiBody struct {
	ServiceType          string
	Source               Address
	Dests                []MultiDest // 1 to 255 entries
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	TLVs                 TLVs
}

// MultiDest is one dest_address of submit_multi: an SME address (dest_flag
// 1, Addr) or a distribution list name (dest_flag 2, DistList). The field
// that does not apply is ignored by Append and left zero by Decode.
type MultiDest struct {
	DistList   string
	Addr       Address
	IsDistList bool
}

// Dest flags of submit_multi's dest_address (§5.2.25).
const (
	DestFlagSME      = 1
	DestFlagDistList = 2
)

// SubmitMultiRespBody is submit_multi_resp: the message id and the
// destinations the SMSC could not accept.
type SubmitMultiRespBody struct {
	MessageID string
	Unsuccess []UnsuccessSME
}

// UnsuccessSME is one unsuccess_sme entry of submit_multi_resp.
type UnsuccessSME struct {
	Addr   Address
	Status Status // error_status_code
}

// QuerySMBody is query_sm (§4.8.1).
type QuerySMBody struct {
	MessageID string
	Source    Address
}

// QuerySMRespBody is query_sm_resp.
type QuerySMRespBody struct {
	MessageID    string
	FinalDate    string // "" or 16 characters
	MessageState uint8  // StateEnroute ... StateRejected
	ErrorCode    uint8  // network-specific
}

// CancelSMBody is cancel_sm (§4.9.1).
type CancelSMBody struct {
	ServiceType, MessageID string
	Source, Dest           Address
}

// CancelSMRespBody is cancel_sm_resp, which has no body.
type CancelSMRespBody struct{}

// ReplaceSMBody is replace_sm (§4.10.1).
type ReplaceSMBody struct {
	MessageID            string
	Source               Address
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte
}

// ReplaceSMRespBody is replace_sm_resp, which has no body.
type ReplaceSMRespBody struct{}

// AlertNotificationBody is alert_notification (§4.12.1): the SMSC tells a
// receiver that a mobile (Source) is reachable again.
type AlertNotificationBody struct {
	Source, ESME Address
	TLVs         TLVs // ms_availability_status
}

func (b Bind) CommandID() CommandID                { return b.Cmd }
func (b BindResp) CommandID() CommandID            { return b.Cmd }
func (OutbindBody) CommandID() CommandID           { return Outbind }
func (UnbindBody) CommandID() CommandID            { return Unbind }
func (UnbindRespBody) CommandID() CommandID        { return UnbindResp }
func (EnquireLinkBody) CommandID() CommandID       { return EnquireLink }
func (EnquireLinkRespBody) CommandID() CommandID   { return EnquireLinkResp }
func (GenericNackBody) CommandID() CommandID       { return GenericNack }
func (b SM) CommandID() CommandID                  { return b.Cmd }
func (b SMResp) CommandID() CommandID              { return b.Cmd }
func (DataSMBody) CommandID() CommandID            { return DataSM }
func (DataSMRespBody) CommandID() CommandID        { return DataSMResp }
func (SubmitMultiBody) CommandID() CommandID       { return SubmitMulti }
func (SubmitMultiRespBody) CommandID() CommandID   { return SubmitMultiResp }
func (QuerySMBody) CommandID() CommandID           { return QuerySM }
func (QuerySMRespBody) CommandID() CommandID       { return QuerySMResp }
func (CancelSMBody) CommandID() CommandID          { return CancelSM }
func (CancelSMRespBody) CommandID() CommandID      { return CancelSMResp }
func (ReplaceSMBody) CommandID() CommandID         { return ReplaceSM }
func (ReplaceSMRespBody) CommandID() CommandID     { return ReplaceSMResp }
func (AlertNotificationBody) CommandID() CommandID { return AlertNotification }

// field describes one C-Octet string field: its spec name, its maximum size
// on the wire including the NUL (the spec's "Var. max N"), and the status a
// receiver answers when it is too long. Decode and Append share these, so
// the limits live in one place.
type field struct {
	name   string
	max    int
	status Status
}

var (
	fSystemID     = field{"system_id", 16, StatusInvSysID}
	fPassword     = field{"password", 9, StatusInvPaswd}
	fSystemType   = field{"system_type", 13, StatusInvSysTyp}
	fAddressRange = field{"address_range", 41, StatusBindFail}
	fServiceType  = field{"service_type", 6, StatusInvSerTyp}
	fSourceAddr   = field{"source_addr", 21, StatusInvSrcAdr}
	fDestAddr     = field{"destination_addr", 21, StatusInvDstAdr}
	fSourceAddr65 = field{"source_addr", 65, StatusInvSrcAdr}
	fDestAddr65   = field{"destination_addr", 65, StatusInvDstAdr}
	fESMEAddr     = field{"esme_addr", 65, StatusInvDstAdr}
	fSchedule     = field{"schedule_delivery_time", 17, StatusInvSched}
	fValidity     = field{"validity_period", 17, StatusInvExpiry}
	fMessageID    = field{"message_id", 65, StatusInvMsgID}
	fFinalDate    = field{"final_date", 17, StatusInvCmdLen}
	fDLName       = field{"dl_name", 21, StatusInvDLName}
)

// maxShortMessage is the largest sm_length SMPP 3.4 allows; longer content
// travels in message_payload.
const maxShortMessage = 254
