package pdu

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Append encodes p after dst and returns the extended slice. command_id
// comes from p.Body.CommandID() and command_length from the encoded size;
// command_status and sequence_number come from p.Header. Body may be a
// value or a pointer of any type in bodies.go.
//
// A nil Body writes a header-only PDU with p.Header.Command, the form SMPP
// 3.4 prescribes for an error response such as a submit_sm_resp with a
// non-zero status; with a body, Append always writes every mandatory field.
//
// Append never panics on field contents: a string too long for its field
// or holding a NUL, a short_message over 254 octets, a TLV value over 65535
// octets or of the wrong size for its tag, or a Cmd that does not belong to
// the body type, is an *Error wrapping ErrMalformed, with dst returned
// unchanged. The Status in it is the one a receiver would have answered.
// With enough capacity in dst, Append does not allocate.
func Append(dst []byte, p PDU) ([]byte, error) {
	h := p.Header
	start := len(dst)
	w := writer{b: append(dst, zeroHeader[:]...)}
	if p.Body == nil {
		// Only a PDU that Decode accepts without a body may be written
		// without one.
		c := h.Command
		if !c.Known() || !(c.IsResponse() || c == Unbind || c == EnquireLink) {
			return dst, &Error{Header: h, Status: StatusInvCmdID,
				Err: fmt.Errorf("%w: %s cannot be sent without a body", ErrMalformed, c)}
		}
	} else {
		enc, ok := p.Body.(bodyEncoder)
		if !ok || isNilBody(p.Body) {
			return dst, &Error{Header: h, Status: StatusInvCmdID,
				Err: fmt.Errorf("%w: cannot encode body %T", ErrUnknownCommand, p.Body)}
		}
		h.Command = p.Body.CommandID()
		w = enc.appendBody(w)
	}
	if w.err == nil && uint64(len(w.b)-start) > math.MaxUint32 {
		w.fail(StatusInvCmdLen, "PDU of %d octets", len(w.b)-start)
	}
	if w.err != nil {
		return dst, &Error{Header: h, Status: w.status, Err: w.err}
	}
	out := w.b
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start))
	binary.BigEndian.PutUint32(out[start+4:], uint32(h.Command))
	binary.BigEndian.PutUint32(out[start+8:], uint32(h.Status))
	binary.BigEndian.PutUint32(out[start+12:], h.Sequence)
	return out, nil
}

var zeroHeader [HeaderLen]byte

// bodyEncoder is implemented by every body type in bodies.go. The writer
// goes in and out by value: a pointer passed through an interface method
// escapes, and would cost an allocation per PDU.
type bodyEncoder interface {
	appendBody(w writer) writer
}

// writer appends fields to a PDU being built, latching the first error as
// reader does, so the per-PDU encoders are straight-line field lists.
type writer struct {
	b      []byte
	err    error
	status Status
}

func (w *writer) fail(st Status, format string, args ...any) {
	if w.err != nil {
		return
	}
	w.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	w.status = st
}

func (w *writer) u8(v uint8) { w.b = append(w.b, v) }

func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

// cstring writes s and its NUL, refusing what the receiver would refuse:
// more than f.max-1 octets, or a NUL that would end the string early.
func (w *writer) cstring(s string, f field) {
	if len(s) >= f.max {
		w.fail(f.status, "%s is %d octets, over %d", f.name, len(s), f.max-1)
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		w.fail(f.status, "%s contains a NUL", f.name)
		return
	}
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

func (w *writer) addr(a Address, f field) {
	w.u8(a.TON)
	w.u8(a.NPI)
	w.cstring(a.Addr, f)
}

func (w *writer) shortMessage(m []byte) {
	if len(m) > maxShortMessage {
		w.fail(StatusInvMsgLen, "short_message is %d octets, over %d", len(m), maxShortMessage)
		return
	}
	w.u8(uint8(len(m)))
	w.b = append(w.b, m...)
}

func (w *writer) tlvs(t TLVs) {
	for _, x := range t {
		if len(x.Value) > math.MaxUint16 {
			w.fail(StatusInvParLen, "TLV 0x%04X value is %d octets, over %d", x.Tag, len(x.Value), math.MaxUint16)
			return
		}
		if !tlvSizeOK(x.Tag, len(x.Value)) {
			w.fail(StatusInvParLen, "TLV %s value is %d octets, want %d", TagName(x.Tag), len(x.Value), tlvTable[x.Tag].size)
			return
		}
		w.b = binary.BigEndian.AppendUint16(w.b, x.Tag)
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(x.Value)))
		w.b = append(w.b, x.Value...)
	}
}

