package smpp

import (
	"context"

	"switchboard/internal/core"
	"switchboard/internal/pms"
)

// Core is what the SMPP layer needs of the SMSC core: admission of new
// SMs, lookup, cancel and replacement, and the role-handler registry through which the core hands
// out SMs for delivery. *core.Core implements it in-process; a core-socket
// client can implement it for a handler running as its own process.
type Core interface {
	Submit(ctx context.Context, rec *pms.Record, imsiAddressed bool) (index uint64, duplicate bool, err error)
	// SubmitAsync is Submit without waiting: done gets its results later
	// (or at once for a rejection) and must not block.
	SubmitAsync(rec *pms.Record, imsiAddressed bool, done func(index uint64, duplicate bool, err error))
	Cancel(ctx context.Context, sel core.Selector) error
	// Replace gives an active SM new content; the id its sender holds
	// keeps naming it (docs/core.md, replacement).
	Replace(ctx context.Context, index uint64, change core.ReplaceChange) (newIndex uint64, err error)
	Lookup(ctx context.Context, index uint64) (core.SMInfo, error)
	// PeerReceipt discharges the SM a peer ("" = the upstream) knows by
	// its own message id, as that peer's receipt says.
	PeerReceipt(ctx context.Context, peer, peerMsgID string, disp pms.Disposition) error
	Register(h core.Handler, role core.Role, name string) (*core.Registration, error)
	SetServiceState(reg *core.Registration, up bool)
	Unregister(reg *core.Registration)
}

var _ Core = (*core.Core)(nil)
