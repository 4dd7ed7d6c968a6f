package core

import "switchboard/internal/coresock"

// Status is the outcome code of a core operation: the core socket's status
// codes (docs/core-socket.md), which are stable because tools print them
// and scripts match on them.
type Status = coresock.Status

// Error is a rejection with its status, returned by core operations.
type Error struct {
	Status Status
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Status.Description()
	}
	return e.Status.Description() + ": " + e.Detail
}

func reject(st Status, detail string) *Error { return &Error{Status: st, Detail: detail} }