// cmd checks that a body type carrying its own command id carries one it
// can encode, so a Bind with Cmd SubmitSM fails rather than producing a
// PDU no one can read.
func (w *writer) cmd(c CommandID, typ string, allowed ...CommandID) {
	for _, a := range allowed {
		if c == a {
			return
		}
	}
	w.fail(StatusInvCmdID, "%s with command_id %s", typ, c)
}

func (b Bind) appendBody(w writer) writer {
	w.cmd(b.Cmd, "Bind", BindReceiver, BindTransmitter, BindTransceiver)
	w.cstring(b.SystemID, fSystemID)
	w.cstring(b.Password, fPassword)
	w.cstring(b.SystemType, fSystemType)
	w.u8(b.InterfaceVersion)
	w.u8(b.AddrTON)
	w.u8(b.AddrNPI)
	w.cstring(b.AddressRange, fAddressRange)
	return w
}

func (b BindResp) appendBody(w writer) writer {
	w.cmd(b.Cmd, "BindResp", BindReceiverResp, BindTransmitterResp, BindTransceiverResp)
	w.cstring(b.SystemID, fSystemID)
	w.tlvs(b.TLVs)
	return w
}

func (b OutbindBody) appendBody(w writer) writer {
	w.cstring(b.SystemID, fSystemID)
	w.cstring(b.Password, fPassword)
	return w
}

func (UnbindBody) appendBody(w writer) writer          { return w }
func (UnbindRespBody) appendBody(w writer) writer      { return w }
func (EnquireLinkBody) appendBody(w writer) writer     { return w }
func (EnquireLinkRespBody) appendBody(w writer) writer { return w }
func (GenericNackBody) appendBody(w writer) writer     { return w }
func (CancelSMRespBody) appendBody(w writer) writer    { return w }
func (ReplaceSMRespBody) appendBody(w writer) writer   { return w }

func (b SM) appendBody(w writer) writer {
	w.cmd(b.Cmd, "SM", SubmitSM, DeliverSM)
	w.cstring(b.ServiceType, fServiceType)
	w.addr(b.Source, fSourceAddr)
	w.addr(b.Dest, fDestAddr)
	w.u8(b.ESMClass)
	w.u8(b.ProtocolID)
	w.u8(b.PriorityFlag)
	w.cstring(b.ScheduleDeliveryTime, fSchedule)
	w.cstring(b.ValidityPeriod, fValidity)
	w.u8(b.RegisteredDelivery)
	w.u8(b.ReplaceIfPresent)
	w.u8(b.DataCoding)
	w.u8(b.SMDefaultMsgID)
	w.shortMessage(b.ShortMessage)
	w.tlvs(b.TLVs)
	return w
}

func (b SMResp) appendBody(w writer) writer {
	w.cmd(b.Cmd, "SMResp", SubmitSMResp, DeliverSMResp)
	w.cstring(b.MessageID, fMessageID)
	return w
}

func (b DataSMBody) appendBody(w writer) writer {
	w.cstring(b.ServiceType, fServiceType)
	w.addr(b.Source, fSourceAddr65)
	w.addr(b.Dest, fDestAddr65)
	w.u8(b.ESMClass)
	w.u8(b.RegisteredDelivery)
	w.u8(b.DataCoding)
	w.tlvs(b.TLVs)
	return w
}

func (b DataSMRespBody) appendBody(w writer) writer {
	w.cstring(b.MessageID, fMessageID)
	w.tlvs(b.TLVs)
	return w
}

