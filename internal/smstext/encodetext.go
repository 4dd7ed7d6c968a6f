package smstext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"switchboard/internal/gsm7"
)

// Errors of ParseEncodeText. Each comes wrapped in a *LineError naming the
// line, except ErrNoMessage, which concerns the input as a whole.
var (
	// ErrSyntax covers a line that is not a well-formed directive: an
	// unknown directive, a malformed or misplaced dcs line, a msg without
	// data, a second msg line, or a line too long to be real input.
	ErrSyntax = errors.New("smstext: encode-text syntax error")
	// ErrBadHex means a msg or msg-udh argument that is not hex byte
	// pairs separated by optional spaces.
	ErrBadHex = errors.New("smstext: bad hex")
	// ErrHighBit means a byte above 0x7F where septet mode wants a septet.
	ErrHighBit = errors.New("smstext: septet with the high bit set")
	// ErrTooManySeptets means a message or part over 160 septets, UDH
	// septets and fill included.
	ErrTooManySeptets = errors.New("smstext: more than 160 septets")
	// ErrTooManyOctets means a message or part over 140 octets, UDH
	// included.
	ErrTooManyOctets = errors.New("smstext: more than 140 octets")
	// ErrUDHOverrun means a msg-udh line whose UDHL claims more octets than
	// the line holds (or that has no UDHL octet at all).
	ErrUDHOverrun = errors.New("smstext: UDHL runs past the end of the line")
	// ErrMixed means msg and msg-udh lines in one input.
	ErrMixed = errors.New("smstext: msg and msg-udh mixed in one message")
	// ErrDCSMode means a dcs line whose alphabet contradicts its mode:
	// TP-UDL counts septets exactly when the DCS says GSM 7-bit, so
	// septet data under an 8-bit or UCS-2 DCS (or the reverse) would be
	// misread by every receiver.
	ErrDCSMode = errors.New("smstext: dcs alphabet contradicts septet/octet mode")
	// ErrOddUCS2 means UCS-2 text (after any UDH) of an odd number of
	// octets, which cannot be whole characters.
	ErrOddUCS2 = errors.New("smstext: UCS-2 text has an odd number of octets")
	// ErrNoMessage means input with no msg or msg-udh line.
	ErrNoMessage = errors.New("smstext: no msg or msg-udh line")
)

// LineError locates an error in sms-encode-text input. Err wraps one of the
// sentinel errors above (or ErrBadUDH, or ErrTooLong for a 256th part).
type LineError struct {
	Line int // 1-based line number
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// maxLineLen bounds one input line. The longest useful line is a msg-udh
// of 140 octets with spaces, about 430 bytes; the rest of the margin is for
// comments. The bound keeps hostile input from growing the buffer without
// limit.
const maxLineLen = 64 << 10

// ParseEncodeText reads the intermediate format that FreeCalypso's
// sms-encode-text prints (specified in docs/smstext.md) and returns the
// parts of the one message it describes:
//
//	# comment; blank lines are ignored too
//	dcs 0 septet          # optional, and the default; "dcs 8 octet" is UCS-2
//	msg 4869200020 1B3C781B3E
//
// or, for a concatenated message, one "msg-udh" line per part, each a UDH
// (UDHL first) followed by the text. In septet mode the text is unpacked
// septets, which ParseEncodeText packs, after fill bits when a UDH precedes
// them; in octet mode it is taken as is. msg "" is the empty message. The
// dcs value is decimal or 0x-prefixed hex, must come before any msg line,
// and may appear once. Parts with a concatenation element (IEI 0x00 or
// 0x08) in their UDH get Ref, Total and Seq from it; the parts are returned
// in input order and their numbering is not cross-checked, so that a single
// part of a longer message can be sent on purpose.
//
// Every rejection is a *LineError wrapping a distinct sentinel: ErrBadHex,
// ErrHighBit, ErrTooManySeptets, ErrTooManyOctets, ErrUDHOverrun, ErrBadUDH,
// ErrMixed, ErrDCSMode, ErrOddUCS2, ErrTooLong (over 255 parts) and
// ErrSyntax. Input without a message fails with ErrNoMessage, and a read
// error is returned wrapped.
func ParseEncodeText(r io.Reader) ([]Part, error) {
	p := encodeTextParser{dcs: DCSGSM7, septet: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, &LineError{Line: p.line, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{Line: p.line + 1, Err: fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, maxLineLen)}
		}
		return nil, fmt.Errorf("smstext: reading encode-text input: %w", err)
	}
	if len(p.parts) == 0 {
		return nil, fmt.Errorf("%w in %d lines of input", ErrNoMessage, p.line)
	}
	return p.parts, nil
}

