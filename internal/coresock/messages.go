package coresock

import (
	"encoding/binary"
	"errors"
	"fmt"

	"switchboard/internal/pms"
)

// Field limits.
const (
	// MaxName is the longest peer name in RH_REGISTER; it is what a PMS
	// record can hold.
	MaxName = pms.MaxPeerName
	// MaxMSISDN is the longest MSISDN in FIND_IMSI.
	MaxMSISDN = pms.MaxAddrDigits
	// MaxIMSI is the longest IMSI (ITU-T E.212).
	MaxIMSI = 15
	// MaxPeerMsgID is the longest peer message id: an SMPP message_id is a
	// C-Octet String of at most 65 octets including its NUL.
	MaxPeerMsgID = 64
)

// SubmitIMSIAddressed is the SUBMIT flag saying that the record's destination
// is an IMSI, so routing is skipped. It is the only defined flag; the others
// must be zero so that they can be given a meaning later.
const SubmitIMSIAddressed uint32 = 1 << 0

const submitFlagsKnown = SubmitIMSIAddressed

// Role is a role handler role (seed 001 §2.5.2.1).
type Role uint8

const (
	RoleIMSILookup    Role = 1
	RoleGSMMTDelivery Role = 2
	RolePeerDelivery  Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleIMSILookup:
		return "IMSI_LOOKUP"
	case RoleGSMMTDelivery:
		return "GSM_MT_DELIVERY"
	case RolePeerDelivery:
		return "PEER_DELIVERY"
	}
	return fmt.Sprintf("ROLE_%d", uint8(r))
}

// Decoding errors of body fields; Unmarshal wraps them in ErrMalformed.
var (
	errTruncated = errors.New("field runs past the end")
	errTrailing  = errors.New("trailing bytes")
	errRange     = errors.New("field out of range")
)

// RecordBytes is an encoded 256-byte PMS record (pms.Encode output) as the
// socket carries it: the seed has clients "send a struct sm_record", and
// carrying the store's own encoding means the core checks it with the same
// decoder that reads the store.
type RecordBytes [pms.RecordSize]byte

// Encode fills rb with the encoding of r.
func (rb *RecordBytes) Encode(r *pms.Record) error { return pms.Encode(rb[:], r) }

// Decode parses rb into r.
func (rb *RecordBytes) Decode(r *pms.Record) error { return pms.Decode(rb[:], r) }

// Selector names the target of CANCEL and CHANGE_SRR: an absolute index, or
// the {OA, DA, MR} tuple that SMS-COMMAND from the GSM side carries.
type Selector struct {
	ByIndex bool
	Index   uint64 // when ByIndex
	OA, DA  pms.Address
	MR      uint8
}

const (
	selectorByIndex = 0
	selectorByTuple = 1
)

// Request bodies.
type (
	// Submit (client → core) enters a new SM. The core overwrites the
	// record's Index, Entry and state trailer except SRR.
	Submit struct {
		Flags  uint32
		Record RecordBytes
	}
	// Cancel (client → core) cancels an active SM.
	Cancel struct{ Sel Selector }
	// ChangeSRR (client → core) sets the status-report-requested flag.
	ChangeSRR struct {
		Sel Selector
		SRR bool
	}
	// RHRegister (client → core) claims a role. Name is the peer for
	// RolePeerDelivery ("" is the upstream) and empty for the other roles;
	// Valid tells whether the pair makes sense, which the codec leaves to
	// the core so that it can answer BAD_ROLE rather than MALFORMED.
	RHRegister struct {
		Role Role
		Name string
	}
	// RHServiceState (client → core) declares the handler's service up or
	// down.
	RHServiceState struct{ Up bool }
	// MTDischarge (GSM MT handler → core) reports the end of custody of an
	// SM it took with MT_TRANSFER. Disposition is Delivered, Expired,
	// Failed or Cancelled.
	MTDischarge struct {
		Index       uint64
		Disposition pms.Disposition
		Reason      uint8
	}
	// NumberingReload (client → core) says the numbering database changed.
	NumberingReload struct{}
	// Ping (either way) checks that the other end is alive and answering.
	Ping struct{}

	// FindIMSI (core → IMSI lookup handler) asks for the IMSI of an MSISDN.
	FindIMSI struct{ MSISDN string }
	// MTTransfer (core → GSM MT handler) hands an SM over into custody.
	MTTransfer struct {
		Index  uint64
		Record RecordBytes
	}
	// MTCancel (core → GSM MT handler) cancels an SM in its custody.
	MTCancel struct{ Index uint64 }
	// DeliverToPeer (core → peer delivery handler) asks for delivery of an
	// SM to the handler's peer.
	DeliverToPeer struct {
		Index  uint64
		Record RecordBytes
	}
)

