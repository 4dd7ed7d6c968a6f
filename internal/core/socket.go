package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
)

// SocketHandler returns the per-connection handler of the core socket
// (§2.5): it turns requests into core operations and, once the client has
// registered a role, makes the client a Handler the core sends its own
// requests to. reload is called for NUMBERING_RELOAD.
func (c *Core) SocketHandler(reload func() error) func(p *coresock.Peer) coresock.Handler {
	return func(p *coresock.Peer) coresock.Handler {
		return &conn{c: c, p: p, reload: reload}
	}
}

// conn is one core-socket client as the core sees it. A client may have
// several requests in flight, answered in completion order and matched by
// id: SUBMIT is admitted on the reader and answered when the store's group
// commit is on disk; the other requests that may block run on goroutines
// of their own.
type conn struct {
	c      *Core
	p      *coresock.Peer
	reload func() error

	mu  sync.Mutex
	reg *Registration

	// background counts this client's requests running on goroutines of
	// their own (MT_DISCHARGE's write, CANCEL, CHANGE_SRR,
	// NUMBERING_RELOAD), at most maxBackground: a client that pipelines
	// them must not make goroutines, and scans under the core's lock,
	// without bound. Beyond it they are answered TOO_BUSY.
	background atomic.Int32
}

// maxBackground bounds one client's requests in flight on goroutines of
// their own: more than a group commit takes at once, far fewer than would
// let one client stall the core.
const maxBackground = 256

// startBackground takes a slot for a request that runs on a goroutine of
// its own, or answers TOO_BUSY and reports false.
func (k *conn) startBackground(h coresock.Header) bool {
	if k.background.Add(1) > maxBackground {
		k.background.Add(-1)
		k.c.m.socketBusy.Inc()
		k.p.Reply(h, coresock.StatusTooBusy, 0, nil)
		return false
	}
	return true
}

func (k *conn) endBackground() { k.background.Add(-1) }

func (k *conn) registration() *Registration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reg
}

// HandleRequest implements coresock.Handler.
func (k *conn) HandleRequest(p *coresock.Peer, h coresock.Header, body coresock.Body) {
	switch m := body.(type) {
	case *coresock.Ping:
		p.Reply(h, coresock.StatusOK, 0, nil)
	case *coresock.RHRegister:
		k.register(h, m)
	case *coresock.RHServiceState:
		reg := k.registration()
		if reg == nil {
			p.Reply(h, coresock.StatusNotRegistered, 0, nil)
			return
		}
		k.c.SetServiceState(reg, m.Up)
		p.Reply(h, coresock.StatusOK, 0, nil)
	case *coresock.MTDischarge:
		// Taken in arrival order, so that a later RH_SERVICE_STATE down on
		// this connection cannot retake what the handler just discharged;
		// the durable write then runs on its own.
		if !k.startBackground(h) {
			return
		}
		sm, err := k.c.takeDischarge(k.registration(), m.Index, m.Disposition)
		if err != nil {
			k.endBackground()
			p.Reply(h, statusOf(err), 0, nil)
			return
		}
		k.c.goRun(func() {
			defer k.endBackground()
			if err := k.c.finish(context.Background(), sm, m.Disposition, m.Reason); err != nil {
				p.Reply(h, statusOf(err), 0, nil)
				return
			}
			p.Reply(h, coresock.StatusOK, 0, nil)
		})
	case *coresock.Submit:
		// Admission runs here, on the reader, and the store answers
		// asynchronously: no goroutine per request, and the replies of
		// one group commit are made together, so that they leave in few
		// sendmmsg calls.
		k.submit(h, m)
	case *coresock.Cancel, *coresock.ChangeSRR, *coresock.NumberingReload:
		// These may wait for the store or for another handler.
		if !k.startBackground(h) {
			return
		}
		k.c.goRun(func() {
			defer k.endBackground()
			k.slow(h, body)
		})
	default:
		// Requests of the core's own direction are not for clients to send.
		p.Reply(h, coresock.StatusUnknownType, 0, nil)
	}
}

func (k *conn) register(h coresock.Header, m *coresock.RHRegister) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.reg != nil {
		// One role per connection: RH_SERVICE_STATE names no role.
		k.p.Reply(h, coresock.StatusRoleTaken, 0, nil)
		return
	}
	reg, err := k.c.Register(rhClient{k.p}, Role(m.Role), m.Name)
	if err != nil {
		k.p.Reply(h, statusOf(err), 0, nil)
		return
	}
	k.reg = reg
	k.p.Reply(h, coresock.StatusOK, 0, nil)
}

// submitJob is one SMSC_REQ_SUBMIT between admission and its answer.
type submitJob struct {
	k     *conn
	h     coresock.Header
	rec   pms.Record
	body  *coresock.Submit // its Record holds the bytes being stored
	resp  coresock.SubmitResp
	store asyncStore // done is j.finish, bound once
}

var submitJobs sync.Pool

func init() {
	// Set here: the pool's New refers to finish, which refers back to
	// the pool.
	submitJobs.New = func() any {
		j := new(submitJob)
		j.store.bind(j.finish)
		j.store.rec = &j.rec
		return j
	}
}

