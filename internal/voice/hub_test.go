package voice

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))

// memUsers is a UserStore that records calls and can be told to fail.
type memUsers struct {
	mu   sync.Mutex
	m    map[uint64]Perm
	fail bool
}

func (u *memUsers) PutVoiceUser(uid uint64, p Perm) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail {
		return errors.New("disk full")
	}
	u.m[uid] = p
	return nil
}

func (u *memUsers) DeleteVoiceUser(uid uint64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail {
		return errors.New("disk full")
	}
	delete(u.m, uid)
	return nil
}

func testHubConfig() Config {
	return Config{
		RelayHost: "127.0.0.1", MaxChannels: 100, MaxMembers: 50, MaxUsers: 1000,
		KeepaliveTimeout: time.Minute, Batch: 16, Key: testKey, Announce: false, GSO: true,
	}
}

type testHub struct {
	*Hub
	reg *prometheus.Registry
	m   *Metrics
}

func newTestHub(t *testing.T, cfg Config, users map[uint64]Perm) *testHub {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Metrics = NewMetrics(reg)
	h, err := NewHub(cfg, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &testHub{Hub: h, reg: reg, m: cfg.Metrics}
}

func (h *testHub) dropped(reason int) float64 {
	return testutil.ToFloat64(h.m.dropped.WithLabelValues(dropReasons[reason]))
}

// must(t)(h.Create(...)) fails the test unless the call succeeded, and
// returns its result.
func must(t *testing.T) func(uint64, ErrorCode) uint64 {
	return func(v uint64, code ErrorCode) uint64 {
		t.Helper()
		if code != CodeSuccess || v == 0 {
			t.Fatalf("got %d, %s; want success", v, code)
		}
		return v
	}
}

func wantCode(t *testing.T, what string, code, want ErrorCode) {
	t.Helper()
	if code != want {
		t.Errorf("%s: %s, want %s", what, code, want)
	}
}

// Users of the permission matrix: one per single permission, one with
// none, and an admin.
const (
	uAdmin    = 100
	uNone     = 101
	uRegister = 102
	uDelUser  = 103
	uAddCh    = 104
	uRmCh     = 105
	uAddUser  = 106
	uKick     = 107
	uTarget   = 200 // no permissions; the user others act on
	uUnknown  = 999
)

func matrixUsers() map[uint64]Perm {
	return map[uint64]Perm{
		uAdmin: PermAdmin, uNone: PermNone, uRegister: PermRegisterUser, uDelUser: PermDeleteUser,
		uAddCh: PermAddChannel, uRmCh: PermRmChannel, uAddUser: PermAddUser, uKick: PermKickUser,
		uTarget: PermNone,
	}
}

var allActors = []uint64{uAdmin, uNone, uRegister, uDelUser, uAddCh, uRmCh, uAddUser, uKick, uUnknown}

func TestPermissionMatrixCreate(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	for _, a := range allActors {
		_, code := h.Create(a)
		want := CodeAccess
		if a == uAdmin || a == uAddCh {
			want = CodeSuccess
		}
		wantCode(t, "create by "+name(a), code, want)
	}
}

func TestPermissionMatrixDelete(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	for _, a := range allActors {
		chid := must(t)(h.Create(uAdmin)) // owned by the admin
		_, code := h.Delete(a, chid)
		want := CodeAccess
		if a == uAdmin || a == uRmCh {
			want = CodeSuccess
		}
		wantCode(t, "delete by "+name(a), code, want)
	}
	// The owner needs no permission.
	chid := must(t)(h.Create(uAddCh))
	wantCode(t, "delete by owner", second(h.Delete(uAddCh, chid)), CodeSuccess)
	wantCode(t, "delete unknown channel", second(h.Delete(uAdmin, 12345)), CodeInvalid)
}

func TestPermissionMatrixJoinLeave(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	chid := must(t)(h.Create(uAdmin))
	for _, a := range allActors {
		// Joining someone else needs perm_add_user.
		_, code := h.Join(a, uTarget, chid)
		want := CodeAccess
		if a == uAdmin || a == uAddUser {
			want = CodeSuccess
		}
		wantCode(t, "join other by "+name(a), code, want)
		// Joining oneself needs nothing (but a registered uid).
		_, code = h.Join(a, a, chid)
		want = CodeSuccess
		if a == uUnknown {
			want = CodeAccess
		}
		wantCode(t, "join self by "+name(a), code, want)
	}
	for _, a := range allActors {
		must(t)(h.Join(uAdmin, uTarget, chid))
		_, code := h.Leave(a, uTarget, chid)
		want := CodeAccess
		if a == uAdmin || a == uKick {
			want = CodeSuccess
		}
		wantCode(t, "kick by "+name(a), code, want)
		if a != uUnknown {
			must(t)(h.Join(a, a, chid))
			wantCode(t, "leave self by "+name(a), second(h.Leave(a, a, chid)), CodeSuccess)
		}
	}
	wantCode(t, "join unknown channel", second(h.Join(uNone, uNone, 777)), CodeInvalid)
	wantCode(t, "admin joins unknown user", second(h.Join(uAdmin, uUnknown, chid)), CodeInvalid)
	wantCode(t, "leave when not a member", second(h.Leave(uRmCh, uRmCh, chid)), CodeInvalid)
	port, code := h.Join(uNone, uNone, chid)
	if p2, _ := h.Port(chid); code != CodeSuccess || port != p2 || port == 0 {
		t.Fatalf("join answered port %d, get_port %d", port, p2)
	}
}

func TestPermissionMatrixRegister(t *testing.T) {
	users := &memUsers{m: map[uint64]Perm{}}
	cfg := testHubConfig()
	cfg.Users = users
	h := newTestHub(t, cfg, matrixUsers())
	for _, a := range allActors {
		_, code := h.Register(a, PermAddChannel)
		want := CodeAccess
		if a == uAdmin || a == uRegister {
			want = CodeSuccess
		}
		wantCode(t, "register by "+name(a), code, want)
	}
	// auid 0: a regular registration; the perm field is ignored.
	u := must(t)(h.Register(0, PermAdmin))
	wantCode(t, "self-registered user creates", second(h.Create(u)), CodeAccess)
	if p, ok := users.m[u]; !ok || p != PermNone {
		t.Fatalf("store has %d, %v", p, ok)
	}
	// A registrar's perm is given.
	u2 := must(t)(h.Register(uRegister, PermAddChannel))
	must(t)(h.Create(u2))
	// A registration the store refuses does not exist.
	users.fail = true
	wantCode(t, "register with a failing store", second(h.Register(0, 0)), CodeServer)
	users.fail = false

	for _, a := range allActors {
		victim := must(t)(h.Register(0, 0))
		_, code := h.Unregister(a, victim)
		want := CodeAccess
		if a == uAdmin || a == uDelUser {
			want = CodeSuccess
		}
		wantCode(t, "unregister other by "+name(a), code, want)
	}
	self := must(t)(h.Register(0, 0))
	if v, code := h.Unregister(self, self); code != CodeSuccess || v != self {
		t.Fatalf("unregister self = %d, %s", v, code)
	}
	if _, ok := users.m[self]; ok {
		t.Fatal("unregistered user still stored")
	}
	wantCode(t, "unregistered uid acts", second(h.Create(self)), CodeAccess)
	wantCode(t, "unregister unknown", second(h.Unregister(uAdmin, 4242)), CodeInvalid)
}

func TestMaxLimits(t *testing.T) {
	cfg := testHubConfig()
	cfg.MaxChannels, cfg.MaxMembers, cfg.MaxUsers = 1, 1, len(matrixUsers())+1
	h := newTestHub(t, cfg, matrixUsers())
	chid := must(t)(h.Create(uAdmin))
	wantCode(t, "second channel", second(h.Create(uAdmin)), CodeServer)
	must(t)(h.Join(uNone, uNone, chid))
	must(t)(h.Join(uNone, uNone, chid)) // joining again is not a new member
	wantCode(t, "second member", second(h.Join(uKick, uKick, chid)), CodeServer)
	must(t)(h.Register(0, 0))
	wantCode(t, "user over max_users", second(h.Register(0, 0)), CodeServer)
}

func TestGetChannelsAndPort(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	a := must(t)(h.Create(uAdmin))
	b := must(t)(h.Create(uAdmin))
	reply, _ := h.Handle(nil, Request{Cmd: CmdGetChannels})
	if !bytes.Equal(reply, AppendChannels(nil, []uint64{a, b})) {
		t.Fatalf("channels reply %x", reply)
	}
	wantCode(t, "port of unknown", second(h.Port(99)), CodeInvalid)
	must(t)(h.Delete(uAdmin, a))
	if got := h.Channels(); len(got) != 1 || got[0] != b {
		t.Fatalf("after delete: %v", got)
	}
	reply, code := h.Handle(nil, Request{Cmd: CmdGetPort, Chid: a})
	if code != CodeInvalid || !bytes.Equal(reply, AppendError(nil, CodeInvalid)) {
		t.Fatalf("get_port of deleted: %x", reply)
	}
}

func TestRestartKeepsChannels(t *testing.T) {
	dir := t.TempDir()
	cfg := testHubConfig()
	cfg.StateFile = filepath.Join(dir, StateFileName)
	users := matrixUsers()
	h1, err := NewHub(cfg, users)
	if err != nil {
		t.Fatal(err)
	}
	c1 := must(t)(h1.Create(uAdmin))
	c2 := must(t)(h1.Create(uAddCh))
	must(t)(h1.Join(uNone, uNone, c1))
	must(t)(h1.Join(uKick, uKick, c1))
	must(t)(h1.Delete(uAdmin, c2))
	port, _ := h1.Port(c1)
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}
	// uKick is gone by the restart: its membership is dropped.
	delete(users, uKick)
	h2 := newTestHub(t, cfg, users)
	if got := h2.Channels(); len(got) != 1 || got[0] != c1 {
		t.Fatalf("restored channels %v", got)
	}
	info, _ := h2.Channel(c1)
	if info.Port != int(port) || info.Owner != uAdmin || len(info.Members) != 1 || info.Members[0].UID != uNone || info.Members[0].Bound {
		t.Fatalf("restored %+v (port was %d)", info, port)
	}
	// Channel ids are not reused.
	if c3 := must(t)(h2.Create(uAdmin)); c3 <= c2 {
		t.Fatalf("new channel %d reuses an id (<= %d)", c3, c2)
	}
}

