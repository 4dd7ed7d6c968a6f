package chat

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"switchboard/internal/numbering"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

// SMS at a user's own number. An SMS to a locally owned number of type
// local is stored by the core as delivered (seed 001 §2.4.1); the core
// then calls SMSStored, and if an account owns that number its user sees
// the SMS as a chat message from "+" and the sender's digits: pushed if
// online, in the inbox for SYNC always. A chat user sends SMS from the
// number the account owns with a phone-number target.

// partTimeout is how long the parts of a concatenated SMS are waited for
// before what arrived is shown.
const partTimeout = 10 * time.Minute

// SMSStored is the core's OnStored hook. It must not block.
func (s *Service) SMSStored(rec *pms.Record) {
	if rec.Kind != pms.KindSM || rec.StatusReport {
		return
	}
	s.indexSMS(rec, true)
}

// indexSMS files an SM for its number, waiting for the other parts of a
// concatenated one; push says whether to show it to its owner now.
func (s *Service) indexSMS(rec *pms.Record, push bool) {
	num, err := numbering.ParseDestination(rec.Dst.TON, rec.Dst.Digits)
	if err != nil || num.E164 == "" {
		return
	}
	text := smsText(rec)
	if rec.ConcatTotal <= 1 {
		var m *Message
		if push {
			m = &Message{ID: rec.Index, Time: rec.Entry, Sender: smsSender(rec.Src), Text: []byte(text)}
		}
		// The cache's copy is taken before pushSMS sets the pushed one's
		// Target to the owner, which the stored SMS has not.
		s.hist.addSMS(num.E164, []uint64{rec.Index}, rec.Entry.UnixNano(), m.plain())
		if push {
			s.pushSMS(num.E164, m)
		}
		return
	}
	if done := s.parts.add(num.E164, rec, text); done != nil {
		s.completeSMS(done, push)
	}
}

func (s *Service) completeSMS(p *pendingSMS, push bool) {
	ids := make([]uint64, 0, len(p.ids))
	var text strings.Builder
	for i, id := range p.ids {
		if p.got[i] {
			ids = append(ids, id)
			text.WriteString(p.texts[i])
		}
	}
	if len(ids) == 0 {
		return
	}
	// Not cached: the store's answer dates a concatenated SMS by its
	// first part, the buffer by the part that arrived first.
	s.hist.addSMS(p.number, ids, p.ns, nil)
	if push {
		s.pushSMS(p.number, &Message{ID: ids[0], Time: time.Unix(0, p.ns), Sender: p.sender, Text: []byte(text.String())})
	}
}

func (s *Service) pushSMS(e164 string, m *Message) {
	owner, ok := s.directory().OwnerOf(e164)
	if !ok {
		return
	}
	m.Target = owner
	s.m.smsIn.Inc()
	s.fan.enqueue(push{m: m, user: owner})
}

// sweepParts shows concatenated SMS whose parts stopped coming.
func (s *Service) sweepParts(now time.Time) {
	for _, p := range s.parts.expired(now.Add(-partTimeout).UnixNano()) {
		s.completeSMS(p, true)
	}
}

// smsSender is how an SMS originator appears as a chat sender: "+" and
// the E.164 digits for a number (a national NANP number gains its country
// code), or the alphanumeric sender with spaces made "_" so that it stays
// one token.
func smsSender(a pms.Address) string {
	if a.TON == pms.TONAlphanumeric {
		return strings.ReplaceAll(a.Digits, " ", "_")
	}
	if n, err := numbering.ParseDestination(a.TON, a.Digits); err == nil && n.E164 != "" {
		return "+" + n.E164
	}
	if a.TON == numbering.TONInternational {
		return "+" + a.Digits
	}
	return a.Digits
}

// phoneSender is a phone target as an SMS from it shows as sender:
// "6195550100", "16195550100" and "+16195550100" are all "+16195550100".
func phoneSender(target string) string {
	ton, d := numbering.TONUnknown, target
	if strings.HasPrefix(target, "+") {
		ton, d = numbering.TONInternational, target[1:]
	}
	return smsSender(pms.Address{TON: ton, NPI: 1, Digits: d})
}

