package pdu

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// The message states of SMPP 3.4 §5.2.28, carried in the message_state TLV
// and in query_sm_resp.
const (
	StateEnroute       uint8 = 1
	StateDelivered     uint8 = 2
	StateExpired       uint8 = 3
	StateDeleted       uint8 = 4
	StateUndeliverable uint8 = 5
	StateAccepted      uint8 = 6
	StateUnknown       uint8 = 7
	StateRejected      uint8 = 8
)

// The stat values of a delivery receipt's text (Appendix B), seven
// characters each.
const (
	StatDelivered     = "DELIVRD"
	StatExpired       = "EXPIRED"
	StatDeleted       = "DELETED"
	StatUndeliverable = "UNDELIV"
	StatAccepted      = "ACCEPTD"
	StatUnknown       = "UNKNOWN"
	StatRejected      = "REJECTD"
	StatEnroute       = "ENROUTE"
)

// stats is indexed by message state.
var stats = [...]string{
	StateEnroute:       StatEnroute,
	StateDelivered:     StatDelivered,
	StateExpired:       StatExpired,
	StateDeleted:       StatDeleted,
	StateUndeliverable: StatUndeliverable,
	StateAccepted:      StatAccepted,
	StateUnknown:       StatUnknown,
	StateRejected:      StatRejected,
}

// StatForState returns the receipt stat for a message state, and UNKNOWN
// for a state the spec does not define.
func StatForState(state uint8) string {
	if int(state) < len(stats) && stats[state] != "" {
		return stats[state]
	}
	return StatUnknown
}

// StateForStat returns the message state for a receipt stat,
// case-insensitively, also accepting the spelled-out forms some SMSCs send
// ("DELIVERED", "UNDELIVERABLE").
func StateForStat(stat string) (uint8, bool) {
	for st, s := range stats {
		if s != "" && strings.EqualFold(stat, s) {
			return uint8(st), true
		}
	}
	for _, l := range longStats {
		if strings.EqualFold(stat, l.long) {
			return l.state, true
		}
	}
	return 0, false
}

// longStats are spellings seen from SMSCs that do not abbreviate.
var longStats = []struct {
	long  string
	state uint8
}{
	{"DELIVERED", StateDelivered},
	{"UNDELIVERABLE", StateUndeliverable},
	{"ACCEPTED", StateAccepted},
	{"REJECTED", StateRejected},
}

// Receipt is the content of an SMSC delivery receipt as Appendix B of SMPP
// 3.4 shows it. Sub and Dlvrd are counts of messages submitted and
// delivered, Err a network-specific error code, Text the first characters
// of the original message.
type Receipt struct {
	ID                   string
	Sub, Dlvrd           int
	SubmitDate, DoneDate time.Time
	Stat                 string
	Err                  int
	Text                 string
}

// receiptTextLen is how much of the original text a receipt repeats.
const receiptTextLen = 20

// FormatReceipt returns r in the Appendix B layout:
//
//	id:IIIIIIIIII sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:...
//
// Counts and err are at least three digits, dates are UTC minutes (a zero
// time is "0000000000"), and Text is cut to 20 characters. Kannel and most
// ESMEs match receipts with regular expressions written for exactly this.
func FormatReceipt(r Receipt) string {
	return string(AppendReceipt(make([]byte, 0, 128+len(r.ID)), r))
}

// AppendReceipt appends FormatReceipt(r) to dst, for building the
// short_message of a receipt deliver_sm without an intermediate string.
func AppendReceipt(dst []byte, r Receipt) []byte {
	dst = append(dst, "id:"...)
	dst = append(dst, r.ID...)
	dst = append(dst, " sub:"...)
	dst = append3(dst, r.Sub)
	dst = append(dst, " dlvrd:"...)
	dst = append3(dst, r.Dlvrd)
	dst = append(dst, " submit date:"...)
	dst = appendReceiptDate(dst, r.SubmitDate)
	dst = append(dst, " done date:"...)
	dst = appendReceiptDate(dst, r.DoneDate)
	dst = append(dst, " stat:"...)
	dst = append(dst, r.Stat...)
	dst = append(dst, " err:"...)
	dst = append3(dst, r.Err)
	dst = append(dst, " text:"...)
	// Cut at a character boundary, so a UTF-8 text stays valid.
	text, n := r.Text, 0
	for i := range text {
		if n == receiptTextLen {
			text = text[:i]
			break
		}
		n++
	}
	return append(dst, text...)
}

// append3 appends v with at least three digits; negative values are 0.
func append3(dst []byte, v int) []byte {
	v = max(v, 0)
	if v < 100 {
		dst = append(dst, '0')
	}
	if v < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(v), 10)
}