func name(uid uint64) string {
	switch uid {
	case uAdmin:
		return "admin"
	case uNone:
		return "none"
	case uRegister:
		return "register_user"
	case uDelUser:
		return "delete_user"
	case uAddCh:
		return "add_channel"
	case uRmCh:
		return "rm_channel"
	case uAddUser:
		return "add_user"
	case uKick:
		return "kick_user"
	}
	return "unknown"
}

func second(_ uint64, c ErrorCode) ErrorCode { return c }

// udpMember is a test client socket.
type udpMember struct {
	t    *testing.T
	uid  uint64
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newMember(t *testing.T, uid uint64, port uint64) *udpMember {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpMember{t: t, uid: uid, conn: c, to: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}}
}

func (m *udpMember) send(b []byte) {
	m.t.Helper()
	if _, err := m.conn.WriteToUDP(b, m.to); err != nil {
		m.t.Fatal(err)
	}
}

func (m *udpMember) user(data string) []byte {
	b := make([]byte, PacketSize)
	PutUser(b, m.uid, []byte(data))
	return b
}

func (m *udpMember) keepalive(ack uint32) {
	b := make([]byte, PacketSize)
	PutSystem(b, OpKeepalive, m.uid, ack)
	m.send(b)
}

// recv reads the next datagram (2 s at most).
func (m *udpMember) recv() []byte {
	m.t.Helper()
	b := make([]byte, 2048)
	_ = m.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := m.conn.ReadFromUDP(b)
	if err != nil {
		m.t.Fatalf("uid %d: %v", m.uid, err)
	}
	return b[:n]
}

