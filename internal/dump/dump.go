// Package dump selects and formats records of the message store for people:
// the `switchboard dump` command (seed 001 §2.2.3), and later the restricted
// shell mode that lets a subscriber read their own messages (seed 001 §3.2).
//
// Privacy is the rule that shapes it: the operator necessarily can read
// every message, but should see only what troubleshooting needs. Message
// text (and the user data header, which is part of the user data) is
// printed only when Options.ShowText is set, in every output mode; numbers
// are printed because they are what one filters and troubleshoots by.
package dump

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"switchboard/internal/pms"
)

// Options select and shape what Run prints. The zero value prints every
// record as a table without text.
type Options struct {
	// Since and Until bound the entry time: Since inclusive, Until
	// exclusive. Zero means unbounded. Both are found by binary search.
	Since, Until time.Time
	// Count stops after this many rows (after filtering); 0 means no limit.
	Count int
	// Number matches an SM whose source or destination is this number;
	// Src and Dst match one side only. Numbers are compared normalized
	// (see NormalizeNumber); alphanumeric senders compare case-insensitively
	// with the string as given. Chat records never match a number.
	Number, Src, Dst string
	// User matches a chat record sent by or addressed to this chat user or
	// group name (exactly). SM records never match a user.
	User string
	// Class matches records whose source or destination class is *Class.
	Class *pms.Class
	// State is "", "active" or "historical".
	State string
	// ShowText prints message text. Without it no user data, decoded or
	// raw, is printed in any mode.
	ShowText bool
	// JSON prints one JSON object per line instead of a table.
	JSON bool
}

// Stats count what a Run saw.
type Stats struct {
	Scanned int // records examined within the time range
	Printed int // rows printed (records that matched the filters)
	Bad     int // records that failed a CRC or did not decode
}

// Valid states for Options.State.
const (
	StateActive     = "active"
	StateHistorical = "historical"
)

// ErrOptions wraps an invalid option value.
var ErrOptions = errors.New("dump: invalid option")

// checkEvery is how many records pass between checks of the context.
const checkEvery = 1024

// Run prints the records of r selected by o to w. It is RunContext without
// cancellation.
func Run(w io.Writer, r *pms.Reader, o Options) (Stats, error) {
	return RunContext(context.Background(), w, r, o)
}

// RunContext prints the records of r selected by o to w, stopping early
// when ctx is done. Records that fail their CRC are reported in the output
// and counted in Stats.Bad; they do not stop the run. An error is returned
// for invalid options, a failed write, or a cancelled context.
func RunContext(ctx context.Context, w io.Writer, r *pms.Reader, o Options) (st Stats, err error) {
	m, err := newMatcher(&o)
	if err != nil {
		return st, err
	}
	start, end := 0, r.Len()
	if !o.Since.IsZero() {
		start = r.SearchTime(o.Since)
	}
	if !o.Until.IsZero() {
		end = r.SearchTime(o.Until)
	}
	// Only now is the access pattern sequential: the searches above were
	// random probes, which the Reader's default advice keeps cheap.
	r.Sequential(start, end)

	// The file is mapped, and a serve process starting up may cut a torn
	// tail off it while we read: touching a page past the new end raises
	// SIGBUS. Turn that into an error rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(interface{ Addr() uintptr }); !ok {
				panic(p)
			}
			err = fmt.Errorf("%s: the file shrank while it was being read (a server starting?); run again", r.Path())
		}
	}()

	bw := bufio.NewWriterSize(w, 64<<10)
	f := &formatter{w: bw, o: &o}
	if !o.JSON {
		f.header()
	}
	var rec pms.Record
	for pos := start; pos < end; pos++ {
		if (pos-start)%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				bw.Flush()
				return st, err
			}
		}
		st.Scanned++
		derr := r.Record(pos, &rec)
		stateTorn := errors.Is(derr, pms.ErrStateCRC)
		if derr != nil && !stateTorn {
			// Nothing of the record can be trusted, so no filter can be
			// applied: report it whatever the filters say.
			st.Bad++
			f.bad(pos, r.Base()+uint64(pos), derr)
			if f.err != nil {
				return st, f.err
			}
			continue
		}
		if stateTorn {
			// The body is intact. A torn trailer belongs to an active
			// record (historical ones are never rewritten), and serve will
			// treat it as active: so do the filters.
			st.Bad++
		}
		if !m.match(&rec) {
			continue
		}
		f.row(pos, &rec, stateTorn)
		if f.err != nil {
			return st, f.err
		}
		st.Printed++
		if o.Count > 0 && st.Printed >= o.Count {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write: %w", err)
	}
	return st, nil
}