// Response bodies of the types whose responses carry fields; the others
// have no response body (nil).
type (
	// SubmitResp answers SUBMIT: the message id, and whether an identical
	// active SM already existed (its id is the one returned).
	SubmitResp struct {
		Index     uint64
		Duplicate bool
	}
	// FindIMSIResp answers FIND_IMSI.
	FindIMSIResp struct{ IMSI string }
	// DeliverToPeerResp answers DELIVER_TO_PEER with the id the peer
	// assigned, which status reports from the peer will quote.
	DeliverToPeerResp struct{ PeerMsgID string }
)

// Valid reports whether the role is known and the name fits it.
func (m *RHRegister) Valid() bool {
	switch m.Role {
	case RoleIMSILookup, RoleGSMMTDelivery:
		return m.Name == ""
	case RolePeerDelivery:
		return true
	}
	return false
}

func (*Submit) Type() Type            { return TypeSubmit }
func (*Cancel) Type() Type            { return TypeCancel }
func (*ChangeSRR) Type() Type         { return TypeChangeSRR }
func (*RHRegister) Type() Type        { return TypeRHRegister }
func (*RHServiceState) Type() Type    { return TypeRHServiceState }
func (*MTDischarge) Type() Type       { return TypeMTDischarge }
func (*NumberingReload) Type() Type   { return TypeNumberingReload }
func (*Ping) Type() Type              { return TypePing }
func (*FindIMSI) Type() Type          { return TypeFindIMSI }
func (*MTTransfer) Type() Type        { return TypeMTTransfer }
func (*MTCancel) Type() Type          { return TypeMTCancel }
func (*DeliverToPeer) Type() Type     { return TypeDeliverToPeer }
func (*SubmitResp) Type() Type        { return TypeSubmit.Response() }
func (*FindIMSIResp) Type() Type      { return TypeFindIMSI.Response() }
func (*DeliverToPeerResp) Type() Type { return TypeDeliverToPeer.Response() }

// cursor reads fields in order and remembers the first failure, which keeps
// each decoder a straight list of fields.
type cursor struct {
	b   []byte
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.b) {
		c.err = errTruncated
		return nil
	}
	out := c.b[:n]
	c.b = c.b[n:]
	return out
}

