package smdata

import (
	"encoding/binary"
	"fmt"

	"switchboard/internal/gsm7"
	"switchboard/internal/smstext"
)

// Capacities of one record (TS 23.040 §9.2.3.24), and of one part of a
// message we split ourselves, after the concatenation UDH has taken its
// share: 6 octets and 1 fill bit (7 septets) with an 8-bit reference, 7
// octets (8 septets) with a 16-bit one.
const (
	maxOctets  = smstext.MaxUDOctets  // 140
	maxSeptets = smstext.MaxUDSeptets // 160

	udhLen8  = 6
	udhLen16 = 7

	maxParts = 255
)

// message is an SMPP message reduced to store terms, before it is split:
// the TP-DCS, the form of the text, the UDH it brought (nil when UDHI is
// clear) and the text after it. udh and text may alias the caller's
// slices; building parts copies them.
type message struct {
	dcs  uint8
	form form
	udh  []byte
	text []byte
}

// parse validates m and converts its text to the form it is stored in.
// ToParts and Text share it, so that what is shown is what is stored.
func parse(m Message) (message, error) {
	body := m.ShortMessage
	if m.Payload != nil {
		if len(m.ShortMessage) > 0 {
			return message{}, fmt.Errorf("%w: %d octets of short_message and %d of message_payload",
				ErrBothBodies, len(m.ShortMessage), len(m.Payload))
		}
		body = m.Payload
	}
	dcs, f, cs, err := classify(m.DataCoding)
	if err != nil {
		return message{}, err
	}
	var udh []byte
	text := body
	if m.ESMClass&esmUDHI != 0 {
		if len(body) == 0 {
			return message{}, fmt.Errorf("%w: UDHI set but the message is empty", ErrBadUserData)
		}
		hl := 1 + int(body[0])
		if hl > len(body) {
			return message{}, fmt.Errorf("%w: UDHL %d runs past the %d octets of the message", ErrBadUserData, body[0], len(body))
		}
		udh, text = body[:hl:hl], body[hl:]
		if _, err := smstext.ParseUDH(udh); err != nil {
			// A header whose elements do not fit would be misparsed
			// by every receiver, so it is refused here, where the
			// sender can still be told.
			return message{}, fmt.Errorf("%w: %w", ErrBadUserData, err)
		}
	}
	if cs != csNone {
		dcs, f, text, err = convertCharset(text, cs)
		if err != nil {
			return message{}, err
		}
		return message{dcs: dcs, form: f, udh: udh, text: text}, nil
	}
	switch f {
	case formSeptets:
		// SMPP carries the default alphabet one septet per octet, so a
		// high bit means the sender packed the text or used another
		// character set; packing would silently drop the bit.
		if i := highBit(text); i >= 0 {
			return message{}, fmt.Errorf("%w: octet 0x%02X at offset %d is not a GSM septet", ErrBadUserData, text[i], len(udh)+i)
		}
	case formUCS2:
		// A lone octet cannot be a character, and splitting or showing
		// the text would have to invent one.
		if len(text)%2 != 0 {
			return message{}, fmt.Errorf("%w: %d octets of UCS-2 text, an odd number", ErrBadUserData, len(text))
		}
	}
	return message{dcs: dcs, form: f, udh: udh, text: text}, nil
}

