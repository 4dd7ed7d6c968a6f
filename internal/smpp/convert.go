package smpp

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/gsm7"
	"switchboard/internal/pms"
	"switchboard/internal/smpp/pdu"
	"switchboard/internal/smpp/smdata"
	"switchboard/internal/smstext"
)

// Message ids. An SM's id on SMPP is the decimal absolute index of its
// record in the store: unique for the life of the store, stable across
// restarts, and what `switchboard dump` shows, so an operator can find a
// peer's message by the id in its logs. A message split into several
// records is known by its first record's index.

// FormatID is the SMPP message_id of the record at index.
func FormatID(index uint64) string { return strconv.FormatUint(index, 10) }

// ParseID is FormatID's inverse.
func ParseID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil
}

// addrFromSMPP turns an SMPP address into a store address. Numeric
// addresses keep their digits exactly (a leading '+' that some ESMEs send
// with TON 1 is dropped: the TON already says it); alphanumeric ones must
// fit the GSM alphabet and 11 characters.
func addrFromSMPP(a pdu.Address) (pms.Address, bool) {
	out := pms.Address{TON: a.TON & 7, NPI: a.NPI & 15}
	if a.TON > 7 || a.NPI > 15 {
		return out, false
	}
	if a.TON == pms.TONAlphanumeric {
		n, ok := gsm7.SeptetLen(a.Addr)
		if !ok || n == 0 || n > pms.MaxAlphaSeptet {
			return out, false
		}
		// Cloned: the decoded PDU's strings share one allocation, and the
		// core keeps addresses for as long as the SM is active.
		out.Digits = strings.Clone(a.Addr)
		return out, true
	}
	d := a.Addr
	if len(d) > 0 && d[0] == '+' {
		d = d[1:]
		if out.TON == 0 {
			out.TON = 1
		}
	}
	if d == "" || len(d) > pms.MaxAddrDigits {
		return out, false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return out, false
		}
	}
	out.Digits = strings.Clone(d)
	return out, true
}

// addrToSMPP is the address as it goes out: the stored digits, unchanged,
// so a receipt's source_addr equals the destination_addr the ESME sent.
func addrToSMPP(a pms.Address) pdu.Address {
	return pdu.Address{TON: a.TON, NPI: a.NPI, Addr: a.Digits}
}

// inbound is one message arriving over SMPP, before it becomes records.
type inbound struct {
	src, dst     pdu.Address
	esm, pid     uint8
	regDelivery  uint8
	dataCoding   uint8
	validity     string
	shortMessage []byte
	tlvs         pdu.TLVs
}

// inboundDataSM is a data_sm's message: the text is in message_payload.
func inboundDataSM(b *pdu.DataSMBody) inbound {
	return inbound{src: b.Source, dst: b.Dest, esm: b.ESMClass, regDelivery: b.RegisteredDelivery, dataCoding: b.DataCoding, tlvs: b.TLVs}
}

func inboundSM(sm *pdu.SM) inbound {
	return inbound{
		src: sm.Source, dst: sm.Dest, esm: sm.ESMClass, pid: sm.ProtocolID,
		regDelivery: sm.RegisteredDelivery, dataCoding: sm.DataCoding,
		validity: sm.ValidityPeriod, shortMessage: sm.ShortMessage, tlvs: sm.TLVs,
	}
}

// concatRef is the concatenation reference for a message that must be
// split. It is derived from the message itself, not counted, so that an
// ESME's retry of a long message (after a lost response, or a part the
// core refused) makes the same parts, which the core's duplicate detection
// then recognises (docs/core.md).
func (in *inbound) concatRef(peer string) uint16 {
	h := fnv.New32a()
	h.Write([]byte(peer))
	h.Write([]byte{0, in.src.TON, in.src.NPI})
	h.Write([]byte(in.src.Addr))
	h.Write([]byte{0, in.dst.TON, in.dst.NPI})
	h.Write([]byte(in.dst.Addr))
	h.Write([]byte{0, in.dataCoding, in.esm})
	h.Write(in.shortMessage)
	if v, ok := in.tlvs.Get(pdu.TagMessagePayload); ok {
		h.Write(v)
	}
	v := h.Sum32()
	return uint16(v ^ v>>16)
}