func appendReceiptDate(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "0000000000"...)
	}
	t = t.UTC()
	dst = append2(dst, t.Year()%100)
	dst = append2(dst, int(t.Month()))
	dst = append2(dst, t.Day())
	dst = append2(dst, t.Hour())
	return append2(dst, t.Minute())
}

// ErrNotReceipt is returned by ParseReceipt for text with none of the
// receipt's keys.
var ErrNotReceipt = errors.New("not a delivery receipt")

// receiptKeys are matched case-insensitively at the start of the text or
// after a space, followed by ':'. Underscore spellings are seen in the
// field too.
var receiptKeys = []string{
	"id", "sub", "dlvrd", "submit date", "submit_date", "done date", "done_date", "stat", "err", "text",
}

// ParseReceipt reads receipt text leniently, since SMSCs vary: keys in any
// order and any case, missing keys (left zero), ids of any length, dates of
// 10 digits (YYMMDDhhmm), 12 digits (with seconds) or in the 16-character
// SMPP form, all read as UTC, err in decimal (or hex when it has hex
// letters), a stat without its "stat:" key, and spelled-out stats
// ("DELIVERED" becomes DELIVRD). Everything after "text:" is the text. A
// value that cannot be read is left zero rather than failing the receipt:
// the id and stat matter, and the message_state and receipted_message_id
// TLVs, when present, are the better source anyway. ParseReceipt fails,
// with ErrNotReceipt, only when s has none of the keys.
func ParseReceipt(s string) (Receipt, error) {
	var r Receipt
	type hit struct{ key, at, val int }
	var hits [16]hit
	found := hits[:0]
	textAt := -1
	for i := 0; i < len(s) && textAt < 0 && len(found) < len(hits); i++ {
		if i > 0 && !isSpace(s[i-1]) {
			continue
		}
		for k, key := range receiptKeys {
			if len(s)-i > len(key) && strings.EqualFold(s[i:i+len(key)], key) && s[i+len(key)] == ':' {
				found = append(found, hit{k, i, i + len(key) + 1})
				if key == "text" {
					textAt = i + len(key) + 1
				}
				i += len(key)
				break
			}
		}
	}
	if len(found) == 0 {
		return r, ErrNotReceipt
	}
	var spare []string // tokens after a value's first, for a bare stat
	for n, h := range found {
		end := len(s)
		if n+1 < len(found) {
			end = found[n+1].at
		}
		if receiptKeys[h.key] == "text" {
			r.Text = s[h.val:]
			continue
		}
		tok, rest := firstToken(s[h.val:end])
		if rest != "" {
			spare = append(spare, strings.Fields(rest)...)
		}
		switch receiptKeys[h.key] {
		case "id":
			r.ID = tok
		case "sub":
			r.Sub = receiptNumber(tok)
		case "dlvrd":
			r.Dlvrd = receiptNumber(tok)
		case "submit date", "submit_date":
			r.SubmitDate = receiptDate(tok)
		case "done date", "done_date":
			r.DoneDate = receiptDate(tok)
		case "stat":
			r.Stat = normalStat(tok)
		case "err":
			r.Err = receiptNumber(tok)
		}
	}
	if r.Stat == "" {
		for _, t := range spare {
			if _, ok := StateForStat(t); ok {
				r.Stat = normalStat(t)
				break
			}
		}
	}
	return r, nil
}

// firstToken splits v into its first whitespace-separated token and the
// rest.
func firstToken(v string) (tok, rest string) {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, " \t\r\n"); i >= 0 {
		return v[:i], strings.TrimSpace(v[i+1:])
	}
	return v, ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// normalStat upper-cases a stat and maps spelled-out forms to the
// seven-letter ones.
func normalStat(s string) string {
	if st, ok := StateForStat(s); ok {
		return StatForState(st)
	}
	return strings.ToUpper(s)
}

// receiptNumber reads a decimal count or error code, or a hex one when it
// has hex letters (some SMSCs send err:00B); anything else is 0.
func receiptNumber(s string) int {
	if v, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(v)
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if v, err := strconv.ParseUint(s, 16, 31); err == nil {
		return int(v)
	}
	return 0
}

// receiptDate reads YYMMDDhhmm, YYMMDDhhmmss or an SMPP absolute time, as
// UTC; anything else is the zero time.
func receiptDate(s string) time.Time {
	if len(s) == timeLen {
		if t, rel, err := ParseTime(s, time.Time{}); err == nil && !rel {
			return t
		}
		return time.Time{}
	}
	if len(s) != 10 && len(s) != 12 {
		return time.Time{}
	}
	var v [6]int
	for i := 0; i < len(s); i += 2 {
		if s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
			return time.Time{}
		}
		v[i/2] = int(s[i]-'0')*10 + int(s[i+1]-'0')
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > daysIn(time.Month(v[1]), 2000+v[0]) ||
		v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}
	}
	return time.Date(2000+v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, time.UTC)
}
