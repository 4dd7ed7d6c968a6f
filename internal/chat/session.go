package chat

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/core"
	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// Session is one user logged in on one front-end connection.
type Session struct {
	svc  *Service
	id   uint64
	name string
	ep   Endpoint
	// groups this session follows, each with when it was joined (joins
	// counts them); guarded by Service.mu.
	groups map[string]uint64
	joins  uint64
}

// Name is the session's username.
func (ss *Session) Name() string { return ss.name }

// Login claims name for ep. Names are one namespace across every
// front-end: a name in use on any of them is taken.
func (s *Service) Login(name string, ep Endpoint) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrClosed
	}
	if s.public[name] {
		return nil, ErrNameReserved
	}
	if s.online[name] != nil {
		return nil, ErrNameTaken
	}
	s.nextID++
	ss := &Session{svc: s, id: s.nextID, name: name, ep: ep, groups: map[string]uint64{}}
	s.online[name] = ss
	s.m.online.Inc()
	return ss, nil
}

// Logout frees the name and leaves every group. Messages already queued
// for the endpoint may still be delivered to it; the front-end drops them.
func (ss *Session) Logout() {
	s := ss.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.online[ss.name] != ss {
		return
	}
	delete(s.online, ss.name)
	for g := range ss.groups {
		if m := s.groups[g]; m != nil {
			m.remove(ss)
			if len(m.list) == 0 {
				delete(s.groups, g)
			}
		}
	}
	ss.groups = nil
	s.m.online.Dec()
}

// loggedOut reports whether the session has ended: its name may belong
// to someone else by now, so it must not post under it.
func (ss *Session) loggedOut() bool {
	ss.svc.mu.RLock()
	defer ss.svc.mu.RUnlock()
	return ss.groups == nil
}