// records turns an inbound message into the store records the core
// admits: one per part, at most maxParts. A bad field gives the SMPP
// status to answer with.
func (in *inbound) records(class pms.Class, peer string, maxParts int, now time.Time) ([]*pms.Record, pdu.Status) {
	src, ok := addrFromSMPP(in.src)
	if !ok {
		return nil, pdu.StatusInvSrcAdr
	}
	dst, ok := addrFromSMPP(in.dst)
	if !ok || dst.TON == pms.TONAlphanumeric {
		return nil, pdu.StatusInvDstAdr
	}
	// Only the message-mode and type bits of esm_class that say "a
	// normal short message" are accepted from an ESME; UDHI is the one
	// feature bit we carry.
	if t := in.esm & 0x3C; t != 0 {
		return nil, pdu.StatusInvEsmClass
	}
	var validity uint32
	if in.validity != "" {
		t, _, err := pdu.ParseTime(in.validity, now)
		if err != nil {
			return nil, pdu.StatusInvExpiry
		}
		if !t.IsZero() {
			d := t.Sub(now)
			if d <= 0 {
				return nil, pdu.StatusInvExpiry
			}
			validity = uint32(max(d/time.Second, 1))
		}
	}
	m := smdata.Message{DataCoding: in.dataCoding, ESMClass: in.esm, ShortMessage: in.shortMessage}
	if v, ok := in.tlvs.Get(pdu.TagMessagePayload); ok {
		if len(in.shortMessage) > 0 {
			return nil, pdu.StatusInvOptParamVal
		}
		m.Payload = v
	}
	if r, ok := in.tlvs.Uint16(pdu.TagSarMsgRefNum); ok {
		t, ok1 := in.tlvs.Uint8(pdu.TagSarTotalSegments)
		q, ok2 := in.tlvs.Uint8(pdu.TagSarSegmentSeqnum)
		if !ok1 || !ok2 {
			return nil, pdu.StatusMissingOptParam
		}
		m.SAR = &smdata.SAR{Ref: r, Total: t, Seq: q}
	}
	opts := smdata.Options{MaxParts: maxParts}
	if err := smdata.CheckSize(m, opts); err != nil {
		// Before the hash below: a submit_multi repeats this for each of
		// up to 254 destinations, which must not each hash 64 KiB.
		return nil, dataStatus(err)
	}
	if m.Payload != nil || len(m.ShortMessage) > smstext.MaxUDOctets/2 {
		// Only a message that may need splitting needs a reference. Up to
		// 70 octets always fits one record, whatever the coding: even
		// Latin-1 turned into UCS-2 doubles to at most 140.
		opts.Ref = in.concatRef(peer)
	}
	parts, err := smdata.ToParts(m, opts)
	if err != nil {
		return nil, dataStatus(err)
	}
	var mr uint8
	if v, ok := in.tlvs.Uint16(pdu.TagUserMessageReference); ok {
		mr = uint8(v)
	}
	recs := make([]*pms.Record, len(parts))
	for i, p := range parts {
		recs[i] = &pms.Record{
			Kind:        pms.KindSM,
			SrcClass:    class,
			SrcPeer:     peer,
			Src:         src,
			Dst:         dst,
			PID:         in.pid,
			DCS:         p.DCS,
			ESM:         p.ESM,
			MR:          mr,
			UDL:         p.UDL,
			UD:          p.UD,
			ConcatRef:   p.Ref,
			ConcatTotal: p.Total,
			ConcatSeq:   p.Seq,
			Validity:    validity,
		}
		// A receipt is asked for on the first record only: its index is
		// the message id the ESME was given, and one receipt per id is
		// what an ESME can match.
		if i == 0 {
			recs[i].State.SRR, recs[i].State.SRRFailureOnly = srrOf(in.regDelivery)
		}
	}
	return recs, pdu.StatusOK
}

