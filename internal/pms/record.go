// Package pms is the persistent message store: one append-only file of
// directly abutted 256-byte records (seed 001 §2.2). Every short message and
// every chat message segment that the switch accepts is one record. Records
// are written in entry-time order, so the file can be binary-searched by time,
// and a record's absolute position is its permanent identity.
//
// The byte layout is documented in docs/pms.md; this file is its codec. The
// codec is pure: bytes in, values out, no I/O.
package pms

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// RecordSize is the fixed size of every record. A megabyte (2^20 bytes) holds
// exactly RecordsPerMB records, which the historical-mb file relies on.
const (
	RecordSize   = 256
	RecordsPerMB = (1 << 20) / RecordSize
	// FormatVersion is written into every record; a reader refuses records
	// of a version it does not know rather than misreading them.
	FormatVersion = 1
)

// Offsets of the regions of a record. The body (everything before
// stateOffset) is immutable once written; the state trailer may be rewritten
// in place while the record is active. Each region has its own CRC so that a
// torn in-place state update never makes the immutable body unreadable.
const (
	magic0      = 'S'
	magic1      = 'B'
	bodyCRCOff  = 4
	indexOff    = 8
	entryOff    = 16
	validityOff = 24
	srcClassOff = 28
	dstClassOff = 29
	flagsOff    = 30
	kindBodyOff = 32
	stateOffset = 224
	stateCRCOff = 252

	// StateSize is the size of the mutable trailer, which Store.Update
	// rewrites on its own.
	StateSize = RecordSize - stateOffset
)

// Limits of the fields.
const (
	MaxUD          = 140 // octets of user data in one SM record
	MaxAddrDigits  = 20  // digits of a numeric address
	MaxAlphaSeptet = 11  // septets of an alphanumeric (TON 5) address
	MaxPeerName    = 16  // bytes of a peer name
	MaxChatName    = 32  // bytes of a chat user or group name
	MaxChatText    = 124 // bytes of chat text in one segment
)

// Kind says what a record holds. The common header and the state trailer are
// the same for every kind; the 192 bytes between them depend on the kind.
type Kind uint8

const (
	KindSM   Kind = 1 // a short message (SMS TPDU fields)
	KindChat Kind = 2 // one segment of a chat message
)

// Class is an SME class: where a message came from or where it is going
// (seed 001 §2.4.1, extended with chat).
type Class uint8

const (
	ClassNone       Class = 0
	ClassLocal      Class = 1 // local submission; as a destination, storing is delivery
	ClassGSM        Class = 2 // local GSM network (MSISDN-to-IMSI lookup, MT delivery)
	ClassUpstream   Class = 3 // the uplink to the outside world
	ClassDownstream Class = 4 // a downstream SMPP peer
	ClassChat       Class = 5 // a chat user or group

	maxClass = ClassChat
)

