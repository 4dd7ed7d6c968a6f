package chat

import (
	"sync"
	"time"
)

// Message is one chat message or SMS as users see it.
type Message struct {
	// ID is the index of its first record in the store.
	ID uint64
	// Time is when the store accepted it.
	Time time.Time
	// Target is where it was addressed: the group's name, or for direct
	// messages and SMS the recipient's username.
	Target string
	// Group tells a group message from a direct one.
	Group bool
	// Sender is a username, or "+" and the E.164 digits for an SMS.
	Sender string
	// Text is UTF-8 without line breaks.
	Text []byte

	// wire caches each front-end's encoding, so that a message pushed to
	// a thousand members of a group is formatted once per protocol.
	wire [WireKinds]struct {
		once sync.Once
		b    []byte
	}
}

// plain is a copy of m without the per-protocol encodings it collects
// (Wire): the history cache's copy, and each History caller's, must be
// its own, or the cache would keep every front-end's bytes and callers
// would share them. The copy shares m's Text. A nil m gives nil, for
// callers with no message to copy.
func (m *Message) plain() *Message {
	if m == nil {
		return nil
	}
	return &Message{ID: m.ID, Time: m.Time, Target: m.Target, Group: m.Group, Sender: m.Sender, Text: m.Text}
}

// Wire kinds for Message.Wire.
const (
	WireCPT = iota
	WireUDP
	WireKinds
)

// Wire returns the message encoded by enc for a front-end, computing it
// once per kind. The bytes are shared: callers must not modify them.
func (m *Message) Wire(kind int, enc func(*Message) []byte) []byte {
	w := &m.wire[kind]
	w.once.Do(func() { w.b = enc(m) })
	return w.b
}

// Endpoint is one logged-in user's connection on some front-end.
type Endpoint interface {
	// Deliver queues m for the user. It must not block: a front-end whose
	// queue for this user is full cuts the connection (a slow consumer
	// must not hold up everyone else), and the user finds the message by
	// SYNC later, since it is stored. It reports whether the endpoint
	// needs a Flush to send what it has queued.
	Deliver(m *Message) (needFlush bool)
	// Flush starts sending what Deliver queued. The service calls it once
	// per endpoint after a batch of deliveries rather than after each, so
	// that a message to a group of a thousand becomes, under load, one
	// write of many messages per member instead of one write each.
	Flush()
}
