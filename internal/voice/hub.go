package voice

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/internal/tokenbucket"
)

// UserStore persists registrations (the account registry's voice bucket,
// docs/accounts.md). The hub calls it with its lock held, before changing
// its own map, so that a registration the store refused never exists.
type UserStore interface {
	PutVoiceUser(uid uint64, perm Perm) error
	DeleteVoiceUser(uid uint64) error
}

// Config configures a Hub.
type Config struct {
	// RelayHost is the address channel sockets bind to ("127.0.0.1").
	RelayHost string
	// PortMin..PortMax is the range channel ports are taken from; 0, 0
	// means ephemeral ports chosen by the kernel.
	PortMin, PortMax int
	// MaxChannels, MaxMembers (per channel) and MaxUsers bound the state
	// requests can create.
	MaxChannels, MaxMembers, MaxUsers int
	// OpenMaxUsers bounds open registration (REGISTER with auid 0, which
	// anyone may send): it is refused once this many users are registered
	// (0: MaxUsers), so that the rest up to MaxUsers stays for users
	// registered by one with perm_register_user however many addresses
	// register anonymously.
	OpenMaxUsers int
	// OpenRegisterBurst and OpenRegisterRate are a token bucket for open
	// registrations from all addresses together (burst 0: no limit), so
	// that many addresses reach OpenMaxUsers no faster than one could.
	OpenRegisterBurst int
	OpenRegisterRate  float64
	// KeepaliveTimeout removes members silent for this long (60 s, §2.1).
	KeepaliveTimeout time.Duration
	// RebindQuiet is how long a bound member must have been silent before
	// a JOIN for it again drops its binding (default 10 s). Every
	// co-member learns a member's uid from its packets; without this, any
	// of them could JOIN as it and take its stream over.
	RebindQuiet time.Duration
	// Echo also sends a member's packets back to it.
	Echo bool
	// Announce sends signed JOIN and LEAVE system packets to the members
	// of a channel when its membership changes.
	Announce bool
	// Batch is how many datagrams one recvmmsg takes at most.
	Batch int
	// SocketBuffer sets SO_RCVBUF and SO_SNDBUF of channel sockets (0:
	// the kernel default).
	SocketBuffer int
	// GSO sends the forwards of a batch to one member as one UDP GSO
	// message (UDP_SEGMENT, Linux 4.18+) instead of one message per
	// datagram; the member still receives separate 512-byte datagrams.
	// A socket whose kernel or device refuses it falls back by itself.
	GSO bool
	// Key signs the server's system packets.
	Key ed25519.PrivateKey
	// Users persists registrations; nil keeps them in memory only.
	Users UserStore
	// StateFile keeps channels and memberships across restarts; "" keeps
	// them in memory only.
	StateFile string
	Logger    *slog.Logger
	Metrics   *Metrics

	// wrapConn, when set, wraps each channel's batch socket; tests use it
	// to hold a relay's reads so that a burst arrives as one batch.
	wrapConn func(batchConn) batchConn
}

// Hub errors.
var (
	ErrClosed = errors.New("voice: hub closed")
	ErrConfig = errors.New("voice: invalid hub configuration")
)

// Hub owns the voice world: users and their permissions, channels, their
// members and their relay sockets. One mutex guards the maps and every
// membership change; the packet path takes no lock (it reads a channel's
// member set through an atomic pointer). Nothing holds mu while waiting
// for a relay goroutine, and relays take mu only briefly to expire
// members, so the two cannot deadlock.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	users    map[uint64]Perm
	channels map[uint64]*channel
	nextChid uint64
	nextPort int
	closed   bool
	stateVer uint64 // bumped by every change to what the state file holds

	saveC chan struct{}
	wg    sync.WaitGroup

	saveMu   sync.Mutex // serializes state writes
	savedVer uint64     // the version on disk; saveMu

	// open is the token bucket of open registrations; mu.
	open tokenbucket.Bucket

	gsoWarned atomic.Bool // the kernel's lack of UDP GSO has been logged
}