var classNames = [...]string{"none", "local", "gsm", "upstream", "downstream", "chat"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ParseClass is the inverse of Class.String.
func ParseClass(s string) (Class, error) {
	for i, n := range classNames {
		if n == s {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("unknown class %q", s)
}

// Disposition is the fate of a message. Zero means the record is active; any
// other value makes it historical, after which it is never written again.
type Disposition uint8

const (
	Active    Disposition = 0
	Stored    Disposition = 1 // final on entry: writing it into the store was the delivery
	Delivered Disposition = 2
	Expired   Disposition = 3 // validity period ran out after temporary failures
	Failed    Disposition = 4 // permanent failure
	Cancelled Disposition = 5
	// Replaced: an SMPP replace_sm put a new record in this one's place
	// (State.ReplacedBy). The SM goes on as that record; this one is
	// never delivered.
	Replaced Disposition = 6

	maxDisposition = Replaced
)

var dispositionNames = [...]string{"active", "stored", "delivered", "expired", "failed", "cancelled", "replaced"}

func (d Disposition) String() string {
	if int(d) < len(dispositionNames) {
		return dispositionNames[d]
	}
	return fmt.Sprintf("disposition(%d)", uint8(d))
}

// Historical reports whether the disposition makes a record historical.
func (d Disposition) Historical() bool { return d != Active }

// Header flag bits (immutable).
const (
	flagStatusReport  = 1 << 0
	flagIMSIAddressed = 1 << 1
	// flagReplacement marks an SM record made by a replacement: its
	// concatenation bytes and the reserved bytes 82-83 hold the index of
	// the SM it replaces (see replacesLow and replacesHigh).
	flagReplacement = 1 << 2
)

// State flag bits (mutable).
const (
	stateFlagSRR  = 1 << 0
	stateFlagIMSI = 1 << 1
	// stateFlagFailureOnly qualifies SRR: a report only when the SM is
	// not delivered (SMPP registered_delivery 2).
	stateFlagFailureOnly = 1 << 2
)

// MaxReplaces bounds Record.Replaces: the index is kept in 48 bits.
const MaxReplaces = 1<<48 - 1

// Chat flag bits.
const chatFlagGroup = 1 << 0

// Errors returned by Decode. A caller scanning a file tells a torn tail from
// a foreign file by which of these it gets.
var (
	ErrShort      = errors.New("pms: record shorter than 256 bytes")
	ErrMagic      = errors.New("pms: bad record magic")
	ErrVersion    = errors.New("pms: unknown record format version")
	ErrBodyCRC    = errors.New("pms: record body CRC mismatch")
	ErrStateCRC   = errors.New("pms: record state CRC mismatch")
	ErrKind       = errors.New("pms: unknown record kind")
	ErrFieldRange = errors.New("pms: field out of range")
)

// Address is a phone number or alphanumeric sender with its GSM 03.40 type
// of number and numbering plan. Digits holds decimal digits (and * # a b c)
// for numeric types, or up to 11 GSM 03.38 characters when TON is 5.
type Address struct {
	TON    uint8
	NPI    uint8
	Digits string
}

// TONAlphanumeric is the type of number of an alphanumeric address.
const TONAlphanumeric = 5

func (a Address) String() string {
	if a.TON == 1 {
		return "+" + a.Digits
	}
	return a.Digits
}

// State is the mutable trailer of a record: everything the core may change
// while a message is active. Which destination field applies depends on the
// record's destination class: IMSI for ClassGSM, DstPeer for ClassDownstream,
// PeerMsgID (the id the upstream gave the message) for ClassUpstream.
type State struct {
	Disposition Disposition
	SRR         bool // status report requested (SMSC_REQ_CHANGE_SRR may flip it)
	// SRRFailureOnly limits SRR to outcomes other than delivery: no report
	// when the SM is delivered (or stored), one when it expires, fails or
	// is cancelled. It means nothing without SRR.
	SRRFailureOnly bool
	Attempts       uint8 // delivery attempts, saturating at 255
	Reason         uint8 // last error code (core's numbering, see docs/pms.md)
	Discharged     time.Time
	IMSI           string
	DstPeer        string
	PeerMsgID      string
	// ReplacedBy is the index of the record that replaced this one, for
	// Disposition Replaced only. It takes the place of the destination
	// info, which the replacement carries on.
	ReplacedBy uint64
}

// Record is one decoded record. Index and Entry are assigned by the store at
// append time; the encoder writes whatever they hold.
type Record struct {
	Index    uint64
	Kind     Kind
	Entry    time.Time
	Validity uint32 // seconds from Entry to expiry; 0 means it never expires
	SrcClass Class
	DstClass Class

	StatusReport  bool // this SM is a status report
	IMSIAddressed bool // submitted to an IMSI, routing skipped
	// Replacement marks an SM made by replacing another (SMPP replace_sm);
	// Replaces is the index of the SM first submitted, the id its sender
	// holds, however many replacements came between. A replacement is
	// never concatenated: its concatenation bytes hold Replaces.
	Replacement bool
	Replaces    uint64

	// KindSM fields.
	PID, DCS, ESM, MR uint8
	UDL               uint8 // TP-UDL: septets for GSM 7-bit, else octets
	UD                []byte
	ConcatRef         uint16
	ConcatTotal       uint8
	ConcatSeq         uint8
	Src, Dst          Address
	SrcPeer           string

	// KindChat fields.
	From, To string
	ToGroup  bool
	Part     uint8 // 1-based segment number
	Parts    uint8
	Text     []byte

	State State
}

// Expiry is the time after which an active message is discharged as expired;
// the zero time if it has no validity limit.
func (r *Record) Expiry() time.Time {
	if r.Validity == 0 {
		return time.Time{}
	}
	return r.Entry.Add(time.Duration(r.Validity) * time.Second)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func bodyCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:bodyCRCOff])
	return crc32.Update(c, castagnoli, b[indexOff:stateOffset])
}

func stateCRC(b []byte) uint32 {
	return crc32.Checksum(b[stateOffset:stateCRCOff], castagnoli)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Encode writes r into dst, which must be at least RecordSize bytes. It
// checks every field against its range first and writes nothing on error.
func Encode(dst []byte, r *Record) error {
	if len(dst) < RecordSize {
		return ErrShort
	}
	var b [RecordSize]byte
	if r.SrcClass > maxClass || r.DstClass > maxClass {
		return fmt.Errorf("%w: class %d or %d", ErrFieldRange, r.SrcClass, r.DstClass)
	}
	b[0], b[1], b[2], b[3] = magic0, magic1, FormatVersion, byte(r.Kind)
	binary.BigEndian.PutUint64(b[indexOff:], r.Index)
	binary.BigEndian.PutUint64(b[entryOff:], uint64(nanos(r.Entry)))
	binary.BigEndian.PutUint32(b[validityOff:], r.Validity)
	b[srcClassOff], b[dstClassOff] = byte(r.SrcClass), byte(r.DstClass)
	var flags byte
	if r.StatusReport {
		flags |= flagStatusReport
	}
	if r.IMSIAddressed {
		flags |= flagIMSIAddressed
	}
	if r.Replacement {
		if r.Kind != KindSM {
			return fmt.Errorf("%w: a %d record cannot be a replacement", ErrFieldRange, r.Kind)
		}
		flags |= flagReplacement
	}
	b[flagsOff] = flags
	var err error
	switch r.Kind {
	case KindSM:
		err = encodeSM(b[kindBodyOff:stateOffset], r)
	case KindChat:
		err = encodeChat(b[kindBodyOff:stateOffset], r)
	default:
		err = fmt.Errorf("%w: %d", ErrKind, r.Kind)
	}
	if err != nil {
		return err
	}
	// The CRCs are computed in dst, not in b: crc32 hands its input to an
	// assembly routine through a function value, which would make b escape
	// to the heap, an allocation per record. EncodeState writes dst only
	// when it succeeds, so a record that fails leaves dst as it was.
	if err := EncodeState(dst[stateOffset:], r.DstClass, &r.State); err != nil {
		return err
	}
	copy(dst[:stateOffset], b[:stateOffset])
	binary.BigEndian.PutUint32(dst[bodyCRCOff:], bodyCRC(dst))
	return nil
}

// Offsets within the SM kind body (relative to kindBodyOff).
const (
	smPID      = 0
	smDCS      = 1
	smESM      = 2
	smMR       = 3
	smUDL      = 4
	smUDLen    = 5
	smConcat   = 6 // ref u16, total u8, seq u8
	smSrcAddr  = 10
	smDstAddr  = 22
	smSrcPeer  = 34
	smReserved = 50 // 2 bytes, 0; of a replacement, the high bits of Replaces
	smUD       = 52
	addrFieldN = 12
)

func encodeSM(b []byte, r *Record) error {
	if len(r.UD) > MaxUD {
		return fmt.Errorf("%w: user data is %d octets, at most %d", ErrFieldRange, len(r.UD), MaxUD)
	}
	b[smPID], b[smDCS], b[smESM], b[smMR], b[smUDL] = r.PID, r.DCS, r.ESM, r.MR, r.UDL
	b[smUDLen] = byte(len(r.UD))
	if r.Replacement {
		// A replacement is one record, never a part: the concatenation
		// bytes and the reserved pair are free for the index it replaces.
		if r.ConcatRef != 0 || r.ConcatTotal != 0 || r.ConcatSeq != 0 {
			return fmt.Errorf("%w: a replacement cannot be concatenated", ErrFieldRange)
		}
		if r.Replaces > MaxReplaces {
			return fmt.Errorf("%w: replaced index %d needs more than 48 bits", ErrFieldRange, r.Replaces)
		}
		binary.BigEndian.PutUint32(b[smConcat:], uint32(r.Replaces))
		binary.BigEndian.PutUint16(b[smReserved:], uint16(r.Replaces>>32))
	} else {
		binary.BigEndian.PutUint16(b[smConcat:], r.ConcatRef)
		b[smConcat+2], b[smConcat+3] = r.ConcatTotal, r.ConcatSeq
	}
	if err := encodeAddress(b[smSrcAddr:smSrcAddr+addrFieldN], r.Src); err != nil {
		return fmt.Errorf("source address: %w", err)
	}
	if err := encodeAddress(b[smDstAddr:smDstAddr+addrFieldN], r.Dst); err != nil {
		return fmt.Errorf("destination address: %w", err)
	}
	if err := putName(b[smSrcPeer:smSrcPeer+MaxPeerName], r.SrcPeer); err != nil {
		return fmt.Errorf("source peer: %w", err)
	}
	copy(b[smUD:], r.UD)
	return nil
}

// Offsets within the chat kind body.
const (
	chatFrom    = 0
	chatTo      = 32
	chatFlags   = 64
	chatPart    = 65
	chatParts   = 66
	chatTextLen = 67
	chatText    = 68
)

func encodeChat(b []byte, r *Record) error {
	if len(r.Text) > MaxChatText {
		return fmt.Errorf("%w: chat segment is %d bytes, at most %d", ErrFieldRange, len(r.Text), MaxChatText)
	}
	if err := putName(b[chatFrom:chatFrom+MaxChatName], r.From); err != nil {
		return fmt.Errorf("chat sender: %w", err)
	}
	if err := putName(b[chatTo:chatTo+MaxChatName], r.To); err != nil {
		return fmt.Errorf("chat target: %w", err)
	}
	if r.ToGroup {
		b[chatFlags] = chatFlagGroup
	}
	b[chatPart], b[chatParts], b[chatTextLen] = r.Part, r.Parts, byte(len(r.Text))
	copy(b[chatText:], r.Text)
	return nil
}

// putName stores a NUL-padded name. Names may not contain NUL, which is what
// makes the padding unambiguous.
func putName(dst []byte, s string) error {
	if len(s) > len(dst) {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrFieldRange, len(s), len(dst))
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%w: NUL byte in name", ErrFieldRange)
		}
	}
	copy(dst, s)
	return nil
}

