package pdu

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// reader walks one PDU body. Its first failure is latched (err, status)
// and every later read returns a zero value, so the per-PDU decoders are
// straight-line field lists with one error check at the end.
//
// Allocation is kept to two buffers per PDU whatever its field count: every
// C-Octet string is a substring of one string copy of the body, made at the
// first non-empty string, and every octet field (short_message, TLV values)
// is a capped sub-slice of one []byte copy of the rest of the body, made at
// the first non-empty one. All strings come before all octet fields in
// every SMPP 3.4 layout, so neither copy needs to cover the whole body
// twice in practice, and none of the results alias the caller's buffer.
type reader struct {
	b   []byte
	off int

	s    string // string(b[sOff:]), made lazily
	sOff int
	hasS bool

	arena []byte // copy of b[aOff:], made lazily
	aOff  int

	// empty is set for a response with no body at all, which SMPP allows
	// on an error status: every field then reads as its zero value.
	empty bool

	err    error
	status Status
}

// fail latches the first error. Its arguments are only formatted on this
// failure path, so the success path costs nothing for the messages.
func (r *reader) fail(st Status, format string, args ...any) {
	if r.err != nil {
		return
	}
	r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	r.status = st
}

// ok reports whether reads should proceed.
func (r *reader) ok() bool { return r.err == nil && !r.empty }

func (r *reader) remaining() int { return len(r.b) - r.off }

// short fails with ESME_RINVCMDLEN: the body ended before a mandatory
// field, so command_length is too small for what the PDU claims to hold.
func (r *reader) short(name string) {
	r.fail(StatusInvCmdLen, "body ends before %s", name)
}

func (r *reader) u8(name string) uint8 {
	if !r.ok() {
		return 0
	}
	if r.remaining() < 1 {
		r.short(name)
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u32(name string) uint32 {
	if !r.ok() {
		return 0
	}
	if r.remaining() < 4 {
		r.short(name)
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

// cstring reads a C-Octet string of at most f.max octets, NUL included. No
// NUL within f.max octets is the field's own error status (the string is
// too long); a body that ends first is ESME_RINVCMDLEN (it was truncated).
func (r *reader) cstring(f field) string {
	if !r.ok() {
		return ""
	}
	rest := r.b[r.off:]
	lim := min(len(rest), f.max)
	i := bytes.IndexByte(rest[:lim], 0)
	if i < 0 {
		if len(rest) < f.max {
			r.fail(StatusInvCmdLen, "%s has no NUL before the end of the body", f.name)
		} else {
			r.fail(f.status, "%s longer than %d octets", f.name, f.max-1)
		}
		return ""
	}
	if i == 0 {
		r.off++
		return ""
	}
	if !r.hasS {
		r.s, r.sOff, r.hasS = string(rest), r.off, true
	}
	start := r.off - r.sOff
	r.off += i + 1
	return r.s[start : start+i]
}

func (r *reader) addr(f field) Address {
	var a Address
	a.TON = r.u8(f.name)
	a.NPI = r.u8(f.name)
	a.Addr = r.cstring(f)
	return a
}

// octets returns a copy of the next n octets, which the caller has checked
// are there. Zero octets are nil, so equal inputs give DeepEqual results.
func (r *reader) octets(n int) []byte {
	if !r.ok() || n == 0 {
		return nil
	}
	if r.arena == nil {
		r.arena, r.aOff = bytes.Clone(r.b[r.off:]), r.off
	}
	i := r.off - r.aOff
	r.off += n
	return r.arena[i : i+n : i+n]
}

// shortMessage reads sm_length and short_message. Either problem with them
// is ESME_RINVMSGLEN, the status the spec reserves for this field.
func (r *reader) shortMessage() []byte {
	n := int(r.u8("sm_length"))
	if !r.ok() {
		return nil
	}
	if n > maxShortMessage {
		r.fail(StatusInvMsgLen, "sm_length %d over %d", n, maxShortMessage)
		return nil
	}
	if n > r.remaining() {
		r.fail(StatusInvMsgLen, "sm_length %d overruns the body (%d octets left)", n, r.remaining())
		return nil
	}
	return r.octets(n)
}

// tlvs reads optional parameters up to the end of the body. It counts them
// first so the slice is allocated once at its final size. A tail too short
// for a TLV header is ESME_RINVOPTPARSTREAM; a length running past the body
// or disagreeing with the tag's fixed size is ESME_RINVPARLEN.
func (r *reader) tlvs() TLVs {
	if !r.ok() || r.remaining() == 0 {
		return nil
	}
	n := 0
	for off := r.off; off < len(r.b); n++ {
		if len(r.b)-off < 4 {
			r.fail(StatusInvOptParStream, "%d octets after the last parameter, too few for a TLV", len(r.b)-off)
			return nil
		}
		tag := binary.BigEndian.Uint16(r.b[off:])
		l := int(binary.BigEndian.Uint16(r.b[off+2:]))
		off += 4
		if l > len(r.b)-off {
			r.fail(StatusInvParLen, "TLV 0x%04X length %d overruns the body (%d octets left)", tag, l, len(r.b)-off)
			return nil
		}
		if !tlvSizeOK(tag, l) {
			r.fail(StatusInvParLen, "TLV %s length %d, want %d", TagName(tag), l, tlvTable[tag].size)
			return nil
		}
		off += l
	}
	t := make(TLVs, n)
	for i := range t {
		t[i].Tag = binary.BigEndian.Uint16(r.b[r.off:])
		l := int(binary.BigEndian.Uint16(r.b[r.off+2:]))
		r.off += 4
		t[i].Value = r.octets(l)
	}
	return t
}

// end checks that a body without optional parameters has been read to the
// last octet: octets after the last mandatory field mean command_length
// disagrees with the body (ESME_RINVCMDLEN).
func (r *reader) end() {
	if r.ok() && r.remaining() != 0 {
		r.fail(StatusInvCmdLen, "%d octets after the last field", r.remaining())
	}
}
