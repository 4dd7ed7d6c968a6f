package pdu

import "fmt"

// Decode parses exactly one PDU: len(b) must equal its command_length, as
// Frame guarantees. The body is returned as a pointer (*SM, *Bind, ...) and
// shares no memory with b, so the caller may reuse its read buffer at once.
//
// On failure Decode returns a PDU holding only the header and an *Error
// carrying the header as far as it could be read and the command_status
// to answer with:
//
//   - fewer than 16 octets, or command_length != len(b): ErrBadLength,
//     ESME_RINVCMDLEN;
//   - an unknown command_id: ErrUnknownCommand, ESME_RINVCMDID (the
//     session answers generic_nack);
//   - a body that ends early, a missing NUL, or octets after the last
//     mandatory field of a PDU without optional parameters: ErrMalformed,
//     ESME_RINVCMDLEN;
//   - a C-Octet string over its maximum: the field's status
//     (ESME_RINVSYSID, ESME_RINVPASWD, ESME_RINVSRCADR, ...);
//   - sm_length over 254 or past the body: ESME_RINVMSGLEN;
//   - a broken TLV stream: ESME_RINVOPTPARSTREAM or ESME_RINVPARLEN.
//
// A response (or generic_nack) with an empty body decodes as its zero
// body, since SMPP lets an error response omit the body. Unknown TLV tags
// are kept.
func Decode(b []byte) (PDU, error) {
	h := partialHeader(b)
	if len(b) < HeaderLen {
		return PDU{Header: h}, &Error{Header: h, Status: StatusInvCmdLen,
			Err: fmt.Errorf("%w: %d octets, fewer than the %d-octet header", ErrBadLength, len(b), HeaderLen)}
	}
	if uint64(h.Length) != uint64(len(b)) {
		return PDU{Header: h}, &Error{Header: h, Status: StatusInvCmdLen,
			Err: fmt.Errorf("%w: command_length %d but %d octets given", ErrBadLength, h.Length, len(b))}
	}
	r := reader{b: b[HeaderLen:]}
	r.empty = len(r.b) == 0 && h.Command.IsResponse()
	body := r.body(h.Command)
	if body == nil {
		return PDU{Header: h}, &Error{Header: h, Status: StatusInvCmdID,
			Err: fmt.Errorf("%w: %s", ErrUnknownCommand, h.Command)}
	}
	if r.err != nil {
		return PDU{Header: h}, &Error{Header: h, Status: r.status, Err: r.err}
	}
	return PDU{Header: h, Body: body}, nil
}

// body decodes the body of cmd, or returns nil for an unknown command.
// Each case lists the fields in the order of the spec's table.
func (r *reader) body(cmd CommandID) Body {
	switch cmd {
	case BindReceiver, BindTransmitter, BindTransceiver:
		b := &Bind{Cmd: cmd}
		b.SystemID = r.cstring(fSystemID)
		b.Password = r.cstring(fPassword)
		b.SystemType = r.cstring(fSystemType)
		b.InterfaceVersion = r.u8("interface_version")
		b.AddrTON = r.u8("addr_ton")
		b.AddrNPI = r.u8("addr_npi")
		b.AddressRange = r.cstring(fAddressRange)
		r.end()
		return b
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		b := &BindResp{Cmd: cmd}
		b.SystemID = r.cstring(fSystemID)
		b.TLVs = r.tlvs()
		return b
	case Outbind:
		b := &OutbindBody{}
		b.SystemID = r.cstring(fSystemID)
		b.Password = r.cstring(fPassword)
		r.end()
		return b
	case Unbind:
		r.end()
		return &UnbindBody{}
	case UnbindResp:
		r.end()
		return &UnbindRespBody{}
	case EnquireLink:
		r.end()
		return &EnquireLinkBody{}
	case EnquireLinkResp:
		r.end()
		return &EnquireLinkRespBody{}
	case GenericNack:
		r.end()
		return &GenericNackBody{}
	case CancelSMResp:
		r.end()
		return &CancelSMRespBody{}
	case ReplaceSMResp:
		r.end()
		return &ReplaceSMRespBody{}
	case SubmitSM, DeliverSM:
		b := &SM{Cmd: cmd}
		b.ServiceType = r.cstring(fServiceType)
		b.Source = r.addr(fSourceAddr)
		b.Dest = r.addr(fDestAddr)
		b.ESMClass = r.u8("esm_class")
		b.ProtocolID = r.u8("protocol_id")
		b.PriorityFlag = r.u8("priority_flag")
		b.ScheduleDeliveryTime = r.cstring(fSchedule)
		b.ValidityPeriod = r.cstring(fValidity)
		b.RegisteredDelivery = r.u8("registered_delivery")
		b.ReplaceIfPresent = r.u8("replace_if_present_flag")
		b.DataCoding = r.u8("data_coding")
		b.SMDefaultMsgID = r.u8("sm_default_msg_id")
		b.ShortMessage = r.shortMessage()
		b.TLVs = r.tlvs()
		return b
	case SubmitSMResp, DeliverSMResp:
		b := &SMResp{Cmd: cmd}
		b.MessageID = r.cstring(fMessageID)
		r.end()
		return b
	case DataSM:
		b := &DataSMBody{}
		b.ServiceType = r.cstring(fServiceType)
		b.Source = r.addr(fSourceAddr65)
		b.Dest = r.addr(fDestAddr65)
		b.ESMClass = r.u8("esm_class")
		b.RegisteredDelivery = r.u8("registered_delivery")
		b.DataCoding = r.u8("data_coding")
		b.TLVs = r.tlvs()
		return b
	case DataSMResp:
		b := &DataSMRespBody{}
		b.MessageID = r.cstring(fMessageID)
		b.TLVs = r.tlvs()
		return b
	case SubmitMulti:
		return r.submitMulti()
	case SubmitMultiResp:
		return r.submitMultiResp()
	case QuerySM:
		b := &QuerySMBody{}
		b.MessageID = r.cstring(fMessageID)
		b.Source = r.addr(fSourceAddr)
		r.end()
		return b
	case QuerySMResp:
		b := &QuerySMRespBody{}
		b.MessageID = r.cstring(fMessageID)
		b.FinalDate = r.cstring(fFinalDate)
		b.MessageState = r.u8("message_state")
		b.ErrorCode = r.u8("error_code")
		r.end()
		return b
	case CancelSM:
		b := &CancelSMBody{}
		b.ServiceType = r.cstring(fServiceType)
		b.MessageID = r.cstring(fMessageID)
		b.Source = r.addr(fSourceAddr)
		b.Dest = r.addr(fDestAddr)
		r.end()
		return b
	case ReplaceSM:
		b := &ReplaceSMBody{}
		b.MessageID = r.cstring(fMessageID)
		b.Source = r.addr(fSourceAddr)
		b.ScheduleDeliveryTime = r.cstring(fSchedule)
		b.ValidityPeriod = r.cstring(fValidity)
		b.RegisteredDelivery = r.u8("registered_delivery")
		b.SMDefaultMsgID = r.u8("sm_default_msg_id")
		b.ShortMessage = r.shortMessage()
		r.end()
		return b
	case AlertNotification:
		b := &AlertNotificationBody{}
		b.Source = r.addr(fSourceAddr65)
		b.ESME = r.addr(fESMEAddr)
		b.TLVs = r.tlvs()
		return b
	}
	return nil
}