// srrOf reads registered_delivery's SMSC delivery receipt bits (§5.2.17,
// bits 1-0): 1 asks for a receipt, 2 for one only when delivery fails
// (the core then makes no report of a delivery). 3 is reserved in v3.4
// and is taken as 1, a receipt either way, rather than refused.
func srrOf(regDelivery uint8) (srr, failureOnly bool) {
	v := regDelivery & 0x03
	return v != 0, v == 2
}

// dataStatus maps a user-data conversion error to the SMPP status an ESME
// gets (docs/smpp-text.md). The uplink turns ESME_RSUBMITFAIL into
// ESME_RX_P_APPN for the upstream's deliver_sm.
func dataStatus(err error) pdu.Status {
	switch {
	case errors.Is(err, smdata.ErrTooLong):
		return pdu.StatusInvMsgLen
	case errors.Is(err, smdata.ErrBadSAR), errors.Is(err, smdata.ErrBothBodies):
		return pdu.StatusInvOptParamVal
	}
	// ErrUnsupportedCoding, ErrBadUserData.
	return pdu.StatusSubmitFail
}

// coreStatus maps a core rejection to the SMPP status an ESME can act on.
func coreStatus(err error) pdu.Status {
	var ce *core.Error
	if !errors.As(err, &ce) {
		return pdu.StatusSysErr
	}
	switch ce.Status {
	case coresock.StatusOK:
		return pdu.StatusOK
	case coresock.StatusUnroutable, coresock.StatusInvalidNumber, coresock.StatusNotSMSCapable,
		coresock.StatusUnknownDestinationFromUpstream:
		return pdu.StatusInvDstAdr
	case coresock.StatusUpstreamNotPermitted, coresock.StatusSourceNotAllowed:
		return pdu.StatusInvSrcAdr
	case coresock.StatusPIDNotAllowed:
		return pdu.StatusSubmitFail
	case coresock.StatusDCSNotAllowed:
		return pdu.StatusSubmitFail
	case coresock.StatusBadLength:
		return pdu.StatusInvMsgLen
	case coresock.StatusStoreFailed, coresock.StatusShuttingDown:
		return pdu.StatusSysErr
	case coresock.StatusTooBusy:
		return pdu.StatusMsgQFul
	case coresock.StatusNotFound, coresock.StatusNotActive:
		return pdu.StatusInvMsgID
	}
	return pdu.StatusSubmitFail
}

// outboundSM builds the deliver_sm (to a peer) or submit_sm (to the
// upstream) that carries a stored SM.
func outboundSM(cmd pdu.CommandID, r *pms.Record, opts smdata.OutOptions) (*pdu.SM, error) {
	dc, udhi, sm, err := smdata.FromPart(r.DCS, r.ESM, r.UDL, r.UD, opts)
	if err != nil {
		return nil, err
	}
	out := &pdu.SM{
		Cmd:          cmd,
		Source:       addrToSMPP(r.Src),
		Dest:         addrToSMPP(r.Dst),
		ESMClass:     udhi,
		ProtocolID:   r.PID,
		DataCoding:   dc,
		ShortMessage: sm,
	}
	if r.MR != 0 {
		out.TLVs = append(out.TLVs, pdu.TLVUint16(pdu.TagUserMessageReference, uint16(r.MR)))
	}
	if cmd == pdu.SubmitSM {
		// A failure-only request still asks the upstream for every
		// receipt: the SM waits for the upstream's word on its outcome
		// either way, and the core drops the report of a delivery.
		if r.State.SRR {
			out.RegisteredDelivery = 1
		}
		if exp := r.Expiry(); !exp.IsZero() {
			out.ValidityPeriod = pdu.FormatAbsolute(exp)
		}
	}
	return out, nil
}