// highBit returns the index of the first octet of b with the high bit set,
// or -1. It tests eight octets per step, because every default-alphabet
// message is checked and a byte loop was the largest cost of ToParts.
func highBit(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// CheckSize refuses, with ErrTooLong, a body that no number of parts up
// to opts' limit could hold, without looking at its content: no part holds
// more than 160 octets of SMPP text (160 unpacked septets; Latin-1 and IA5
// octets become at least one septet or two UCS-2 octets each). ToParts
// calls it first, so that a 64 KiB message_payload costs nothing; callers
// that do work per message before ToParts (hashing it, say) call it
// before that work. (When both bodies are set, parse reports that
// instead.)
func CheckSize(m Message, opts Options) error {
	limit := partLimit(opts)
	body := m.ShortMessage
	if m.Payload != nil {
		body = m.Payload
	}
	if n := len(body); n > maxSeptets*limit && (m.Payload == nil || len(m.ShortMessage) == 0) {
		return fmt.Errorf("%w: %d octets cannot fit in %d parts", ErrTooLong, n, limit)
	}
	return nil
}

// ToParts returns the store parts for one SMPP message.
//
// data_coding decides how the text is read (see classify and
// docs/smpp-text.md): 0x00 is GSM 03.38 as unpacked septets, 0x01 (IA5) and
// 0x03 (Latin-1) are converted to GSM 7-bit when every character fits and
// to UCS-2 otherwise, 0x08 is UCS-2, 0x02 and 0x04 are 8-bit data, other
// values of SMPP's own table fail with ErrUnsupportedCoding, and anything
// from 0x0F on is a TP-DCS. GSM text is packed, after the fill bits when a
// UDH comes first.
//
// A message that fits one record becomes one part. If it carries a UDH
// (UDHI), the UDH is kept as it is and the message must fit one record,
// since a second concatenation header cannot be added to a part that may
// already be one; sar_* TLVs are then ignored. Otherwise sar_* TLVs become
// a concatenation UDH (8-bit reference when it fits, else 16-bit), and that
// segment must fit one record too. A message without either that does not
// fit is split into parts with a concatenation UDH carrying opts.Ref, never
// between an escape and its code or between the halves of a surrogate
// pair. The empty message is one empty part.
//
// Part.Ref, Total and Seq are filled from the UDH, so the store's
// concatenation fields agree with it. The parts never alias m's slices, so
// the caller may reuse its PDU buffer.
func ToParts(m Message, opts Options) ([]smstext.Part, error) {
	limit := partLimit(opts)
	if err := CheckSize(m, opts); err != nil {
		return nil, err
	}
	msg, err := parse(m)
	if err != nil {
		return nil, err
	}
	if msg.udh == nil && m.SAR != nil {
		s := *m.SAR
		if s.Total == 0 || s.Seq == 0 || s.Seq > s.Total {
			return nil, fmt.Errorf("%w: segment %d of %d", ErrBadSAR, s.Seq, s.Total)
		}
		msg.udh = appendConcat(nil, s.Ref > 0xFF, s.Ref, s.Total, s.Seq)
		if !msg.fits() {
			return nil, fmt.Errorf("%w: SAR segment %d of %d needs %s, one record holds %s",
				ErrTooLong, s.Seq, s.Total, msg.size(), msg.capacity())
		}
	}
	if msg.fits() {
		var buf []byte
		if msg.udh != nil || msg.form != formSeptets {
			// Packing allocates on its own, so only a header or octets
			// that must not alias m need a buffer of their own.
			buf = make([]byte, 0, msg.udLen(len(msg.udh), len(msg.text)))
		}
		_, p := msg.appendPart(buf, msg.udh, msg.text)
		return []smstext.Part{p}, nil
	}
	if msg.udh != nil {
		return nil, fmt.Errorf("%w: message with its own UDH needs %s, one record holds %s",
			ErrTooLong, msg.size(), msg.capacity())
	}
	return msg.split(opts, limit)
}

// partLimit is opts.MaxParts with its default and its ceiling applied.
func partLimit(opts Options) int {
	if opts.MaxParts <= 0 || opts.MaxParts > maxParts {
		return maxParts
	}
	return opts.MaxParts
}

// udLen is the number of TP-UD octets for a header of hl octets followed by
// n text units (septets or octets).
func (msg *message) udLen(hl, n int) int {
	if msg.form == formSeptets {
		return hl + (gsm7.FillBits(hl)+7*n+7)/8
	}
	return hl + n
}

// fits reports whether the header and text fit one record.
func (msg *message) fits() bool {
	if msg.form == formSeptets {
		return gsm7.HeaderSeptets(len(msg.udh))+len(msg.text) <= maxSeptets
	}
	return len(msg.udh)+len(msg.text) <= maxOctets
}

// size and capacity describe fits' comparison for error messages.
func (msg *message) size() string {
	if msg.form == formSeptets {
		return fmt.Sprintf("%d septets", gsm7.HeaderSeptets(len(msg.udh))+len(msg.text))
	}
	return fmt.Sprintf("%d octets", len(msg.udh)+len(msg.text))
}

func (msg *message) capacity() string {
	if msg.form == formSeptets {
		return fmt.Sprintf("%d septets", maxSeptets)
	}
	return fmt.Sprintf("%d octets", maxOctets)
}

// appendPart appends one part's user data (udh, then text, packed when it
// is septets) to buf and returns the extended buffer and the part. The
// part's UD is capped, so that appending to it can never overwrite the next
// part's. A nil buf with no header takes the packed septets as they are,
// saving a copy on the commonest path.
func (msg *message) appendPart(buf, udh, text []byte) ([]byte, smstext.Part) {
	off := len(buf)
	udl := len(udh) + len(text)
	if msg.form == formSeptets {
		packed := gsm7.PackWithFill(text, gsm7.FillBits(len(udh)))
		if buf == nil && len(udh) == 0 {
			buf = packed
		} else {
			buf = append(append(buf, udh...), packed...)
		}
		udl = gsm7.HeaderSeptets(len(udh)) + len(text)
	} else {
		buf = append(append(buf, udh...), text...)
	}
	p := smstext.Part{DCS: msg.dcs, UDL: byte(udl), UD: buf[off:len(buf):len(buf)]}
	if len(udh) > 0 {
		p.ESM = esmUDHI
		// A UDH without a valid concatenation element leaves the part
		// single, as a receiver would treat it.
		p.Ref, p.Total, p.Seq, _ = smstext.Concat(udh)
	}
	return buf, p
}

// split cuts a message without a UDH into concatenated parts. Each part
// holds as much as fits after the header, except that a part ends one unit
// early rather than separate a pair (escape and code, or two surrogates),
// so every part decodes correctly on its own.
func (msg *message) split(opts Options, limit int) ([]smstext.Part, error) {
	hl := udhLen8
	if opts.Ref16 {
		hl = udhLen16
	}
	var (
		per   int
		width func(i int) int
		unit  = 1 // octets per counted unit of text
	)
	t := msg.text
	switch msg.form {
	case formSeptets:
		per = maxSeptets - gsm7.HeaderSeptets(hl)
		width = func(i int) int {
			// Any septet after an escape belongs to it, another escape
			// included (SS2), so pairs are found by walking from the
			// start of the part rather than by looking at one octet.
			if t[i] == gsm7.Escape && i+1 < len(t) {
				return 2
			}
			return 1
		}
	case formUCS2:
		unit = 2
		per = (maxOctets - hl) / 2
		width = func(i int) int {
			if i+1 < len(t)/2 && isHigh(t[2*i]) && isLow(t[2*i+2]) {
				return 2
			}
			return 1
		}
	default:
		per = maxOctets - hl
		width = func(int) int { return 1 }
	}
	n := len(t) / unit
	ends := make([]int, 0, min(limit, n/(per-1)+1))
	for start := 0; start < n; {
		if len(ends) == limit {
			return nil, fmt.Errorf("%w: needs more than %d parts", ErrTooLong, limit)
		}
		end := start
		for end < n {
			w := width(end)
			if end+w-start > per {
				break
			}
			end += w
		}
		ends = append(ends, end)
		start = end
	}
	total := byte(len(ends))
	buf := make([]byte, 0, len(ends)*maxOctets)
	parts := make([]smstext.Part, len(ends))
	var udh [udhLen16]byte
	start := 0
	for i, end := range ends {
		h := appendConcat(udh[:0], opts.Ref16, opts.Ref, total, byte(i+1))
		buf, parts[i] = msg.appendPart(buf, h, t[start*unit:end*unit])
		start = end
	}
	return parts, nil
}

// isHigh and isLow test the first octet of a big-endian UTF-16 unit for a
// high (D800-DBFF) or low (DC00-DFFF) surrogate.
func isHigh(b byte) bool { return b&0xFC == 0xD8 }
func isLow(b byte) bool  { return b&0xFC == 0xDC }

// appendConcat appends a concatenation UDH: IEI 0x08 with a 16-bit
// reference when ref16, else IEI 0x00 with the low byte of ref.
func appendConcat(dst []byte, ref16 bool, ref uint16, total, seq byte) []byte {
	if ref16 {
		return append(dst, udhLen16-1, smstext.IEIConcat16, 4, byte(ref>>8), byte(ref), total, seq)
	}
	return append(dst, udhLen8-1, smstext.IEIConcat8, 3, byte(ref), total, seq)
}
