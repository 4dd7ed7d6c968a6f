package core

import (
	"context"
	"errors"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// Receipts from the upstream (seed 001 §1.2.1). An SM the uplink delivers
// is discharged as delivered when the upstream accepts it, unless its
// originator asked for a status report: then "accepted by the next SMSC"
// is not delivery, so the SM stays active, waiting for the upstream's
// receipt under the message id the upstream gave it, and the receipt
// discharges it (with the outcome it reports, and our own status report
// back to the originator). The id is written to the state trailer, so a
// restart keeps waiting; an id longer than the trailer holds (16 octets)
// is matched only until a restart. An SM whose receipt does not come
// within its validity expires.

// awaitReceiptLocked decides, for an SM the upstream has just accepted
// with message id id, whether it waits for the upstream's receipt, and if
// so lists it.
func (c *Core) awaitReceiptLocked(s *sm, id string) bool {
	if s.dstClass != pms.ClassUpstream || !s.state.SRR || s.statusReport || id == "" || c.awaiting[id] != nil {
		return false
	}
	s.state.Attempts = inc(s.state.Attempts)
	if len(id) <= pms.MaxPeerName {
		s.state.PeerMsgID = id
	}
	s.loc, s.peerID = locReceiptWait, id
	c.awaiting[id] = s
	if pq := c.peers[s.state.DstPeer]; pq != nil && len(pq.barriers) > 0 {
		pq.idListedLocked(id) // a receipt that overtook this may be waiting
	}
	if !s.expiry.IsZero() {
		c.expiries.add(s)
	}
	return true
}

// recordAwaiting writes the upstream's id into the SM's state trailer.
func (c *Core) recordAwaiting(s *sm) {
	err := c.writeState(context.Background(), s, func(*pms.State) bool { return true })
	// A receipt that overtook this write has discharged the SM already.
	if err != nil && !errors.Is(err, pms.ErrHistorical) {
		c.log.Warn("upstream message id not recorded", "index", s.index, "error", err)
	}
}

// PeerReceipt applies a receipt from the upstream (peer "") for the SM it
// knows by peerMsgID: the SM is discharged with disp. An id that names no
// waiting SM is NOT_FOUND.
func (c *Core) PeerReceipt(ctx context.Context, peer, peerMsgID string, disp pms.Disposition) error {
	if peer != "" {
		return reject(coresock.StatusBadRole, "receipts are matched for the upstream only")
	}
	if disp < pms.Delivered || disp > pms.Cancelled {
		return reject(coresock.StatusMalformed, "bad disposition")
	}
	notFound := func() error { return reject(coresock.StatusNotFound, "no SM waits for this receipt") }
	c.mu.Lock()
	s := c.awaiting[peerMsgID]
	if s == nil || s.loc != locReceiptWait {
		// The receipt may have overtaken its own SM: an upstream that
		// answers submit_sm and sends the receipt at once (a rejected
		// destination, typically) can have it here before the delivery
		// that carries the id has come back to the core. Wait for the
		// deliveries in flight now to end, then look again; only then is
		// the id unknown.
		var ended <-chan struct{}
		if pq := c.peers[peer]; pq != nil {
			ended = pq.barrierLocked(peerMsgID)
		}
		c.mu.Unlock()
		if ended == nil {
			return notFound()
		}
		select {
		case <-ended:
		case <-ctx.Done():
			return notFound()
		}
		c.mu.Lock()
		if s = c.awaiting[peerMsgID]; s == nil || s.loc != locReceiptWait {
			c.mu.Unlock()
			return notFound()
		}
	}
	c.detachLocked(s)
	c.mu.Unlock()
	return c.finish(ctx, s, disp, 0)
}