// NewHub makes a hub with the given registrations (uid → perm), restores
// the channels of cfg.StateFile and starts their relays.
func NewHub(cfg Config, users map[uint64]Perm) (*Hub, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: no signing key", ErrConfig)
	}
	if cfg.RebindQuiet <= 0 {
		cfg.RebindQuiet = 10 * time.Second
	}
	if cfg.KeepaliveTimeout <= 0 || cfg.Batch < 1 || cfg.MaxChannels < 1 || cfg.MaxMembers < 1 || cfg.MaxUsers < 1 {
		return nil, fmt.Errorf("%w: limits must be positive", ErrConfig)
	}
	if cfg.OpenMaxUsers <= 0 || cfg.OpenMaxUsers > cfg.MaxUsers {
		cfg.OpenMaxUsers = cfg.MaxUsers
	}
	if cfg.OpenRegisterBurst > 0 && cfg.OpenRegisterRate <= 0 {
		return nil, fmt.Errorf("%w: open registration rate must be positive", ErrConfig)
	}
	if cfg.PortMin > cfg.PortMax || cfg.PortMin < 0 || cfg.PortMax > 65535 {
		return nil, fmt.Errorf("%w: port range %d-%d", ErrConfig, cfg.PortMin, cfg.PortMax)
	}
	h := &Hub{
		cfg:      cfg,
		log:      cfg.Logger,
		users:    map[uint64]Perm{},
		channels: map[uint64]*channel{},
		nextChid: 1,
		nextPort: cfg.PortMin,
		saveC:    make(chan struct{}, 1),
	}
	for uid, p := range users {
		if ValidUID(uid) {
			h.users[uid] = p
		}
	}
	if err := h.restore(); err != nil {
		// Close without writing the state file: it still holds every
		// channel, including the ones that could not be restored.
		h.cfg.StateFile = ""
		h.Close()
		return nil, err
	}
	h.wg.Add(1)
	go h.saver()
	h.gauges()
	return h, nil
}

// Close stops every relay and writes the state file a last time. Channels
// and memberships stay in the file, so a restart brings them back.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	chans := make([]*channel, 0, len(h.channels))
	for _, ch := range h.channels {
		chans = append(chans, ch)
	}
	st := h.snapshotLocked()
	h.mu.Unlock()
	close(h.saveC)
	h.wg.Wait()
	for _, ch := range chans {
		ch.stop()
	}
	if h.cfg.StateFile == "" {
		return nil
	}
	return writeState(h.cfg.StateFile, st)
}

// PublicKey is the key the server's system packets verify with.
func (h *Hub) PublicKey() ed25519.PublicKey { return h.cfg.Key.Public().(ed25519.PublicKey) }

// newUID draws a random uid that is valid (ValidUID) and not taken, so
// that a uid cannot be guessed from another one.
func (h *Hub) newUIDLocked() (uint64, error) {
	var b [8]byte
	for range 100 {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		uid := binary.BigEndian.Uint64(b[:])
		if _, taken := h.users[uid]; ValidUID(uid) && !taken {
			return uid, nil
		}
	}
	return 0, errors.New("voice: no free uid found")
}