// encodeTextParser holds the state carried from line to line.
type encodeTextParser struct {
	line   int
	dcs    byte
	septet bool
	sawDCS bool
	kind   string // "" until the first msg or msg-udh line, then that directive
	parts  []Part
}

func (p *encodeTextParser) parseLine(line string) error {
	// Leading blanks and a CR from CRLF input are tolerated because they
	// are invisible in an editor, where this input is often written.
	start := len(line) - len(strings.TrimLeft(line, " \t"))
	body := strings.TrimRight(line[start:], " \t\r")
	if body == "" || body[0] == '#' {
		return nil
	}
	directive, _, _ := strings.Cut(strings.ReplaceAll(body, "\t", " "), " ")
	argOff := start + len(directive)
	arg := line[argOff : start+len(body)]
	switch directive {
	case "dcs":
		return p.parseDCS(arg)
	case "msg", "msg-udh":
		return p.parseMsg(directive, arg, argOff)
	}
	return fmt.Errorf("%w: unknown directive %q (want dcs, msg or msg-udh)", ErrSyntax, directive)
}

func (p *encodeTextParser) parseDCS(arg string) error {
	if p.kind != "" {
		return fmt.Errorf("%w: dcs after the first %s line", ErrSyntax, p.kind)
	}
	if p.sawDCS {
		return fmt.Errorf("%w: second dcs line", ErrSyntax)
	}
	f := strings.Fields(arg)
	if len(f) != 2 {
		return fmt.Errorf("%w: want \"dcs <byte> septet|octet\", got %d arguments", ErrSyntax, len(f))
	}
	v, err := parseByte(f[0])
	if err != nil {
		return fmt.Errorf("%w: dcs value %q: %w", ErrSyntax, f[0], err)
	}
	var septet bool
	switch f[1] {
	case "septet":
		septet = true
	case "octet":
	default:
		return fmt.Errorf("%w: dcs mode %q (want septet or octet)", ErrSyntax, f[1])
	}
	if c := CodingOf(v); (c == CodingGSM7) != septet {
		return fmt.Errorf("%w: dcs 0x%02X is %v, which needs %s mode", ErrDCSMode, v, c, modeName(c == CodingGSM7))
	}
	p.dcs, p.septet, p.sawDCS = v, septet, true
	return nil
}

func modeName(septet bool) string {
	if septet {
		return "septet"
	}
	return "octet"
}

// parseByte reads a dcs value: decimal as the format's own examples write
// it, or 0x-prefixed hex, which is how DCS values are usually quoted. A
// leading 0 does not mean octal, because nobody writes a DCS in octal and
// "010" would silently become 8.
func parseByte(s string) (byte, error) {
	base := 10
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = rest, 16
	}
	v, err := strconv.ParseUint(s, base, 8)
	if err != nil {
		return 0, fmt.Errorf("not a byte value: %w", err)
	}
	return byte(v), nil
}