// Join makes the session follow group: new messages to it are pushed.
// Sending to a group or SYNCing it joins it; there is no explicit leave
// besides logging out.
func (ss *Session) Join(group string) {
	s := ss.svc
	// Most calls find the session following already (every post to a
	// group joins it): a read lock answers those without stalling the
	// fan-out.
	s.mu.RLock()
	_, in := ss.groups[group]
	s.mu.RUnlock()
	if in {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.groups == nil {
		return // logged out
	}
	if _, ok := ss.groups[group]; ok {
		return
	}
	if len(ss.groups) >= s.cfg.MaxGroups {
		ss.leaveOldestLocked()
	}
	m := s.groups[group]
	if m == nil {
		m = &members{pos: map[*Session]int{}}
		s.groups[group] = m
	}
	m.add(ss)
	ss.joins++
	ss.groups[group] = ss.joins
}

// leaveOldestLocked stops following the group joined longest ago. The
// scan is over at most MaxGroups groups and runs only when a session
// following that many joins another.
func (ss *Session) leaveOldestLocked() {
	s := ss.svc
	oldest, at := "", uint64(math.MaxUint64)
	for g, n := range ss.groups {
		if n < at {
			oldest, at = g, n
		}
	}
	delete(ss.groups, oldest)
	if m := s.groups[oldest]; m != nil {
		m.remove(ss)
		if len(m.list) == 0 {
			delete(s.groups, oldest)
		}
	}
	s.m.groupsLeft.Inc()
}

// Kind of target a name is, for Post and History.
type TargetKind uint8

const (
	TargetGroup TargetKind = iota
	TargetUser
	TargetPhone
)

// Classify says what a target names. A phone number form is always a
// phone (those names cannot be usernames); a name with an account or
// logged in now is a user; anything else is a group, which comes to exist
// with its first message.
func (s *Service) Classify(target string) TargetKind {
	if IsPhone(target) {
		return TargetPhone
	}
	if s.public[target] {
		return TargetGroup
	}
	if s.directory().Registered(target) || s.IsOnline(target) {
		return TargetUser
	}
	return TargetGroup
}

// IsPhone reports whether a name has a phone number's form: "+" and 1 to
// 15 digits, or 4 to 15 digits (NANP forms, USA short codes and the local
// 4-digit specials among them).
func IsPhone(name string) bool {
	d := name
	if len(d) > 0 && d[0] == '+' {
		d = d[1:]
		if len(d) == 0 {
			return false
		}
	} else if len(d) < 4 {
		return false
	}
	if len(d) > 15 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// Post sends text from the session's user to target. done is called
// exactly once, from some goroutine, after the message is durably stored
// (with its id) or has failed; it must not block. A message recognised as
// a resend of one already stored is not stored again: done gets the
// original's id.
func (ss *Session) Post(ctx context.Context, target string, text []byte, done func(id uint64, err error)) {
	s := ss.svc
	if ss.loggedOut() {
		done(0, ErrLoggedOut)
		return
	}
	switch s.Classify(target) {
	case TargetPhone:
		text = append([]byte(nil), text...)
		if !s.goTracked(func() { done(s.sendSMS(ctx, ss.name, target, text)) }) {
			done(0, ErrClosed)
		}
		return
	case TargetGroup:
		ss.Join(target)
		ss.post(ctx, target, true, text, done)
	default:
		ss.post(ctx, target, false, text, done)
	}
}

func (ss *Session) post(ctx context.Context, target string, group bool, text []byte, done func(uint64, error)) {
	s := ss.svc
	now := s.cfg.Now().UnixNano()
	key := s.dedup.key(ss.name, target, group, text)
	de, first := s.dedup.claim(key, ss.id, now)
	if !first {
		s.m.duplicates.Inc()
		select {
		case <-de.done:
			done(de.id, de.err)
		default:
			if !s.goTracked(func() {
				<-de.done
				done(de.id, de.err)
			}) {
				done(0, ErrClosed)
			}
		}
		return
	}
	// The text is kept by the message pushed to others, so it must not
	// alias the front-end's read buffer.
	text = append([]byte(nil), text...)
	err := s.be.SubmitChatAsync(ctx, &core.ChatMessage{From: ss.name, To: target, ToGroup: group, Text: text},
		func(id uint64, entry time.Time, err error) {
			if err != nil {
				err = fmt.Errorf("%w: %w", ErrRefused, err)
				s.dedup.resolve(de, 0, err)
				done(0, err)
				return
			}
			m := &Message{ID: id, Time: entry, Target: target, Group: group, Sender: ss.name, Text: text}
			// The cache gets its own copy: the pushed one collects each
			// front-end's encoding, which the cache must not keep.
			s.hist.addChat(ss.name, target, group, id, entry.UnixNano(), m.plain())
			s.m.posted.Inc()
			// A resend waiting on the original is answered only once the
			// original has been pushed, like the original's sender: an
			// ACK means the others have it.
			s.fan.enqueue(push{m: m, origin: ss, user: target, done: func() {
				s.dedup.resolve(de, id, nil)
				done(id, nil)
			}})
		})
	if err != nil {
		err = refusal(err)
		s.dedup.resolve(de, 0, err)
		done(0, err)
	}
}

// refusal wraps a core error as ErrRefused (or ErrTooLong when the text
// was the problem).
func refusal(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Status == coresock.StatusBadLength {
		return fmt.Errorf("%w: %w", ErrTooLong, err)
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

// History calls fn with the messages of a target stored strictly after
// `after`, oldest first, as the store had them when History was called.
// For a group: its messages (and the session joins it). For the
// session's own name or "": its inbox, the direct messages to the user
// and the SMS to the number the account owns. For another user or a phone
// number: the conversation with them (what each sent the other). Every
// message is reported with Target set to the target asked for, as SYNC
// requires.
func (ss *Session) History(target string, after time.Time, fn func(*Message) error) error {
	s := ss.svc
	// UnixNano overflows beyond the year 2262; a SYNC after then has
	// nothing to return, and one before 1678 returns everything.
	var ns int64
	switch sec := after.Unix(); {
	case after.IsZero() || sec < math.MinInt64/int64(time.Second):
		ns = math.MinInt64
	case sec >= math.MaxInt64/int64(time.Second):
		return nil
	default:
		ns = after.UnixNano()
	}
	var list []entry
	filter := ""
	kind := TargetUser
	if target != "" && target != ss.name {
		kind = s.Classify(target)
	}
	dir := s.directory()
	switch {
	case kind == TargetGroup:
		ss.Join(target)
		list = s.hist.groupAfter(target, ns)
	case target == "" || target == ss.name:
		list = ss.inbox(dir, ns)
	default:
		// A conversation: what they sent me, and what I sent them. A
		// phone number is matched in the form SMS senders take ("+"
		// and E.164), however the user wrote it.
		filter = target
		if kind == TargetPhone {
			filter = phoneSender(target)
		}
		// Both sides come from the asker's own timelines (its inbox and
		// its outbox), so a SYNC costs what the asker's own traffic
		// does, not what the other user's inbox holds.
		mine := ss.inbox(dir, ns)
		var sent []entry
		if kind == TargetUser {
			sent = s.hist.outboxAfter(ss.name, ns)
		}
		list = merge(mine, sent)
	}
	show := target
	if show == "" {
		show = ss.name
	}
	// Read in windows, each window's records concurrently: the records
	// of one group are scattered through the store, and from disk rather
	// than the page cache a hundred reads one after another take a
	// hundred seek times, several at once far fewer (the device queues
	// them). Messages still reach fn in order.
	for len(list) > 0 {
		n := min(len(list), historyWindow)
		msgs, errs := s.loadAll(list[:n])
		for i, m := range msgs {
			if errs[i] != nil {
				s.m.readErrors.Inc()
				s.cfg.Logger.Warn("chat history: record unreadable", "index", list[i].id, "error", errs[i])
				continue
			}
			if filter != "" && m.Sender != filter && !(m.Sender == ss.name && m.Target == filter) {
				continue
			}
			m.Target = show
			if err := fn(m); err != nil {
				return err
			}
		}
		list = list[n:]
	}
	return nil
}

// historyWindow is how many messages History loads before handing them
// on, and historyReaders how many records it reads at once.
const (
	historyWindow  = 128
	historyReaders = 32
)

// loadAll loads entries: from the cache of recent messages where it has
// them, else from the store with up to historyReaders reads in flight.
// Every message returned is the caller's own (History rewrites Target).
func (s *Service) loadAll(list []entry) ([]*Message, []error) {
	msgs := s.hist.cached(list)
	errs := make([]error, len(list))
	var miss []int
	for i, m := range msgs {
		if m == nil {
			miss = append(miss, i)
			continue
		}
		msgs[i] = m.plain()
	}
	s.m.historyCached.Add(float64(len(list) - len(miss)))
	s.m.historyRead.Add(float64(len(miss)))
	if len(miss) < 4 {
		var raw [pms.RecordSize]byte
		var rec pms.Record
		for _, i := range miss {
			msgs[i], errs[i] = s.load(list[i], &raw, &rec)
		}
		return msgs, errs
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < min(historyReaders, len(miss)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw [pms.RecordSize]byte
			var rec pms.Record
			for {
				k := int(next.Add(1) - 1)
				if k >= len(miss) {
					return
				}
				i := miss[k]
				msgs[i], errs[i] = s.load(list[i], &raw, &rec)
			}
		}()
	}
	wg.Wait()
	return msgs, errs
}

// inbox is what was addressed to the session's user after ns: direct
// messages, SMS to the account's number, and messages sent to the name
// while nobody of that name was known, which were filed as a group of
// that name (a name is a user only while it has an account or is logged
// in, so a message to an absent unregistered name cannot tell).
func (ss *Session) inbox(dir Directory, ns int64) []entry {
	h := &ss.svc.hist
	return merge(h.inboxAfter(ss.name, dir.NumberOf(ss.name), ns), h.groupAfter(ss.name, ns))
}