// EnsureUser registers uid with perm if it is not registered, or sets its
// perm; the server uses it for the admin account.
func (h *Hub) EnsureUser(uid uint64, perm Perm) error {
	if !ValidUID(uid) {
		return fmt.Errorf("%w: uid %d is zero or has a half of all ones", ErrConfig, uid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.users[uid]; ok && p == perm {
		return nil
	}
	if h.cfg.Users != nil {
		if err := h.cfg.Users.PutVoiceUser(uid, perm); err != nil {
			return err
		}
	}
	h.users[uid] = perm
	return nil
}

// Register is CMD_REGISTER.
func (h *Hub) Register(auid uint64, perm Perm) (uint64, ErrorCode) {
	h.mu.Lock()
	actor, code := h.actorLocked(auid, auid == 0)
	if code == CodeSuccess {
		code = allowRegister(auid, actor)
	}
	if code == CodeSuccess && len(h.users) >= h.cfg.MaxUsers {
		code = CodeServer
	}
	if code == CodeSuccess && auid == 0 && (len(h.users) >= h.cfg.OpenMaxUsers || !h.takeOpenLocked(time.Now())) {
		code = CodeServer
	}
	if code != CodeSuccess {
		h.mu.Unlock()
		return 0, code
	}
	if auid == 0 {
		perm = PermNone
	}
	uid, err := h.newUIDLocked()
	if err != nil {
		h.mu.Unlock()
		h.log.Error("voice register", "error", err)
		return 0, CodeServer
	}
	// The uid is reserved now and written to the registry without the
	// lock: the write costs a few fsyncs, and relays and other commands
	// must not wait for it. Nobody can name the uid before the reply.
	h.users[uid] = perm
	h.mu.Unlock()
	if h.cfg.Users != nil {
		if err := h.cfg.Users.PutVoiceUser(uid, perm); err != nil {
			h.mu.Lock()
			delete(h.users, uid)
			h.mu.Unlock()
			h.log.Error("voice register: account registry", "error", err)
			return 0, CodeServer
		}
	}
	return uid, CodeSuccess
}

// takeOpenLocked takes a token of the open registrations' bucket.
func (h *Hub) takeOpenLocked(now time.Time) bool {
	if h.cfg.OpenRegisterBurst <= 0 {
		return true
	}
	return h.open.Take(now, h.cfg.OpenRegisterRate, float64(h.cfg.OpenRegisterBurst))
}

// Unregister is CMD_UNREGISTER. The user leaves every channel; channels
// it owns stay (only perm_rm_channel can delete them then).
func (h *Hub) Unregister(auid, uid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	actor, code := h.actorLocked(auid, false)
	if code == CodeSuccess {
		code = allowUnregister(auid, actor, uid)
	}
	if code == CodeSuccess {
		if _, ok := h.users[uid]; !ok {
			code = CodeInvalid
		}
	}
	if code != CodeSuccess {
		h.mu.Unlock()
		return 0, code
	}
	h.mu.Unlock()
	// The registry write costs a few fsyncs (and may wait for the
	// registry's file lock): relays and other commands must not wait for
	// it, as in Register. A concurrent UNREGISTER of the same uid finds it
	// gone from the registry and fails.
	if h.cfg.Users != nil {
		if err := h.cfg.Users.DeleteVoiceUser(uid); err != nil {
			h.log.Error("voice unregister: account registry", "error", err)
			return 0, CodeServer
		}
	}
	h.mu.Lock()
	delete(h.users, uid)
	var left []*channel
	for _, ch := range h.channels {
		if ch.removeLocked(uid) {
			left = append(left, ch)
		}
	}
	if len(left) > 0 {
		// Memberships are in the state file; registrations are not.
		h.changedLocked()
	} else {
		h.gaugesLocked()
	}
	h.mu.Unlock()
	for _, ch := range left {
		ch.announce(OpLeave, uid)
	}
	return uid, CodeSuccess
}

// actorLocked looks up the acting user. allowZero lets auid 0 through
// (REGISTER's "no admin").
func (h *Hub) actorLocked(uid uint64, allowZero bool) (Perm, ErrorCode) {
	if h.closed {
		return 0, CodeServer
	}
	if uid == 0 && allowZero {
		return PermNone, CodeSuccess
	}
	p, ok := h.users[uid]
	if !ok {
		return 0, CodeAccess
	}
	return p, CodeSuccess
}

// Create is CMD_CREATE: it opens the channel's socket and starts its
// relay.
func (h *Hub) Create(uid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	defer h.mu.Unlock()
	actor, code := h.actorLocked(uid, false)
	if code == CodeSuccess {
		code = allowCreate(actor)
	}
	if code != CodeSuccess {
		return 0, code
	}
	if len(h.channels) >= h.cfg.MaxChannels {
		return 0, CodeServer
	}
	chid := h.nextChid
	ch, err := h.openChannelLocked(chid, uid, 0)
	if err != nil {
		h.log.Error("voice create: channel socket", "error", err)
		return 0, CodeServer
	}
	h.nextChid++
	h.channels[chid] = ch
	h.changedLocked()
	if err := h.saveNowLocked(); err != nil {
		h.log.Error("voice create: channel state not saved", "file", h.cfg.StateFile, "error", err)
		delete(h.channels, chid)
		h.changedLocked()
		ch.stop()
		return 0, CodeServer
	}
	ch.start()
	return chid, CodeSuccess
}

// Delete is CMD_DELETE.
func (h *Hub) Delete(uid, chid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	actor, code := h.actorLocked(uid, false)
	ch := h.channels[chid]
	if code == CodeSuccess && ch == nil {
		code = CodeInvalid
	}
	if code == CodeSuccess {
		code = allowDelete(uid, actor, ch.owner)
	}
	if code != CodeSuccess {
		h.mu.Unlock()
		return 0, code
	}
	delete(h.channels, chid)
	h.changedLocked()
	if err := h.saveNowLocked(); err != nil {
		// As for CREATE: the reply says only what is durable (a crash
		// must not bring a deleted channel back), so the channel stays.
		h.log.Error("voice delete: channel state not saved", "file", h.cfg.StateFile, "error", err)
		h.channels[chid] = ch
		h.changedLocked()
		h.mu.Unlock()
		return 0, CodeServer
	}
	h.mu.Unlock()
	// The relay is stopped without the lock: it may be waiting for the
	// lock to expire members.
	ch.stop()
	return chid, CodeSuccess
}

// Join is CMD_JOIN; it answers the channel's port. Joining again gives the
// member a fresh binding, so a client that moved to another address joins
// again to be heard from there, once its old address has been silent for
// RebindQuiet.
func (h *Hub) Join(uid, juid, chid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	actor, code := h.actorLocked(uid, false)
	if code == CodeSuccess {
		code = allowJoin(uid, actor, juid)
	}
	ch := h.channels[chid]
	if code == CodeSuccess {
		if _, ok := h.users[juid]; !ok || ch == nil {
			code = CodeInvalid
		}
	}
	if code == CodeSuccess && ch.members.Load().byUID[juid] == nil && len(ch.members.Load().list) >= h.cfg.MaxMembers {
		code = CodeServer
	}
	if code != CodeSuccess {
		h.mu.Unlock()
		return 0, code
	}
	now := time.Now()
	if m := ch.members.Load().byUID[juid]; m != nil && m.addr.Load() != nil &&
		now.Sub(time.Unix(0, m.lastSeen.Load())) < h.cfg.RebindQuiet {
		// Bound and heard from lately: the JOIN succeeds but keeps the
		// binding, which only a member silent for RebindQuiet gives up.
		h.mu.Unlock()
		return uint64(ch.port), CodeSuccess
	}
	// A member made to LEAVE while active gets its binding back, for
	// the same reason (relay.go, channel.left).
	ch.addBoundLocked(juid, now, ch.takeLeftLocked(juid, now, h.cfg.RebindQuiet))
	h.changedLocked()
	h.mu.Unlock()
	ch.announce(OpJoin, juid)
	return uint64(ch.port), CodeSuccess
}

// Leave is CMD_LEAVE; it answers 1.
func (h *Hub) Leave(uid, luid, chid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	actor, code := h.actorLocked(uid, false)
	if code == CodeSuccess {
		code = allowLeave(uid, actor, luid)
	}
	ch := h.channels[chid]
	var gone *member
	if code == CodeSuccess && ch != nil {
		gone = ch.takeLocked(luid)
	}
	if code == CodeSuccess && gone == nil {
		code = CodeInvalid
	}
	if code != CodeSuccess {
		h.mu.Unlock()
		return 0, code
	}
	ch.keepLeftLocked(gone, time.Now(), h.cfg.RebindQuiet, h.cfg.MaxMembers)
	h.changedLocked()
	h.mu.Unlock()
	ch.announce(OpLeave, luid)
	return 1, CodeSuccess
}

// Port is CMD_GET_PORT.
func (h *Hub) Port(chid uint64) (uint64, ErrorCode) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.channels[chid]
	if ch == nil {
		return 0, CodeInvalid
	}
	return uint64(ch.port), CodeSuccess
}

// Channels is CMD_GET_CHANNELS: every channel id, ascending.
func (h *Hub) Channels() []uint64 {
	h.mu.Lock()
	ids := make([]uint64, 0, len(h.channels))
	for id := range h.channels {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	slices.Sort(ids)
	return ids
}

// ChannelInfo describes a channel for the admin API and tests.
type ChannelInfo struct {
	ID      uint64       `json:"id"`
	Owner   uint64       `json:"owner"`
	Port    int          `json:"port"`
	Members []MemberInfo `json:"members"`
}

// MemberInfo is one member of a channel.
type MemberInfo struct {
	UID uint64 `json:"uid"`
	// Bound is whether the member's source address is bound yet.
	Bound    bool      `json:"bound"`
	LastSeen time.Time `json:"last_seen"`
}

// Channel describes one channel.
func (h *Hub) Channel(chid uint64) (ChannelInfo, bool) {
	h.mu.Lock()
	ch := h.channels[chid]
	h.mu.Unlock()
	if ch == nil {
		return ChannelInfo{}, false
	}
	info := ChannelInfo{ID: ch.id, Owner: ch.owner, Port: ch.port}
	for _, m := range ch.members.Load().list {
		info.Members = append(info.Members, MemberInfo{UID: m.uid, Bound: m.addr.Load() != nil, LastSeen: time.Unix(0, m.lastSeen.Load())})
	}
	return info, true
}

// Handle executes one decoded request and appends its reply to dst; it
// also returns the reply's code.
func (h *Hub) Handle(dst []byte, r Request) ([]byte, ErrorCode) {
	if r.Cmd == CmdGetChannels {
		h.cfg.Metrics.request(r.Cmd, CodeSuccess)
		return AppendChannels(dst, h.Channels()), CodeSuccess
	}
	var v uint64
	var code ErrorCode
	switch r.Cmd {
	case CmdCreate:
		v, code = h.Create(r.UID)
	case CmdDelete:
		v, code = h.Delete(r.UID, r.Chid)
	case CmdJoin:
		v, code = h.Join(r.UID, r.Target, r.Chid)
	case CmdLeave:
		v, code = h.Leave(r.UID, r.Target, r.Chid)
	case CmdRegister:
		v, code = h.Register(r.UID, r.Perm)
	case CmdUnregister:
		v, code = h.Unregister(r.UID, r.Target)
	case CmdGetPort:
		v, code = h.Port(r.Chid)
	default:
		code = CodeNotImplemented
	}
	h.cfg.Metrics.request(r.Cmd, code)
	if code != CodeSuccess {
		return AppendError(dst, code), code
	}
	return AppendResult(dst, v), code
}

// openChannelLocked binds a channel socket: on port if it is not 0 (a
// restored channel keeps its port when it can), else from the configured
// range, else an ephemeral port.
func (h *Hub) openChannelLocked(chid, owner uint64, port int) (*channel, error) {
	listen := func(p int) (*net.UDPConn, error) {
		addr := net.JoinHostPort(h.cfg.RelayHost, strconv.Itoa(p))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		return pc.(*net.UDPConn), nil
	}
	var conn *net.UDPConn
	var err error
	if port != 0 {
		conn, err = listen(port)
	}
	if conn == nil && h.cfg.PortMin == 0 {
		conn, err = listen(0)
	}
	for i := 0; conn == nil && h.cfg.PortMin != 0 && i <= h.cfg.PortMax-h.cfg.PortMin; i++ {
		p := h.nextPort
		h.nextPort++
		if h.nextPort > h.cfg.PortMax {
			h.nextPort = h.cfg.PortMin
		}
		conn, err = listen(p)
	}
	if conn == nil {
		return nil, err
	}
	if h.cfg.SocketBuffer > 0 {
		_ = conn.SetReadBuffer(h.cfg.SocketBuffer)
		_ = conn.SetWriteBuffer(h.cfg.SocketBuffer)
	}
	return newChannel(h, chid, owner, conn), nil
}

// expire removes the stale members of ch; the relay calls it from its
// housekeeping. A member that joined again in the meantime is a new
// member object and stays.
func (h *Hub) expire(ch *channel, stale []*member) {
	h.mu.Lock()
	if h.channels[ch.id] != ch {
		h.mu.Unlock()
		return
	}
	var gone []uint64
	for _, m := range stale {
		if ch.members.Load().byUID[m.uid] == m && ch.removeLocked(m.uid) {
			gone = append(gone, m.uid)
		}
	}
	n := len(gone)
	if n > 0 {
		h.changedLocked()
	}
	h.mu.Unlock()
	h.cfg.Metrics.expiredInc(n)
	if n > 0 {
		h.log.Info("voice members expired", "channel", ch.id, "count", n)
	}
	for _, uid := range gone {
		ch.announce(OpLeave, uid)
	}
}

// changedLocked updates the gauges and asks the saver to write the state
// file.
func (h *Hub) changedLocked() {
	h.gaugesLocked()
	h.stateVer++
	if h.closed || h.cfg.StateFile == "" {
		return
	}
	select {
	case h.saveC <- struct{}{}:
	default:
	}
}

func (h *Hub) gauges() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gaugesLocked()
}

func (h *Hub) gaugesLocked() {
	members := 0
	for _, ch := range h.channels {
		members += len(ch.members.Load().list)
	}
	h.cfg.Metrics.setGauges(len(h.channels), members)
}

// saver writes the state file after changes, coalescing a burst of them
// into one write, so that a JOIN does not wait for the disk.
func (h *Hub) saver() {
	defer h.wg.Done()
	for range h.saveC {
		h.mu.Lock()
		st, ver := h.snapshotLocked(), h.stateVer
		h.mu.Unlock()
		if err := h.write(st, ver); err != nil {
			h.log.Error("voice: write channel state", "file", h.cfg.StateFile, "error", err)
		}
	}
}

// write writes a state snapshot unless a newer one is on disk already:
// the saver and the synchronous saves of CREATE and DELETE take their
// snapshots at different times. Lock order: mu, then saveMu.
func (h *Hub) write(st state, ver uint64) error {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	if ver <= h.savedVer {
		return nil
	}
	if err := writeState(h.cfg.StateFile, st); err != nil {
		return err
	}
	h.savedVer = ver
	return nil
}

// saveNowLocked writes the state before a reply goes out, so that a
// crash cannot give a channel id out twice or bring a deleted channel
// back; memberships are saved behind the replies (a lost JOIN is
// repeated by its client).
func (h *Hub) saveNowLocked() error {
	if h.cfg.StateFile == "" {
		return nil
	}
	return h.write(h.snapshotLocked(), h.stateVer)
}