func (c *cursor) u8() uint8 {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if p := c.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (c *cursor) u64() uint64 {
	if p := c.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// flag reads a boolean byte; only 0 and 1 are accepted so that every value
// has one encoding.
func (c *cursor) flag(what string) bool {
	v := c.u8()
	if c.err == nil && v > 1 {
		c.err = fmt.Errorf("%w: %s is %d", errRange, what, v)
	}
	return v == 1
}

func (c *cursor) record(dst *RecordBytes) {
	if p := c.take(pms.RecordSize); p != nil {
		copy(dst[:], p)
	}
}

// str reads a u8 length and that many bytes, checking them with valid.
func (c *cursor) str(what string, maxLen int, valid func(string) error) string {
	n := int(c.u8())
	if c.err != nil {
		return ""
	}
	if n > maxLen {
		c.err = fmt.Errorf("%w: %s of %d bytes, at most %d", errRange, what, n, maxLen)
		return ""
	}
	p := c.take(n)
	if c.err != nil {
		return ""
	}
	s := string(p)
	if err := valid(s); err != nil {
		c.err = fmt.Errorf("%s: %w", what, err)
		return ""
	}
	return s
}

func (c *cursor) address(what string) pms.Address {
	p := c.take(AddressSize)
	if c.err != nil {
		return pms.Address{}
	}
	a, err := DecodeAddress(p)
	if err != nil {
		c.err = fmt.Errorf("%s: %w", what, err)
	}
	return a
}

// done returns the first error, or errTrailing if bytes are left.
func (c *cursor) done() error {
	if c.err == nil && len(c.b) != 0 {
		return fmt.Errorf("%w: %d", errTrailing, len(c.b))
	}
	return c.err
}

// appendStr appends a u8-length-prefixed string after checking it.
func appendStr(dst []byte, what, s string, maxLen int, valid func(string) error) ([]byte, error) {
	if len(s) > maxLen {
		return dst, fmt.Errorf("%w: %s of %d bytes, at most %d", errRange, what, len(s), maxLen)
	}
	if err := valid(s); err != nil {
		return dst, fmt.Errorf("%s: %w", what, err)
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...), nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// noNUL is the rule for names and ids: the PMS stores them NUL-padded, so a
// NUL inside would silently truncate them.
func noNUL(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%w: NUL byte", errRange)
		}
	}
	return nil
}

// decimal accepts one or more decimal digits, the form of MSISDNs and IMSIs.
func decimal(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", errRange)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%w: %q is not a decimal digit", errRange, s[i])
		}
	}
	return nil
}

func (s *Selector) appendTo(dst []byte) ([]byte, error) {
	if s.ByIndex {
		dst = append(dst, selectorByIndex)
		return binary.BigEndian.AppendUint64(dst, s.Index), nil
	}
	oa, err := EncodeAddress(s.OA)
	if err != nil {
		return dst, fmt.Errorf("selector OA: %w", err)
	}
	da, err := EncodeAddress(s.DA)
	if err != nil {
		return dst, fmt.Errorf("selector DA: %w", err)
	}
	dst = append(dst, selectorByTuple)
	dst = append(dst, oa[:]...)
	dst = append(dst, da[:]...)
	return append(dst, s.MR), nil
}

func (s *Selector) decode(c *cursor) {
	*s = Selector{}
	switch mode := c.u8(); {
	case c.err != nil:
	case mode == selectorByIndex:
		s.ByIndex = true
		s.Index = c.u64()
	case mode == selectorByTuple:
		s.OA = c.address("selector OA")
		s.DA = c.address("selector DA")
		s.MR = c.u8()
	default:
		c.err = fmt.Errorf("%w: selector mode %d", errRange, mode)
	}
}

func (m *Submit) appendBody(dst []byte) ([]byte, error) {
	if m.Flags&^submitFlagsKnown != 0 {
		return dst, fmt.Errorf("%w: submit flags %#x", errRange, m.Flags)
	}
	dst = binary.BigEndian.AppendUint32(dst, m.Flags)
	return append(dst, m.Record[:]...), nil
}

func (m *Submit) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Flags = c.u32()
	if c.err == nil && m.Flags&^submitFlagsKnown != 0 {
		return fmt.Errorf("%w: submit flags %#x", errRange, m.Flags)
	}
	c.record(&m.Record)
	return c.done()
}

func (m *Cancel) appendBody(dst []byte) ([]byte, error) { return m.Sel.appendTo(dst) }

func (m *Cancel) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Sel.decode(&c)
	return c.done()
}