// NormalizeNumber is the form in which numbers are compared: without a
// leading '+', and with an 11-digit NANP number in international form
// (1 followed by 10 digits) reduced to its 10 national digits, so that
// "+12025550123", "12025550123" and "2025550123" are the same number.
// Country code 1 is NANP's alone, so no other number is changed by the
// second rule.
func NormalizeNumber(s string) string {
	s = strings.TrimPrefix(s, "+")
	if len(s) == 11 && s[0] == '1' && allDigits(s) {
		return s[1:]
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// matcher applies the filters other than time, which Run does by position.
type matcher struct {
	number, src, dst numberQuery
	user             string
	class            *pms.Class
	state            string
}

// numberQuery is one number filter, normalized once.
type numberQuery struct {
	set  bool
	raw  string // for alphanumeric addresses
	norm string
}

func newNumberQuery(s string) numberQuery {
	if s == "" {
		return numberQuery{}
	}
	return numberQuery{set: true, raw: s, norm: NormalizeNumber(s)}
}

func (q *numberQuery) matches(a pms.Address) bool {
	if a.Digits == "" {
		return false
	}
	if a.TON == pms.TONAlphanumeric {
		return strings.EqualFold(a.Digits, q.raw)
	}
	return NormalizeNumber(a.Digits) == q.norm
}

func newMatcher(o *Options) (*matcher, error) {
	switch o.State {
	case "", StateActive, StateHistorical:
	default:
		return nil, fmt.Errorf("%w: state %q (want %s or %s)", ErrOptions, o.State, StateActive, StateHistorical)
	}
	if o.Count < 0 {
		return nil, fmt.Errorf("%w: negative count %d", ErrOptions, o.Count)
	}
	return &matcher{
		number: newNumberQuery(o.Number),
		src:    newNumberQuery(o.Src),
		dst:    newNumberQuery(o.Dst),
		user:   o.User,
		class:  o.Class,
		state:  o.State,
	}, nil
}

func (m *matcher) match(r *pms.Record) bool {
	switch m.state {
	case StateActive:
		if r.State.Disposition.Historical() {
			return false
		}
	case StateHistorical:
		if !r.State.Disposition.Historical() {
			return false
		}
	}
	if m.class != nil && r.SrcClass != *m.class && r.DstClass != *m.class {
		return false
	}
	if r.Kind != pms.KindSM && (m.number.set || m.src.set || m.dst.set) {
		return false
	}
	if m.number.set && !m.number.matches(r.Src) && !m.number.matches(r.Dst) {
		return false
	}
	if m.src.set && !m.src.matches(r.Src) {
		return false
	}
	if m.dst.set && !m.dst.matches(r.Dst) {
		return false
	}
	if m.user != "" && (r.Kind != pms.KindChat || (r.From != m.user && r.To != m.user)) {
		return false
	}
	return true
}

// timeLayout is RFC 3339 with milliseconds, printed in UTC.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// Row is one record as printed with --json: one object per line. The field
// names are a stable interface (docs/dump.md); fields are only ever added.
// Text and UDH are present only with ShowText.
type Row struct {
	Position    int    `json:"position"`
	Index       uint64 `json:"index"`
	Error       string `json:"error,omitempty"`    // "state-crc" on a row whose trailer is torn; see badRow
	Kind        string `json:"kind"`               // "sm" or "chat"
	Entry       string `json:"entry"`              // RFC 3339, UTC, milliseconds
	State       string `json:"state"`              // "active" or "historical"
	Disposition string `json:"disposition"`        // active, stored, delivered, expired, failed, cancelled
	SrcClass    string `json:"src_class"`          // none, local, gsm, upstream, downstream, chat
	DstClass    string `json:"dst_class"`          //
	Validity    uint32 `json:"validity,omitempty"` // seconds from entry to expiry
	Expiry      string `json:"expiry,omitempty"`   //

	// SM fields.
	Src           string `json:"src,omitempty"` // "+" then digits for an international number
	SrcTON        *uint8 `json:"src_ton,omitempty"`
	SrcNPI        *uint8 `json:"src_npi,omitempty"`
	Dst           string `json:"dst,omitempty"`
	DstTON        *uint8 `json:"dst_ton,omitempty"`
	DstNPI        *uint8 `json:"dst_npi,omitempty"`
	SrcPeer       string `json:"src_peer,omitempty"`
	PID           *uint8 `json:"pid,omitempty"`
	DCS           *uint8 `json:"dcs,omitempty"`
	ESM           *uint8 `json:"esm,omitempty"`
	MR            *uint8 `json:"mr,omitempty"`
	Alphabet      string `json:"alphabet,omitempty"` // gsm7, ucs2, 8bit
	StatusReport  bool   `json:"status_report,omitempty"`
	IMSIAddressed bool   `json:"imsi_addressed,omitempty"`
	ConcatRef     uint16 `json:"concat_ref,omitempty"`

	// Chat fields.
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	ToGroup bool   `json:"to_group,omitempty"`

	// Both kinds.
	Length int   `json:"length"`          // SM: TP-UDL (septets for gsm7, else octets); chat: bytes
	Part   uint8 `json:"part,omitempty"`  // 1-based part of a concatenated SM or chat message
	Parts  uint8 `json:"parts,omitempty"` //

	// State trailer.
	SRR        bool   `json:"srr,omitempty"`
	Attempts   uint8  `json:"attempts,omitempty"`
	Reason     uint8  `json:"reason,omitempty"`
	Discharged string `json:"discharged,omitempty"`
	IMSI       string `json:"imsi,omitempty"`
	DstPeer    string `json:"dst_peer,omitempty"`
	PeerMsgID  string `json:"peer_msg_id,omitempty"`

	// Only with ShowText.
	Text    *string `json:"text,omitempty"`
	TextHex bool    `json:"text_hex,omitempty"` // text is the user data in hex (8-bit data or undecodable)
	UDH     string  `json:"udh,omitempty"`      // user data header in hex, UDHL octet included
}

// badRow is printed with --json for a record that does not decode.
type badRow struct {
	Position int    `json:"position"`
	Index    uint64 `json:"index"`
	Error    string `json:"error"`  // body-crc, bad-magic, version, kind, field-range, decode
	Detail   string `json:"detail"` // a fixed description of the error
}

// errorCode classifies a decode error into a stable code and a fixed
// description. The wrapped error's own text is not printed: it may quote
// bytes of a malformed address.
func errorCode(err error) (code, detail string) {
	switch {
	case errors.Is(err, pms.ErrBodyCRC):
		return "body-crc", "record body CRC mismatch"
	case errors.Is(err, pms.ErrStateCRC):
		return "state-crc", "state trailer CRC mismatch (treated as active)"
	case errors.Is(err, pms.ErrMagic):
		return "bad-magic", "no record magic (not a record)"
	case errors.Is(err, pms.ErrVersion):
		return "version", "unknown record format version"
	case errors.Is(err, pms.ErrKind):
		return "kind", "unknown record kind"
	case errors.Is(err, pms.ErrFieldRange):
		return "field-range", "a field is out of range"
	default:
		return "decode", "record does not decode"
	}
}

// buildRow converts a decoded record to its printed form.
func buildRow(pos int, r *pms.Record, stateTorn, showText bool) Row {
	row := Row{
		Position:    pos,
		Index:       r.Index,
		Entry:       formatTime(r.Entry),
		State:       StateActive,
		Disposition: r.State.Disposition.String(),
		SrcClass:    r.SrcClass.String(),
		DstClass:    r.DstClass.String(),
		Validity:    r.Validity,
		Expiry:      formatTime(r.Expiry()),
		SRR:         r.State.SRR,
		Attempts:    r.State.Attempts,
		Reason:      r.State.Reason,
		Discharged:  formatTime(r.State.Discharged),
		IMSI:        r.State.IMSI,
		DstPeer:     r.State.DstPeer,
		PeerMsgID:   r.State.PeerMsgID,
	}
	if r.State.Disposition.Historical() {
		row.State = StateHistorical
	}
	if stateTorn {
		row.Error = "state-crc"
	}
	switch r.Kind {
	case pms.KindSM:
		row.Kind = "sm"
		row.Src, row.SrcTON, row.SrcNPI = r.Src.String(), &r.Src.TON, &r.Src.NPI
		row.Dst, row.DstTON, row.DstNPI = r.Dst.String(), &r.Dst.TON, &r.Dst.NPI
		row.SrcPeer = r.SrcPeer
		row.PID, row.DCS, row.ESM, row.MR = &r.PID, &r.DCS, &r.ESM, &r.MR
		row.StatusReport, row.IMSIAddressed = r.StatusReport, r.IMSIAddressed
		row.Length = int(r.UDL)
		row.ConcatRef = r.ConcatRef
		t := decodeSM(r)
		row.Alphabet = t.Alphabet
		if r.ConcatTotal > 1 {
			row.Part, row.Parts = r.ConcatSeq, r.ConcatTotal
		} else if seq, total, ok := concatFromUDH(t.UDH); ok && total > 1 {
			row.Part, row.Parts = seq, total
		}
		if showText {
			row.Text, row.TextHex = &t.Text, t.Hex
			if t.UDH != nil {
				row.UDH = hex.EncodeToString(t.UDH)
			}
		}
	case pms.KindChat:
		row.Kind = "chat"
		row.From, row.To, row.ToGroup = r.From, r.To, r.ToGroup
		row.Length = len(r.Text)
		if r.Parts > 1 {
			row.Part, row.Parts = r.Part, r.Parts
		}
		if showText {
			s := chatText(r.Text)
			row.Text = &s
		}
	default:
		row.Kind = strconv.Itoa(int(r.Kind))
	}
	return row
}

// formatter writes rows; the first write error sticks in err.
type formatter struct {
	w   *bufio.Writer
	o   *Options
	err error
}

// Table columns. Widths fit the longest usual value; longer values (chat
// names, alphanumeric senders in a wide table) push the line out rather
// than being cut, since a cut number would be a wrong number.
const tableFormat = "%-10s %-24s %-10s %-21s %-21s %-21s %-4s %4s %-5s"

func (f *formatter) header() {
	line := fmt.Sprintf(tableFormat, "INDEX", "ENTRY", "STATE", "CLASSES", "SRC", "DST", "DCS", "LEN", "PART")
	if f.o.ShowText {
		line += " TEXT"
	}
	f.writeLine(strings.TrimRight(line, " "))
}

func (f *formatter) writeLine(s string) {
	if f.err != nil {
		return
	}
	if _, err := f.w.WriteString(s); err != nil {
		f.err = fmt.Errorf("write: %w", err)
		return
	}
	if err := f.w.WriteByte('\n'); err != nil {
		f.err = fmt.Errorf("write: %w", err)
	}
}

func (f *formatter) writeJSON(v any) {
	if f.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.err = fmt.Errorf("encode row: %w", err)
		return
	}
	f.writeLine(string(b))
}

func (f *formatter) bad(pos int, index uint64, err error) {
	code, detail := errorCode(err)
	if f.o.JSON {
		f.writeJSON(badRow{Position: pos, Index: index, Error: code, Detail: detail})
		return
	}
	f.writeLine(fmt.Sprintf("%-10d BAD RECORD at position %d: %s", index, pos, detail))
}

func (f *formatter) row(pos int, r *pms.Record, stateTorn bool) {
	row := buildRow(pos, r, stateTorn, f.o.ShowText)
	if f.o.JSON {
		f.writeJSON(&row)
		return
	}
	state := row.Disposition
	if stateTorn {
		state = "state-crc"
	}
	src, dst, dcs := row.Src, row.Dst, "-"
	if r.Kind == pms.KindChat {
		src, dst = row.From, row.To
		if row.ToGroup {
			dst = "#" + dst
		}
	} else if row.DCS != nil {
		dcs = fmt.Sprintf("0x%02X", *row.DCS)
	}
	part := ""
	if row.Parts > 0 {
		part = fmt.Sprintf("%d/%d", row.Part, row.Parts)
	}
	line := fmt.Sprintf(tableFormat,
		strconv.FormatUint(row.Index, 10), orDash(row.Entry), state,
		row.SrcClass+"→"+row.DstClass, orDash(src), orDash(dst), dcs,
		strconv.Itoa(row.Length), orDash(part))
	if f.o.ShowText && row.Text != nil {
		if row.TextHex {
			line += " hex:" + *row.Text
		} else {
			// Quoted, so that a newline in a message cannot fake a row.
			line += " " + strconv.Quote(*row.Text)
		}
	}
	f.writeLine(strings.TrimRight(line, " "))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