func (b SubmitMultiBody) appendBody(w writer) writer {
	w.cstring(b.ServiceType, fServiceType)
	w.addr(b.Source, fSourceAddr)
	if len(b.Dests) == 0 || len(b.Dests) > math.MaxUint8 {
		w.fail(StatusInvNumDests, "%d destinations, want 1 to %d", len(b.Dests), math.MaxUint8)
		return w
	}
	w.u8(uint8(len(b.Dests)))
	for _, d := range b.Dests {
		if d.IsDistList {
			w.u8(DestFlagDistList)
			w.cstring(d.DistList, fDLName)
		} else {
			w.u8(DestFlagSME)
			w.addr(d.Addr, fDestAddr)
		}
	}
	w.u8(b.ESMClass)
	w.u8(b.ProtocolID)
	w.u8(b.PriorityFlag)
	w.cstring(b.ScheduleDeliveryTime, fSchedule)
	w.cstring(b.ValidityPeriod, fValidity)
	w.u8(b.RegisteredDelivery)
	w.u8(b.ReplaceIfPresent)
	w.u8(b.DataCoding)
	w.u8(b.SMDefaultMsgID)
	w.shortMessage(b.ShortMessage)
	w.tlvs(b.TLVs)
	return w
}

func (b SubmitMultiRespBody) appendBody(w writer) writer {
	w.cstring(b.MessageID, fMessageID)
	if len(b.Unsuccess) > math.MaxUint8 {
		w.fail(StatusInvNumDests, "%d unsuccess_sme entries, over %d", len(b.Unsuccess), math.MaxUint8)
		return w
	}
	w.u8(uint8(len(b.Unsuccess)))
	for _, u := range b.Unsuccess {
		w.addr(u.Addr, fDestAddr)
		w.u32(uint32(u.Status))
	}
	return w
}

func (b QuerySMBody) appendBody(w writer) writer {
	w.cstring(b.MessageID, fMessageID)
	w.addr(b.Source, fSourceAddr)
	return w
}

func (b QuerySMRespBody) appendBody(w writer) writer {
	w.cstring(b.MessageID, fMessageID)
	w.cstring(b.FinalDate, fFinalDate)
	w.u8(b.MessageState)
	w.u8(b.ErrorCode)
	return w
}

func (b CancelSMBody) appendBody(w writer) writer {
	w.cstring(b.ServiceType, fServiceType)
	w.cstring(b.MessageID, fMessageID)
	w.addr(b.Source, fSourceAddr)
	w.addr(b.Dest, fDestAddr)
	return w
}

func (b ReplaceSMBody) appendBody(w writer) writer {
	w.cstring(b.MessageID, fMessageID)
	w.addr(b.Source, fSourceAddr)
	w.cstring(b.ScheduleDeliveryTime, fSchedule)
	w.cstring(b.ValidityPeriod, fValidity)
	w.u8(b.RegisteredDelivery)
	w.u8(b.SMDefaultMsgID)
	w.shortMessage(b.ShortMessage)
	return w
}

func (b AlertNotificationBody) appendBody(w writer) writer {
	w.addr(b.Source, fSourceAddr65)
	w.addr(b.ESME, fESMEAddr)
	w.tlvs(b.TLVs)
	return w
}

// isNilBody reports whether b is a nil pointer to a body type. Calling a
// value method through one would panic, and Append promises not to.
func isNilBody(b Body) bool {
	switch p := b.(type) {
	case *Bind:
		return p == nil
	case *BindResp:
		return p == nil
	case *OutbindBody:
		return p == nil
	case *UnbindBody:
		return p == nil
	case *UnbindRespBody:
		return p == nil
	case *EnquireLinkBody:
		return p == nil
	case *EnquireLinkRespBody:
		return p == nil
	case *GenericNackBody:
		return p == nil
	case *SM:
		return p == nil
	case *SMResp:
		return p == nil
	case *DataSMBody:
		return p == nil
	case *DataSMRespBody:
		return p == nil
	case *SubmitMultiBody:
		return p == nil
	case *SubmitMultiRespBody:
		return p == nil
	case *QuerySMBody:
		return p == nil
	case *QuerySMRespBody:
		return p == nil
	case *CancelSMBody:
		return p == nil
	case *CancelSMRespBody:
		return p == nil
	case *ReplaceSMBody:
		return p == nil
	case *ReplaceSMRespBody:
		return p == nil
	case *AlertNotificationBody:
		return p == nil
	}
	return false
}