func (r *reader) submitMulti() *SubmitMultiBody {
	b := &SubmitMultiBody{}
	b.ServiceType = r.cstring(fServiceType)
	b.Source = r.addr(fSourceAddr)
	n := int(r.u8("number_of_dests"))
	if r.ok() && n == 0 {
		r.fail(StatusInvNumDests, "number_of_dests is 0")
	}
	// Every dest_address takes at least two octets, which bounds the
	// allocation by the body actually received, not by what n claims.
	if r.ok() && 2*n > r.remaining() {
		r.fail(StatusInvCmdLen, "number_of_dests %d cannot fit in %d octets", n, r.remaining())
	}
	if r.ok() {
		b.Dests = make([]MultiDest, n)
		for i := range b.Dests {
			switch flag := r.u8("dest_flag"); {
			case !r.ok():
			case flag == DestFlagSME:
				b.Dests[i].Addr = r.addr(fDestAddr)
			case flag == DestFlagDistList:
				b.Dests[i].IsDistList = true
				b.Dests[i].DistList = r.cstring(fDLName)
			default:
				r.fail(StatusInvDestFlag, "dest_flag %d", flag)
			}
		}
	}
	b.ESMClass = r.u8("esm_class")
	b.ProtocolID = r.u8("protocol_id")
	b.PriorityFlag = r.u8("priority_flag")
	b.ScheduleDeliveryTime = r.cstring(fSchedule)
	b.ValidityPeriod = r.cstring(fValidity)
	b.RegisteredDelivery = r.u8("registered_delivery")
	b.ReplaceIfPresent = r.u8("replace_if_present_flag")
	b.DataCoding = r.u8("data_coding")
	b.SMDefaultMsgID = r.u8("sm_default_msg_id")
	b.ShortMessage = r.shortMessage()
	b.TLVs = r.tlvs()
	return b
}

func (r *reader) submitMultiResp() *SubmitMultiRespBody {
	b := &SubmitMultiRespBody{}
	b.MessageID = r.cstring(fMessageID)
	n := int(r.u8("no_unsuccess"))
	// An unsuccess_sme takes at least seven octets (TON, NPI, NUL, status).
	if r.ok() && 7*n > r.remaining() {
		r.fail(StatusInvCmdLen, "no_unsuccess %d cannot fit in %d octets", n, r.remaining())
	}
	if r.ok() && n > 0 {
		b.Unsuccess = make([]UnsuccessSME, n)
		for i := range b.Unsuccess {
			b.Unsuccess[i].Addr = r.addr(fDestAddr)
			b.Unsuccess[i].Status = Status(r.u32("error_status_code"))
		}
	}
	r.end()
	return b
}