// bindAck sends a KEEPALIVE asking for an ACK and waits for it, which
// binds the member's address before the test goes on.
func (m *udpMember) bindAck(ack uint32) Signed {
	m.t.Helper()
	m.keepalive(ack)
	for {
		b := m.recv()
		s, err := VerifySigned(testKey.Public().(ed25519.PublicKey), b)
		if err == nil && s.Op == OpAck && s.Ack == ack {
			return s
		}
	}
}

// TestPortRange: channel ports come from the configured range, and a full
// range refuses CREATE with a server error.
func TestPortRange(t *testing.T) {
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	lo := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	if lo > 65000 {
		lo = 60000
	}
	cfg := testHubConfig()
	cfg.PortMin, cfg.PortMax = lo, lo+1
	h := newTestHub(t, cfg, matrixUsers())
	made := 0
	for range 3 {
		chid, code := h.Create(uAdmin)
		if code != CodeSuccess {
			wantCode(t, "create beyond the range", code, CodeServer)
			continue
		}
		made++
		if p, _ := h.Port(chid); int(p) < lo || int(p) > lo+1 {
			t.Fatalf("port %d outside %d-%d", p, lo, lo+1)
		}
	}
	// Another program may hold a port of the range; never more than two.
	if made > 2 {
		t.Fatalf("%d channels on a range of two ports", made)
	}
}

