package chat

import (
	"fmt"
	"strings"
	"time"

	"switchboard/internal/pms"
)

// load reads the message an index entry points at from the store.
func (s *Service) load(e entry, raw *[pms.RecordSize]byte, rec *pms.Record) (*Message, error) {
	return s.loadFrom(s.be.ReadRaw, e, raw, rec)
}

// rawReader reads one record by index.
type rawReader func(index uint64, b *[pms.RecordSize]byte) error

// loadFrom is load reading records with rd.
func (s *Service) loadFrom(rd rawReader, e entry, raw *[pms.RecordSize]byte, rec *pms.Record) (*Message, error) {
	if e.sms {
		return s.loadSMS(rd, e, raw, rec)
	}
	if err := read(rd, e.id, raw, rec); err != nil {
		return nil, err
	}
	if rec.Kind != pms.KindChat || rec.Part != 1 {
		return nil, fmt.Errorf("record %d is not the start of a chat message", e.id)
	}
	m := &Message{ID: e.id, Time: rec.Entry, Target: rec.To, Group: rec.ToGroup, Sender: rec.From}
	text := append([]byte(nil), rec.Text...)
	for part, parts := 2, int(rec.Parts); part <= parts; part++ {
		id := e.id + uint64(part-1)
		if err := read(rd, id, raw, rec); err != nil {
			return nil, err
		}
		if rec.Kind != pms.KindChat || int(rec.Part) != part {
			return nil, fmt.Errorf("record %d is not segment %d of chat message %d", id, part, e.id)
		}
		text = append(text, rec.Text...)
	}
	m.Text = text
	return m, nil
}

func (s *Service) loadSMS(rd rawReader, e entry, raw *[pms.RecordSize]byte, rec *pms.Record) (*Message, error) {
	var text strings.Builder
	m := &Message{ID: e.id}
	for i, id := range s.hist.smsParts(e.id) {
		if err := read(rd, id, raw, rec); err != nil {
			return nil, err
		}
		if rec.Kind != pms.KindSM {
			return nil, fmt.Errorf("record %d is not an SM", id)
		}
		if i == 0 {
			m.Time, m.Sender = rec.Entry, smsSender(rec.Src)
		}
		text.WriteString(smsText(rec))
	}
	m.Text = []byte(text.String())
	return m, nil
}

func read(rd rawReader, id uint64, raw *[pms.RecordSize]byte, rec *pms.Record) error {
	if err := rd(id, raw); err != nil {
		return err
	}
	return pms.Decode(raw[:], rec)
}

// Rebuild indexes every chat message and every SMS stored for a local
// number in the store snapshot r, and remembers the messages of the last
// DedupWindow for recognising resends. It runs once, after the store has
// opened and before anything new can be stored.
func (s *Service) Rebuild(r *pms.Reader) error {
	t0 := time.Now()
	var rec pms.Record
	var peek pms.ChatPeek
	recent := s.cfg.Now().Add(-s.cfg.DedupWindow).UnixNano()
	n := r.Len()
	r.Sequential(0, n)
	s.hist.mu.Lock()
	for i := 0; i < n; i++ {
		b := r.Raw(i)
		switch pms.Kind(b[3]) {
		case pms.KindChat:
			// Segments after the first are read with it; a record that
			// does not pass its checks was counted by the store already.
			if pms.PeekChat(b, &peek) != nil || peek.Part != 1 {
				continue
			}
			s.hist.addChatLocked(peek.From, peek.To, peek.ToGroup, peek.Index, peek.Entry)
			if peek.Entry >= recent && pms.Decode(b, &rec) == nil {
				s.rememberChat(r, i, &rec)
			}
		case pms.KindSM:
			if pms.Class(b[29]) != pms.ClassLocal || b[30]&1 != 0 {
				continue // not stored for a local number, or a status report
			}
			if err := pms.Decode(b, &rec); err != nil {
				continue
			}
			s.hist.mu.Unlock()
			s.indexSMS(&rec, false)
			s.hist.mu.Lock()
		}
	}
	s.hist.mu.Unlock()
	msgs, groups, inboxes := s.hist.stats()
	indexed := time.Since(t0)
	// The cache of recent messages, read through the same snapshot.
	base := r.Base()
	read := func(id uint64, b *[pms.RecordSize]byte) error {
		if id < base || id-base >= uint64(n) {
			return fmt.Errorf("record %d is not in the snapshot", id)
		}
		copy(b[:], r.Raw(int(id-base)))
		return nil
	}
	var raw [pms.RecordSize]byte
	cached := s.hist.fillTails(func(e entry) (*Message, error) { return s.loadFrom(read, e, &raw, &rec) })
	s.cfg.Logger.Info("chat history indexed", "records", n, "messages", msgs, "groups", groups,
		"inboxes", inboxes, "cached", cached, "took", indexed.Round(time.Millisecond),
		"cache_took", (time.Since(t0) - indexed).Round(time.Millisecond))
	return nil
}

// rememberChat adds a recent message found at position i to the
// duplicate check, reading its later segments for the text.
func (s *Service) rememberChat(r *pms.Reader, i int, first *pms.Record) {
	from, to, group, id, ns := first.From, first.To, first.ToGroup, first.Index, first.Entry.UnixNano()
	text := append([]byte(nil), first.Text...)
	var seg pms.Record
	for p := 2; p <= int(first.Parts); p++ {
		if i+p-1 >= r.Len() || pms.Decode(r.Raw(i+p-1), &seg) != nil || seg.Kind != pms.KindChat {
			return
		}
		text = append(text, seg.Text...)
	}
	s.dedup.remember(s.dedup.key(from, to, group, text), id, ns)
}