func (k *conn) submit(h coresock.Header, m *coresock.Submit) {
	c := k.c
	j := submitJobs.Get().(*submitJob)
	j.k, j.h, j.body = k, h, m
	if err := m.Record.Decode(&j.rec); err != nil {
		j.reply(coresock.StatusMalformed)
		return
	}
	c.m.submits.Inc()
	k.stampOrigin(&j.rec)
	if rerr := c.admit(&j.rec, m.Flags&coresock.SubmitIMSIAddressed != 0); rerr != nil {
		j.finish(0, false, rerr)
		return
	}
	j.store.raw = (*[pms.RecordSize]byte)(&m.Record)
	c.store1Async(&j.store)
}

// finish answers the request; it runs once, on whichever goroutine learnt
// the outcome.
func (j *submitJob) finish(idx uint64, dup bool, err error) {
	if err != nil {
		j.k.c.m.rejection(err)
		j.reply(statusOf(err))
		return
	}
	j.resp = coresock.SubmitResp{Index: idx, Duplicate: dup}
	j.k.p.Reply(j.h, coresock.StatusOK, 0, &j.resp)
	j.release()
}

func (j *submitJob) reply(st coresock.Status) {
	j.k.p.Reply(j.h, st, 0, nil)
	j.release()
}

func (j *submitJob) release() {
	// Reply has marshalled the answer and the store is done with the
	// record's bytes: nothing refers to the job or its body now.
	coresock.Release(j.body)
	j.k, j.body, j.rec = nil, nil, pms.Record{}
	j.store.clear()
	submitJobs.Put(j)
}

// slow runs a request that may block and answers it.
func (k *conn) slow(h coresock.Header, body coresock.Body) {
	ctx := context.Background()
	var (
		resp coresock.Body
		err  error
	)
	switch m := body.(type) {
	case *coresock.Cancel:
		err = k.c.Cancel(ctx, selector(m.Sel))
	case *coresock.ChangeSRR:
		err = k.c.ChangeSRR(ctx, selector(m.Sel), m.SRR)
	case *coresock.NumberingReload:
		if k.reload == nil {
			err = reject(coresock.StatusUnknownType, "")
		} else if rerr := k.reload(); rerr != nil {
			k.c.log.Warn("numbering reload failed", "error", rerr)
			err = reject(coresock.StatusTemporaryFailure, rerr.Error())
		}
	}
	if err != nil {
		k.p.Reply(h, statusOf(err), 0, nil)
		return
	}
	k.p.Reply(h, coresock.StatusOK, 0, resp)
}

// stampOrigin makes the source class agree with the role the connection
// holds: a peer's handler submits that peer's SMs, the uplink's submits the
// outside world's, the GSM handler's submits MO. Unregistered clients (the
// submit tool, chat front-ends) say what they are.
func (k *conn) stampOrigin(r *pms.Record) {
	reg := k.registration()
	if reg == nil {
		return
	}
	switch {
	case reg.role == RolePeer && reg.name == "":
		r.SrcClass, r.SrcPeer = pms.ClassUpstream, ""
	case reg.role == RolePeer:
		r.SrcClass, r.SrcPeer = pms.ClassDownstream, reg.name
	case reg.role == RoleGSMMT:
		r.SrcClass, r.SrcPeer = pms.ClassGSM, ""
	}
}

// PeerClosed implements coresock.CloseHandler: the core retakes what the
// handler held.
func (k *conn) PeerClosed(p *coresock.Peer, err error) {
	if reg := k.registration(); reg != nil {
		k.c.Unregister(reg)
	}
}

func selector(s coresock.Selector) Selector {
	return Selector{ByIndex: s.ByIndex, Index: s.Index, OA: s.OA, DA: s.DA, MR: s.MR}
}

func statusOf(err error) coresock.Status {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return coresock.StatusTemporaryFailure
}

// rhClient is a role handler reached over the core socket.
type rhClient struct{ p *coresock.Peer }

func (r rhClient) FindIMSI(ctx context.Context, msisdn string) (string, Status, error) {
	resp, st, err := r.p.Call(ctx, &coresock.FindIMSI{MSISDN: msisdn})
	if err != nil || st != coresock.StatusOK {
		return "", st, err
	}
	m, ok := resp.(*coresock.FindIMSIResp)
	if !ok {
		return "", coresock.StatusMalformed, nil
	}
	return m.IMSI, st, nil
}

func (r rhClient) TransferMT(ctx context.Context, index uint64, rec *[pms.RecordSize]byte) (Status, error) {
	_, st, err := r.p.Call(ctx, &coresock.MTTransfer{Index: index, Record: *rec})
	return st, err
}

func (r rhClient) CancelMT(ctx context.Context, index uint64) (Status, error) {
	_, st, err := r.p.Call(ctx, &coresock.MTCancel{Index: index})
	return st, err
}

func (r rhClient) DeliverToPeer(ctx context.Context, index uint64, rec *[pms.RecordSize]byte) (string, Status, error) {
	resp, st, err := r.p.Call(ctx, &coresock.DeliverToPeer{Index: index, Record: *rec})
	if err != nil || st != coresock.StatusOK {
		return "", st, err
	}
	m, ok := resp.(*coresock.DeliverToPeerResp)
	if !ok {
		return "", coresock.StatusMalformed, nil
	}
	return m.PeerMsgID, st, nil
}
