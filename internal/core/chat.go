package core

import (
	"context"
	"time"
	"unicode/utf8"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// MaxChatSegments is the most records one chat message may take: the
// segment count is one octet in the record.
const MaxChatSegments = 255

// MaxChatText is the longest chat text, in bytes, that fits in
// MaxChatSegments records when every segment is full. Segments end on
// rune boundaries, so a text near this limit with many multi-byte
// characters may need more segments than it has room for and be refused.
const MaxChatText = MaxChatSegments * pms.MaxChatText

// ChatMessage is a chat message to admit. Names are what the front-end
// has already checked (a user logged in, a group or user target); the core
// checks only what the store needs.
type ChatMessage struct {
	From    string
	To      string
	ToGroup bool
	Text    []byte
}

// ChatSegments returns how many records text takes: segments of up to
// pms.MaxChatText bytes that end on rune boundaries, so that every record
// on its own holds valid UTF-8 (dump prints them one by one).
func ChatSegments(text []byte) int {
	n := 0
	for len(text) > 0 {
		text = text[segmentLen(text):]
		n++
	}
	return max(n, 1)
}

// segmentLen is the length of the first segment of text.
func segmentLen(text []byte) int {
	if len(text) <= pms.MaxChatText {
		return len(text)
	}
	n := pms.MaxChatText
	// Back up to the start of the rune that straddles the limit; invalid
	// bytes are never rune starts, so give up after UTFMax steps and cut
	// there (the front-ends refuse invalid UTF-8 anyway).
	for i := 0; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(text[n]); i++ {
		n--
	}
	if !utf8.RuneStart(text[n]) || n == 0 {
		return pms.MaxChatText
	}
	return n
}

// SubmitChatAsync admits a chat message and stores it as one or more chat
// segment records in one append, so that they are contiguous and its id is
// the index of the first. A chat message is historical on entry: storing
// it is its delivery (pushing it to connected users is the front-ends'
// business and needs no state in the store). done gets the first index and
// the entry time once the records are durable, or the error; it is called
// on a goroutine of the store and must not block. A refusal before
// anything is queued is returned and done is not called.
func (c *Core) SubmitChatAsync(ctx context.Context, m *ChatMessage, done func(first uint64, entry time.Time, err error)) error {
	recs, err := c.chatRecords(m)
	if err != nil {
		c.m.rejected.Inc(statusLabel(err.Status))
		return err
	}
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return reject(coresock.StatusShuttingDown, "")
	}
	err2 := c.store.AppendRawAsync(ctx, recs, func(first uint64, entry time.Time, err error) {
		if err != nil {
			done(0, time.Time{}, reject(coresock.StatusStoreFailed, err.Error()))
			return
		}
		c.m.acceptedFor(pms.ClassChat).Inc()
		done(first, entry, nil)
	})
	if err2 != nil {
		return reject(coresock.StatusStoreFailed, err2.Error())
	}
	return nil
}

// SubmitChat is SubmitChatAsync that waits for the outcome.
func (c *Core) SubmitChat(ctx context.Context, m *ChatMessage) (uint64, time.Time, error) {
	type outcome struct {
		first uint64
		entry time.Time
		err   error
	}
	ch := make(chan outcome, 1)
	if err := c.SubmitChatAsync(ctx, m, func(first uint64, entry time.Time, err error) {
		ch <- outcome{first, entry, err}
	}); err != nil {
		return 0, time.Time{}, err
	}
	o := <-ch
	return o.first, o.entry, o.err
}

// chatRecords encodes m as its segment records.
func (c *Core) chatRecords(m *ChatMessage) ([]*[pms.RecordSize]byte, *Error) {
	if m.From == "" || m.To == "" {
		return nil, reject(coresock.StatusMalformed, "chat message without sender or target")
	}
	if len(m.From) > pms.MaxChatName || len(m.To) > pms.MaxChatName {
		return nil, reject(coresock.StatusMalformed, "chat name too long")
	}
	parts := ChatSegments(m.Text)
	if parts > MaxChatSegments {
		return nil, reject(coresock.StatusBadLength, "chat message too long")
	}
	now := c.now()
	raws := make([][pms.RecordSize]byte, parts)
	recs := make([]*[pms.RecordSize]byte, parts)
	text := m.Text
	for i := range raws {
		n := segmentLen(text)
		r := pms.Record{
			Kind: pms.KindChat, SrcClass: pms.ClassChat, DstClass: pms.ClassChat,
			From: m.From, To: m.To, ToGroup: m.ToGroup,
			Part: uint8(i + 1), Parts: uint8(parts), Text: text[:n],
			State: pms.State{Disposition: pms.Stored, Discharged: now},
		}
		text = text[n:]
		if err := pms.Encode(raws[i][:], &r); err != nil {
			return nil, reject(coresock.StatusMalformed, err.Error())
		}
		recs[i] = &raws[i]
	}
	return recs, nil
}

// ReadRaw copies the record at index as it is in the store now. The chat
// history reads the messages its index points at with it.
func (c *Core) ReadRaw(index uint64, b *[pms.RecordSize]byte) error {
	return c.store.ReadRaw(index, b)
}