func getName(src []byte) string {
	n := 0
	for n < len(src) && src[n] != 0 {
		n++
	}
	return string(src[:n])
}

// EncodeState writes the mutable trailer (StateSize bytes) for a record whose
// destination class is dstClass, CRC included.
func EncodeState(dst []byte, dstClass Class, s *State) error {
	if len(dst) < StateSize {
		return ErrShort
	}
	if s.Disposition > maxDisposition {
		return fmt.Errorf("%w: disposition %d", ErrFieldRange, s.Disposition)
	}
	var b [StateSize]byte
	b[0] = byte(s.Disposition)
	var flags byte
	if s.SRR {
		flags |= stateFlagSRR
	}
	if s.SRRFailureOnly {
		flags |= stateFlagFailureOnly
	}
	b[2], b[3] = s.Attempts, s.Reason
	binary.BigEndian.PutUint64(b[4:], uint64(nanos(s.Discharged)))
	dest := b[12:28]
	if s.Disposition == Replaced {
		// The replacement carries the destination on, so a replaced
		// record keeps only where its SM went; any destination fields
		// the caller still holds are dropped.
		binary.BigEndian.PutUint64(dest, s.ReplacedBy)
	} else {
		if s.ReplacedBy != 0 {
			return fmt.Errorf("%w: replaced-by on a %s record", ErrFieldRange, s.Disposition)
		}
		imsi, err := encodeDest(dest, dstClass, s)
		if err != nil {
			return err
		}
		if imsi {
			flags |= stateFlagIMSI
		}
	}
	b[1] = flags
	// The CRC is computed over the trailer alone, at its place in a record,
	// and in dst (see Encode).
	copy(dst, b[:])
	binary.BigEndian.PutUint32(dst[stateCRCOff-stateOffset:], crc32.Checksum(dst[:stateCRCOff-stateOffset], castagnoli))
	return nil
}