// receiptSM turns one of the core's status-report records into an SMPP
// delivery receipt (Appendix B): deliver_sm with esm_class 0x04, the
// receipt text, and the receipted_message_id and message_state TLVs
// carrying the same id as submit_sm_resp did. Its source is the original
// destination exactly as submitted, which is how Kannel matches it.
func receiptSM(r *pms.Record) (*pdu.SM, bool) {
	info, ok := core.ParseStatusReport(r.UD)
	if !ok {
		return nil, false
	}
	id := FormatID(info.Index)
	stat, state := receiptStat(info.Disposition)
	rc := pdu.Receipt{
		ID: id, Sub: 1, SubmitDate: info.Submitted, DoneDate: info.Discharged,
		Stat: stat, Err: int(info.TPST),
	}
	if state == pdu.StateDelivered {
		rc.Dlvrd = 1
	}
	return &pdu.SM{
		Cmd:          pdu.DeliverSM,
		Source:       addrToSMPP(r.Src),
		Dest:         addrToSMPP(r.Dst),
		ESMClass:     0x04,
		ShortMessage: []byte(pdu.FormatReceipt(rc)),
		TLVs: pdu.TLVs{
			pdu.TLVCString(pdu.TagReceiptedMessageID, id),
			pdu.TLVUint8(pdu.TagMessageState, state),
		},
	}, true
}

func receiptStat(d pms.Disposition) (string, uint8) {
	switch d {
	case pms.Delivered, pms.Stored:
		return "DELIVRD", pdu.StateDelivered
	case pms.Expired:
		return "EXPIRED", pdu.StateExpired
	case pms.Cancelled:
		return "DELETED", pdu.StateDeleted
	}
	return "UNDELIV", pdu.StateUndeliverable
}

// dispositionFromReceipt maps an upstream's receipt to our disposition:
// the message_state TLV when present, else the text's stat word.
func dispositionFromReceipt(stat string, state uint8, hasState bool) (pms.Disposition, bool) {
	if !hasState {
		if state, hasState = pdu.StateForStat(stat); !hasState {
			return 0, false
		}
	}
	switch state {
	case pdu.StateDelivered:
		return pms.Delivered, true
	case pdu.StateExpired:
		return pms.Expired, true
	case pdu.StateDeleted:
		return pms.Cancelled, true
	case pdu.StateUndeliverable, pdu.StateRejected, pdu.StateUnknown:
		return pms.Failed, true
	}
	return 0, false // ENROUTE, ACCEPTED: not final
}

// storedSM decodes a record the core hands out and builds the PDU that
// carries it: cmd (deliver_sm to a peer, submit_sm upstream) for an
// ordinary SM, a delivery receipt for one of the core's status reports.
// An error means the record cannot go out at all; the caller fails it
// permanently.
func storedSM(cmd pdu.CommandID, raw *[pms.RecordSize]byte, opts smdata.OutOptions) (r pms.Record, sm *pdu.SM, err error) {
	if err = pms.Decode(raw[:], &r); err != nil {
		return r, nil, err
	}
	if r.StatusReport {
		var ok bool
		if sm, ok = receiptSM(&r); !ok {
			return r, nil, errors.New("malformed status report")
		}
		return r, sm, nil
	}
	sm, err = outboundSM(cmd, &r, opts)
	return r, sm, err
}

// notMT fills the core.Handler methods of the roles a peer-delivery
// handler does not have; the core never calls them on it.
type notMT struct{}

func (notMT) FindIMSI(context.Context, string) (string, core.Status, error) {
	return "", coresock.StatusUnknownType, nil
}

func (notMT) TransferMT(context.Context, uint64, *[pms.RecordSize]byte) (core.Status, error) {
	return coresock.StatusUnknownType, nil
}

func (notMT) CancelMT(context.Context, uint64) (core.Status, error) {
	return coresock.StatusUnknownType, nil
}