func (p *encodeTextParser) parseMsg(directive, arg string, argOff int) error {
	switch {
	case p.kind == "msg" && directive == "msg":
		return fmt.Errorf("%w: second msg line (one input is one message; long ones use msg-udh)", ErrSyntax)
	case p.kind != "" && p.kind != directive:
		return fmt.Errorf("%w: %s after %s", ErrMixed, directive, p.kind)
	case len(p.parts) == maxTotal:
		return fmt.Errorf("%w: more than %d parts", ErrTooLong, maxTotal)
	}
	p.kind = directive
	var data []byte
	switch t := strings.TrimSpace(arg); t {
	case `""`:
		data = []byte{}
	case "":
		return fmt.Errorf("%w: %s without data (write %s \"\" for an empty one)", ErrSyntax, directive, directive)
	default:
		var err error
		if data, err = parseHex(arg, argOff); err != nil {
			return err
		}
	}
	part, err := p.makePart(data, directive == "msg-udh")
	if err != nil {
		return err
	}
	p.parts = append(p.parts, part)
	return nil
}

// parseHex decodes hex byte pairs, upper or lower case, with optional
// blanks between pairs but not inside one. off is where s starts in the
// line, so errors can give a 1-based column.
func parseHex(s string, off int) ([]byte, error) {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' {
			i++
			continue
		}
		hi, ok := unhex(c)
		if !ok {
			return nil, fmt.Errorf("%w: %q at column %d is not a hex digit", ErrBadHex, s[i:i+1], off+i+1)
		}
		if i+1 == len(s) {
			return nil, fmt.Errorf("%w: odd number of hex digits (lone %q at column %d)", ErrBadHex, s[i:i+1], off+i+1)
		}
		lo, ok := unhex(s[i+1])
		if !ok {
			if b := s[i+1]; b == ' ' || b == '\t' || b == '\r' {
				return nil, fmt.Errorf("%w: blank inside a byte pair at column %d", ErrBadHex, off+i+2)
			}
			return nil, fmt.Errorf("%w: %q at column %d is not a hex digit", ErrBadHex, s[i+1:i+2], off+i+2)
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// makePart turns one line's bytes into a Part under the current dcs line.
func (p *encodeTextParser) makePart(data []byte, withUDH bool) (Part, error) {
	hl := 0
	if withUDH {
		if len(data) == 0 {
			return Part{}, fmt.Errorf("%w: msg-udh needs at least the UDHL octet", ErrUDHOverrun)
		}
		hl = 1 + int(data[0])
		if hl > len(data) {
			return Part{}, fmt.Errorf("%w: UDHL %d needs %d octets, the line has %d", ErrUDHOverrun, data[0], hl, len(data))
		}
		if _, err := ParseUDH(data[:hl]); err != nil {
			return Part{}, err
		}
	}
	udh, text := data[:hl], data[hl:]
	part := Part{DCS: p.dcs}
	if p.septet {
		if i := indexHigh(text); i >= 0 {
			return Part{}, fmt.Errorf("%w: byte %d of the text is %02X", ErrHighBit, i+1, text[i])
		}
		n := gsm7.HeaderSeptets(hl) + len(text)
		if n > MaxUDSeptets {
			return Part{}, fmt.Errorf("%w: %d septets (%d for the UDH and fill, %d of text)", ErrTooManySeptets, n, gsm7.HeaderSeptets(hl), len(text))
		}
		part.UDL = byte(n)
		part.UD = append(bytes.Clone(udh), gsm7.PackWithFill(text, gsm7.FillBits(hl))...)
	} else {
		if len(data) > MaxUDOctets {
			return Part{}, fmt.Errorf("%w: %d octets (%d of UDH, %d of text)", ErrTooManyOctets, len(data), hl, len(text))
		}
		if CodingOf(p.dcs) == CodingUCS2 && len(text)%2 != 0 {
			return Part{}, fmt.Errorf("%w: %d octets of text", ErrOddUCS2, len(text))
		}
		part.UDL = byte(len(data))
		part.UD = bytes.Clone(data)
	}
	if withUDH {
		part.ESM = ESMUDHI
		part.Ref, part.Total, part.Seq, _ = Concat(udh)
	}
	return part, nil
}

// indexHigh returns the index of the first byte above 0x7F in b, or -1.
func indexHigh(b []byte) int {
	for i, c := range b {
		if c > 0x7F {
			return i
		}
	}
	return -1
}