// encodeDest writes the destination info of a trailer (16 bytes) and
// reports whether it holds an IMSI.
func encodeDest(dest []byte, dstClass Class, s *State) (imsi bool, err error) {
	if s.IMSI != "" {
		if dstClass != ClassGSM {
			return false, fmt.Errorf("%w: IMSI on a %s destination", ErrFieldRange, dstClass)
		}
		if err := putIMSI(dest[:8], s.IMSI); err != nil {
			return false, err
		}
		imsi = true
	}
	if s.DstPeer != "" {
		if dstClass != ClassDownstream {
			return false, fmt.Errorf("%w: destination peer on a %s destination", ErrFieldRange, dstClass)
		}
		if err := putName(dest, s.DstPeer); err != nil {
			return false, fmt.Errorf("destination peer: %w", err)
		}
	}
	if s.PeerMsgID != "" {
		if dstClass != ClassUpstream {
			return false, fmt.Errorf("%w: peer message id on a %s destination", ErrFieldRange, dstClass)
		}
		if err := putName(dest, s.PeerMsgID); err != nil {
			return false, fmt.Errorf("peer message id: %w", err)
		}
	}
	return imsi, nil
}

// Decode parses a record. On ErrStateCRC the body fields of r are valid and
// r.State is zero (active): the caller decides what a torn state update means.
func Decode(src []byte, r *Record) error { return decode(src, r, nil) }