func (m *ChangeSRR) appendBody(dst []byte) ([]byte, error) {
	dst, err := m.Sel.appendTo(dst)
	if err != nil {
		return dst, err
	}
	return append(dst, boolByte(m.SRR)), nil
}

func (m *ChangeSRR) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Sel.decode(&c)
	m.SRR = c.flag("srr")
	return c.done()
}

func (m *RHRegister) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, byte(m.Role))
	return appendStr(dst, "peer name", m.Name, MaxName, noNUL)
}

func (m *RHRegister) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Role = Role(c.u8())
	m.Name = c.str("peer name", MaxName, noNUL)
	return c.done()
}

func (m *RHServiceState) appendBody(dst []byte) ([]byte, error) {
	return append(dst, boolByte(m.Up)), nil
}

func (m *RHServiceState) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Up = c.flag("up")
	return c.done()
}

// dischargeDisposition accepts the dispositions a GSM MT handler may report:
// Stored is final on entry only, and Active would not be a discharge.
func dischargeDisposition(d pms.Disposition) error {
	if d < pms.Delivered || d > pms.Cancelled {
		return fmt.Errorf("%w: disposition %d", errRange, d)
	}
	return nil
}

func (m *MTDischarge) appendBody(dst []byte) ([]byte, error) {
	if err := dischargeDisposition(m.Disposition); err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint64(dst, m.Index)
	return append(dst, byte(m.Disposition), m.Reason), nil
}

func (m *MTDischarge) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Index = c.u64()
	m.Disposition = pms.Disposition(c.u8())
	m.Reason = c.u8()
	if err := c.done(); err != nil {
		return err
	}
	return dischargeDisposition(m.Disposition)
}

func (*NumberingReload) appendBody(dst []byte) ([]byte, error) { return dst, nil }
func (*NumberingReload) decodeBody(b []byte) error             { return (&cursor{b: b}).done() }
func (*Ping) appendBody(dst []byte) ([]byte, error)            { return dst, nil }
func (*Ping) decodeBody(b []byte) error                        { return (&cursor{b: b}).done() }

func (m *FindIMSI) appendBody(dst []byte) ([]byte, error) {
	return appendStr(dst, "MSISDN", m.MSISDN, MaxMSISDN, decimal)
}

func (m *FindIMSI) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.MSISDN = c.str("MSISDN", MaxMSISDN, decimal)
	return c.done()
}

func (m *MTTransfer) appendBody(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, m.Index)
	return append(dst, m.Record[:]...), nil
}

func (m *MTTransfer) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Index = c.u64()
	c.record(&m.Record)
	return c.done()
}

func (m *MTCancel) appendBody(dst []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, m.Index), nil
}

func (m *MTCancel) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Index = c.u64()
	return c.done()
}

func (m *DeliverToPeer) appendBody(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, m.Index)
	return append(dst, m.Record[:]...), nil
}

func (m *DeliverToPeer) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Index = c.u64()
	c.record(&m.Record)
	return c.done()
}

func (m *SubmitResp) appendBody(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, m.Index)
	return append(dst, boolByte(m.Duplicate)), nil
}

func (m *SubmitResp) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.Index = c.u64()
	m.Duplicate = c.flag("duplicate")
	return c.done()
}

func (m *FindIMSIResp) appendBody(dst []byte) ([]byte, error) {
	return appendStr(dst, "IMSI", m.IMSI, MaxIMSI, decimal)
}

func (m *FindIMSIResp) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.IMSI = c.str("IMSI", MaxIMSI, decimal)
	return c.done()
}

func (m *DeliverToPeerResp) appendBody(dst []byte) ([]byte, error) {
	return appendStr(dst, "peer message id", m.PeerMsgID, MaxPeerMsgID, noNUL)
}

func (m *DeliverToPeerResp) decodeBody(b []byte) error {
	c := cursor{b: b}
	m.PeerMsgID = c.str("peer message id", MaxPeerMsgID, noNUL)
	return c.done()
}
