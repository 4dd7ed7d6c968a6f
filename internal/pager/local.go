package pager

import (
	"context"
)

// The in-process host stand (the admin web page) uses the server
// directly, as the host tool would over UDP: its changes are pushed to
// every registered station. It can also keep a party name and size with
// a number; those stay in RAM with it and are shown by the page only
// (the seed's packets have no field for them).

// Party is what the host stand knows of a waitlist entry beyond the
// number.
type Party struct {
	Name string
	Size int
}

// LocalEntry is a waitlist entry with its party details.
type LocalEntry struct {
	Entry
	Party
}

// Do runs one request in-process as the host tool (client 0) and returns
// its answer: the same checks, effects, pushes and NACKs as over UDP. It
// waits for an SMS or call to finish.
func (s *Server) Do(ctx context.Context, p *Packet) *Packet {
	ans, _, async := s.decide(0, p)
	if async == nil {
		return ans
	}
	select {
	case s.sem <- struct{}{}:
	default:
		return nack(p, StatusBusy, "too many notifications in progress")
	}
	defer func() { <-s.sem }()
	return async(ctx)
}

// AddParty adds a number with its party details (Do with the add option,
// the details kept beside it).
func (s *Server) AddParty(ctx context.Context, number uint64, party Party) *Packet {
	ans := s.Do(ctx, &Packet{Options: OptAdd, Number: number})
	if ans.Status == StatusOK {
		s.mu.Lock()
		if _, ok := s.numbers[number]; ok {
			s.parties[number] = party
		}
		s.notifyWatchersLocked()
		s.mu.Unlock()
	}
	return ans
}

// Parties is the waitlist with the party details, oldest first.
func (s *Server) Parties() []LocalEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LocalEntry, len(s.order))
	for i, n := range s.order {
		out[i] = LocalEntry{Entry: Entry{Number: n, Added: s.numbers[n]}, Party: s.parties[n]}
	}
	return out
}

func (s *Server) notifyWatchersLocked() {
	for w := range s.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}