// decode is Decode that, given buf, puts the user data or chat text in it
// instead of a new slice: for a scan that decodes a million records into
// one Record.
func decode(src []byte, r *Record, buf *[]byte) error {
	if len(src) < RecordSize {
		return ErrShort
	}
	b := src[:RecordSize]
	if b[0] != magic0 || b[1] != magic1 {
		return ErrMagic
	}
	if b[2] != FormatVersion {
		return fmt.Errorf("%w: %d", ErrVersion, b[2])
	}
	if binary.BigEndian.Uint32(b[bodyCRCOff:]) != bodyCRC(b) {
		return ErrBodyCRC
	}
	*r = Record{
		Index:         binary.BigEndian.Uint64(b[indexOff:]),
		Kind:          Kind(b[3]),
		Entry:         fromNanos(int64(binary.BigEndian.Uint64(b[entryOff:]))),
		Validity:      binary.BigEndian.Uint32(b[validityOff:]),
		SrcClass:      Class(b[srcClassOff]),
		DstClass:      Class(b[dstClassOff]),
		StatusReport:  b[flagsOff]&flagStatusReport != 0,
		IMSIAddressed: b[flagsOff]&flagIMSIAddressed != 0,
		// Only an SM can be a replacement; the bit means nothing on a
		// chat segment, as an unknown flag bit never did.
		Replacement: Kind(b[3]) == KindSM && b[flagsOff]&flagReplacement != 0,
	}
	if r.SrcClass > maxClass || r.DstClass > maxClass {
		return fmt.Errorf("%w: class %d or %d", ErrFieldRange, r.SrcClass, r.DstClass)
	}
	body := b[kindBodyOff:stateOffset]
	switch r.Kind {
	case KindSM:
		if err := decodeSM(body, r, buf); err != nil {
			return err
		}
	case KindChat:
		if err := decodeChat(body, r, buf); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: %d", ErrKind, r.Kind)
	}
	return DecodeState(b[stateOffset:], r.DstClass, &r.State)
}

// into returns where decoded bytes go: a fresh slice, or buf reused.
func into(buf *[]byte, src []byte) []byte {
	if buf == nil {
		return append([]byte(nil), src...)
	}
	*buf = append((*buf)[:0], src...)
	return *buf
}

func decodeSM(b []byte, r *Record, buf *[]byte) error {
	n := int(b[smUDLen])
	if n > MaxUD {
		return fmt.Errorf("%w: user data length %d", ErrFieldRange, n)
	}
	r.PID, r.DCS, r.ESM, r.MR, r.UDL = b[smPID], b[smDCS], b[smESM], b[smMR], b[smUDL]
	if r.Replacement {
		r.Replaces = uint64(binary.BigEndian.Uint16(b[smReserved:]))<<32 | uint64(binary.BigEndian.Uint32(b[smConcat:]))
	} else {
		r.ConcatRef = binary.BigEndian.Uint16(b[smConcat:])
		r.ConcatTotal, r.ConcatSeq = b[smConcat+2], b[smConcat+3]
	}
	var err error
	if r.Src, err = decodeAddress(b[smSrcAddr : smSrcAddr+addrFieldN]); err != nil {
		return fmt.Errorf("source address: %w", err)
	}
	if r.Dst, err = decodeAddress(b[smDstAddr : smDstAddr+addrFieldN]); err != nil {
		return fmt.Errorf("destination address: %w", err)
	}
	r.SrcPeer = getName(b[smSrcPeer : smSrcPeer+MaxPeerName])
	r.UD = into(buf, b[smUD:smUD+n])
	return nil
}