// smsText is the SM's text without its header, with control characters
// (line breaks among them) made spaces: chat lines cannot carry them.
// Binary SMS show as a placeholder.
func smsText(rec *pms.Record) string {
	text, _, err := smstext.Decode(rec.DCS, rec.ESM, rec.UDL, rec.UD)
	if err != nil {
		if errors.Is(err, smstext.ErrBinary) {
			return "[binary message]"
		}
		return "[unreadable message]"
	}
	return flatten(text)
}

// flatten replaces C0 controls and DEL with spaces.
func flatten(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// sendSMS submits text as an SMS from the user's own number; it returns
// the id of the first part.
func (s *Service) sendSMS(ctx context.Context, from, target string, text []byte) (uint64, error) {
	number := s.directory().NumberOf(from)
	if number == "" {
		return 0, ErrNoNumber
	}
	dst := pms.Address{TON: numbering.TONUnknown, NPI: 1, Digits: target}
	if target[0] == '+' {
		dst = pms.Address{TON: numbering.TONInternational, NPI: 1, Digits: target[1:]}
	}
	parts, err := smstext.Encode(string(text), uint16(rand.IntN(256)), smstext.Options{MaxParts: s.cfg.SMSParts})
	if err != nil {
		if errors.Is(err, smstext.ErrTooLong) {
			return 0, fmt.Errorf("%w: %w", ErrTooLong, err)
		}
		return 0, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var first uint64
	for i, p := range parts {
		rec := &pms.Record{
			Kind: pms.KindSM, SrcClass: pms.ClassChat,
			Src: pms.Address{TON: numbering.TONInternational, NPI: 1, Digits: number}, Dst: dst,
			DCS: p.DCS, ESM: p.ESM, UDL: p.UDL, UD: p.UD,
			ConcatRef: p.Ref, ConcatTotal: p.Total, ConcatSeq: p.Seq,
		}
		id, _, err := s.be.Submit(ctx, rec, false)
		if err != nil {
			return 0, refusal(err)
		}
		if i == 0 {
			first = id
		}
	}
	s.m.smsOut.Inc()
	return first, nil
}

// partBuffer holds the parts of concatenated SMS until all have come.
type partBuffer struct {
	mu sync.Mutex
	m  map[partKey]*pendingSMS
}

type partKey struct {
	number, sender string
	ref            uint16
	total          uint8
}

type pendingSMS struct {
	number, sender string
	ns             int64 // entry of the first part to arrive
	ids            []uint64
	texts          []string
	got            []bool
	n              int
}

func (b *partBuffer) init() { b.m = map[partKey]*pendingSMS{} }

// add files one part; it returns the message once every part is in.
func (b *partBuffer) add(number string, rec *pms.Record, text string) *pendingSMS {
	sender := smsSender(rec.Src)
	k := partKey{number: number, sender: sender, ref: rec.ConcatRef, total: rec.ConcatTotal}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.m[k]
	if p == nil {
		t := int(rec.ConcatTotal)
		p = &pendingSMS{number: number, sender: sender, ns: rec.Entry.UnixNano(),
			ids: make([]uint64, t), texts: make([]string, t), got: make([]bool, t)}
		b.m[k] = p
	}
	i := int(rec.ConcatSeq) - 1
	if i < 0 || i >= len(p.ids) || p.got[i] {
		// A bad sequence number or a repeated part: show it on its own
		// rather than lose it.
		return &pendingSMS{number: number, sender: sender, ns: rec.Entry.UnixNano(),
			ids: []uint64{rec.Index}, texts: []string{text}, got: []bool{true}}
	}
	p.ids[i], p.texts[i], p.got[i] = rec.Index, text, true
	p.n++
	if p.n < len(p.ids) {
		return nil
	}
	delete(b.m, k)
	return p
}

// expired removes and returns the messages whose first part came before
// ns.
func (b *partBuffer) expired(ns int64) []*pendingSMS {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*pendingSMS
	for k, p := range b.m {
		if p.ns < ns {
			out = append(out, p)
			delete(b.m, k)
		}
	}
	return out
}