// CREATE and DELETE are on disk when they are answered: the state file
// read right after the reply (as after a crash, no Close) has the new
// channel and its id counted, and no longer the deleted one.
func TestCreateDeleteDurableBeforeReply(t *testing.T) {
	cfg := testHubConfig()
	cfg.StateFile = filepath.Join(t.TempDir(), StateFileName)
	h := newTestHub(t, cfg, matrixUsers())
	read := func() state {
		t.Helper()
		b, err := os.ReadFile(cfg.StateFile)
		if err != nil {
			t.Fatal(err)
		}
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	c1 := must(t)(h.Create(uAdmin))
	if st := read(); st.NextChid <= c1 || len(st.Channels) != 1 || st.Channels[0].ID != c1 {
		t.Fatalf("after CREATE the file holds %+v", st)
	}
	must(t)(h.Delete(uAdmin, c1))
	if st := read(); st.NextChid <= c1 || len(st.Channels) != 0 {
		t.Fatalf("after DELETE the file holds %+v", st)
	}
}

// Open registrations stop at OpenMaxUsers; the rest up to MaxUsers stays
// for registrations by a user with perm_register_user.
func TestOpenRegisterLeavesReserve(t *testing.T) {
	cfg := testHubConfig()
	cfg.MaxUsers, cfg.OpenMaxUsers = 14, 11 // matrixUsers are 9
	h := newTestHub(t, cfg, matrixUsers())
	for i := range 2 {
		if _, code := h.Register(0, PermNone); code != CodeSuccess {
			t.Fatalf("open registration %d: %s", i, code)
		}
	}
	_, code := h.Register(0, PermNone)
	wantCode(t, "open registration at OpenMaxUsers", code, CodeServer)
	for i := range 3 {
		if _, code := h.Register(uRegister, PermNone); code != CodeSuccess {
			t.Fatalf("registration %d by perm_register_user: %s", i, code)
		}
	}
	_, code = h.Register(uRegister, PermNone)
	wantCode(t, "registration at MaxUsers", code, CodeServer)
}

// The open registration bucket is shared by every caller and refills.
func TestOpenRegisterRate(t *testing.T) {
	cfg := testHubConfig()
	cfg.OpenRegisterBurst, cfg.OpenRegisterRate = 2, 0.001
	h := newTestHub(t, cfg, matrixUsers())
	for range 2 {
		must(t)(h.Register(0, PermNone))
	}
	_, code := h.Register(0, PermNone)
	wantCode(t, "open registration beyond the burst", code, CodeServer)
	must(t)(h.Register(uRegister, PermNone)) // not an open registration
	h.mu.Lock()
	h.open.Refill(time.Now().Add(time.Hour), cfg.OpenRegisterRate, float64(cfg.OpenRegisterBurst)) // an hour later: 3.6 tokens back, capped at 2
	h.mu.Unlock()
	must(t)(h.Register(0, PermNone))
}