func decodeChat(b []byte, r *Record, buf *[]byte) error {
	n := int(b[chatTextLen])
	if n > MaxChatText {
		return fmt.Errorf("%w: chat text length %d", ErrFieldRange, n)
	}
	r.From = getName(b[chatFrom : chatFrom+MaxChatName])
	r.To = getName(b[chatTo : chatTo+MaxChatName])
	r.ToGroup = b[chatFlags]&chatFlagGroup != 0
	r.Part, r.Parts = b[chatPart], b[chatParts]
	r.Text = into(buf, b[chatText:chatText+n])
	return nil
}

// DecodeState parses a mutable trailer (StateSize bytes).
func DecodeState(b []byte, dstClass Class, s *State) error {
	if len(b) < StateSize {
		return ErrShort
	}
	*s = State{}
	if binary.BigEndian.Uint32(b[stateCRCOff-stateOffset:]) != crc32.Checksum(b[:stateCRCOff-stateOffset], castagnoli) {
		return ErrStateCRC
	}
	s.Disposition = Disposition(b[0])
	if s.Disposition > maxDisposition {
		return fmt.Errorf("%w: disposition %d", ErrFieldRange, b[0])
	}
	s.SRR = b[1]&stateFlagSRR != 0
	s.SRRFailureOnly = b[1]&stateFlagFailureOnly != 0
	s.Attempts, s.Reason = b[2], b[3]
	s.Discharged = fromNanos(int64(binary.BigEndian.Uint64(b[4:])))
	dest := b[12:28]
	if s.Disposition == Replaced {
		s.ReplacedBy = binary.BigEndian.Uint64(dest)
		return nil
	}
	switch dstClass {
	case ClassGSM:
		if b[1]&stateFlagIMSI != 0 {
			imsi, err := getIMSI(dest[:8])
			if err != nil {
				return err
			}
			s.IMSI = imsi
		}
	case ClassDownstream:
		s.DstPeer = getName(dest)
	case ClassUpstream:
		s.PeerMsgID = getName(dest)
	}
	return nil
}

// PeekEntry returns a record's entry time without decoding or checking it;
// binary search by time uses it on memory-mapped files.
func PeekEntry(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b[entryOff:]))
}

// PeekIndex returns a record's absolute index without checking it.
func PeekIndex(b []byte) uint64 {
	return binary.BigEndian.Uint64(b[indexOff:])
}

// PeekDisposition returns the disposition byte of a record's state trailer
// without checking it.
func PeekDisposition(b []byte) Disposition {
	return Disposition(b[stateOffset])
}

// peekName is a NUL-padded name field without its padding, aliasing b.
func peekName(b []byte) []byte {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return b[:n]
}

// ChatPeek is what PeekChat reads from a chat segment record. From and To
// alias the record's bytes.
type ChatPeek struct {
	Index       uint64
	Entry       int64
	From, To    []byte
	ToGroup     bool
	Part, Parts uint8
}

// PeekChat reads the fields that index a chat segment without decoding the
// whole record or allocating, after checking its magic, version, kind and
// body CRC: a startup pass over millions of chat records must not cost an
// allocation each. Records that fail the checks give the error Decode
// would.
func PeekChat(b []byte, p *ChatPeek) error {
	if len(b) < RecordSize {
		return ErrShort
	}
	b = b[:RecordSize]
	if b[0] != magic0 || b[1] != magic1 {
		return ErrMagic
	}
	if b[2] != FormatVersion {
		return fmt.Errorf("%w: %d", ErrVersion, b[2])
	}
	if Kind(b[3]) != KindChat {
		return fmt.Errorf("%w: %d is not a chat segment", ErrKind, b[3])
	}
	if binary.BigEndian.Uint32(b[bodyCRCOff:]) != bodyCRC(b) {
		return ErrBodyCRC
	}
	body := b[kindBodyOff:stateOffset]
	p.Index, p.Entry = PeekIndex(b), PeekEntry(b)
	p.From, p.To = peekName(body[chatFrom:chatFrom+MaxChatName]), peekName(body[chatTo:chatTo+MaxChatName])
	p.ToGroup = body[chatFlags]&chatFlagGroup != 0
	p.Part, p.Parts = body[chatPart], body[chatParts]
	return nil
}
