// Package smdata converts between the user data of an SMPP v3.4 message
// (data_coding, the UDHI bit of esm_class, short_message or the
// message_payload TLV, and the sar_* TLVs) and the TS 23.040 user data our
// store keeps (TP-DCS, UDHI, TP-UDL and packed TP-UD of at most 140 octets
// per record, concatenated by a User Data Header).
//
// SMPP and TS 23.040 disagree in three ways that matter here. SMPP gives the
// data_coding values 0x00-0x0E meanings of its own (IA5, Latin-1, JIS, ...),
// where the same octet as a TP-DCS means something else. SMPP carries
// default-alphabet text as one septet per octet, where the air interface and
// our records pack eight septets into seven octets. And SMPP can carry a
// long message in one PDU (message_payload) or describe concatenation with
// TLVs (sar_*), where a record holds one part and says so in its UDH. This
// package resolves all three in one place, so that the SMPP server, the
// uplink and the downlinks cannot disagree about them.
//
// The package is pure: bytes in, values out, no I/O and no state. It does
// not know the PDU codec; it returns sentinel errors and docs/smpp-text.md
// lists the command_status the SMPP layer should answer for each. Every
// choice the specifications leave open is documented there, with the test
// vectors that the tests check.
package smdata

import "errors"

// SAR is the content of the sar_msg_ref_num, sar_total_segments and
// sar_segment_seqnum TLVs, which SMPP v3.4 offers instead of a UDH to say
// that a message is one segment of a longer one.
type SAR struct {
	Ref        uint16
	Total, Seq uint8
}

// Message is the user-data part of a submit_sm, deliver_sm or data_sm.
type Message struct {
	// DataCoding is the SMPP data_coding field (SMPP v3.4 §5.2.19).
	DataCoding uint8
	// ESMClass is the esm_class field; only bit 0x40 (UDHI) matters here.
	ESMClass uint8
	// ShortMessage is the short_message field (at most 254 octets on the
	// wire; the PDU codec enforces that, this package does not need to).
	ShortMessage []byte
	// Payload is the message_payload TLV value, nil when the TLV is
	// absent. Then ShortMessage is used; both non-empty is an error.
	Payload []byte
	// SAR comes from the sar_* TLVs, nil when they are absent.
	SAR *SAR
}

// Options tune inbound conversion (ToParts). The zero value is the common
// case: 8-bit concatenation references and up to 255 parts.
type Options struct {
	// Ref is the concatenation reference used when one message must be
	// split because it does not fit one 140-octet record. Only its low
	// byte is used unless Ref16 is set.
	Ref uint16
	// Ref16 selects the 16-bit reference IE (IEI 0x08) for such splits.
	Ref16 bool
	// MaxParts limits how many parts one message may become; 0 (or
	// anything above 255, which a one-octet part count cannot express)
	// means 255.
	MaxParts int
}

// OutOptions say how a peer wants text (FromPart). The zero value sends
// the default alphabet as unpacked septets, which is what Kannel and most
// ESMEs expect.
type OutOptions struct {
	// GSMAsLatin1 sends GSM 7-bit texts whose TP-DCS is exactly 0x00 as
	// data_coding 0x03 (Latin-1) when every character fits Latin-1, and as
	// default-alphabet septets otherwise. Some ESMEs cannot read the GSM
	// alphabet and want this.
	GSMAsLatin1 bool
}

// Errors. Each is returned wrapped with details, so test for one with
// errors.Is. docs/smpp-text.md gives the SMPP command_status to answer for
// each.
var (
	// ErrUnsupportedCoding means a data_coding value SMPP defines for a
	// character set we do not convert (JIS, Cyrillic, Hebrew, pictogram,
	// ISO-2022-JP, extended kanji, KS C 5601) or reserves (0x0B, 0x0C).
	// Storing such data under some TP-DCS would deliver garbage.
	ErrUnsupportedCoding = errors.New("smdata: unsupported data_coding")
	// ErrBadUserData means the user data contradicts its coding or its
	// header: an octet of 0x80 or more in default-alphabet text or IA5, a
	// UDH that runs past the data or whose elements do not fit it, an odd
	// number of UCS-2 octets after the header, or (outbound) a TP-UDL that
	// the stored octets cannot hold.
	ErrBadUserData = errors.New("smdata: malformed user data")
	// ErrTooLong means the message needs more parts than Options.MaxParts
	// allows, or cannot be split at all and does not fit one record: it
	// already carries a UDH, or it is one SAR segment.
	ErrTooLong = errors.New("smdata: message too long")
	// ErrBadSAR means sar_total_segments is 0, or sar_segment_seqnum is 0
	// or greater than sar_total_segments.
	ErrBadSAR = errors.New("smdata: invalid sar_* TLVs")
	// ErrBothBodies means both short_message and message_payload carry
	// data; SMPP v3.4 §5.3.2.32 allows only one, and guessing which one
	// the sender meant could deliver the wrong text.
	ErrBothBodies = errors.New("smdata: both short_message and message_payload are set")
)

// SMPP data_coding values with a meaning of their own (SMPP v3.4 §5.2.19).
// Values from 0x0F on are reserved by SMPP 3.4 up to 0xBF and taken from
// TS 23.038 above that; in practice ESMEs put TP-DCS values there (message
// classes 0x10-0x1F, 0xF0-0xFF), so that is how this package reads them.
const (
	DCDefault uint8 = 0x00 // SMSC default alphabet: GSM 03.38, unpacked here
	DCIA5     uint8 = 0x01 // IA5 (CCITT T.50), i.e. US-ASCII
	DCBinary  uint8 = 0x02 // octet unspecified (8-bit binary)
	DCLatin1  uint8 = 0x03 // ISO-8859-1
	DCBinary2 uint8 = 0x04 // octet unspecified (8-bit binary), the usual one
	DCUCS2    uint8 = 0x08 // ISO/IEC 10646 UCS-2, read as UTF-16BE

	// dcSMPPLast is the last value in SMPP's own table; from 0x0F on a
	// data_coding is read as a TP-DCS.
	dcSMPPLast uint8 = 0x0E
)

// TP-DCS values this package produces for SMPP-specific codings.
const (
	dcsGSM7   uint8 = 0x00
	dcsBinary uint8 = 0x04
	dcsUCS2   uint8 = 0x08
)

// esmUDHI is the UDHI bit of esm_class, which is also where our records
// keep it.
const esmUDHI uint8 = 0x40
