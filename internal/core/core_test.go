package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"switchboard/internal/coresock"
	"switchboard/internal/numbering"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Numbers of the test fiefdom.
const (
	numProv    = "16195550100" // gsm, SMS-provisioned
	numNoProv  = "16195550101" // gsm
	numStore   = "16195550102" // store-only
	numNone    = "16195550103" // not SMS-capable
	numPeerA   = "18585550142" // in peer "pa"'s prefix pool 1858555
	numPeerB   = "17605550199" // peer "pb", exact
	numOutside = "12125550100" // NANP, nobody's: upstream
)

func testDirectory(t testing.TB) Directory {
	t.Helper()
	path := filepath.Join(t.TempDir(), numbering.FileName)
	db, err := numbering.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	add := func(num string, typ numbering.Type, prov bool) {
		n, err := numbering.ParseNumberArg(num)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AddNumber(n, typ, prov); err != nil {
			t.Fatal(err)
		}
	}
	add("+"+numProv, numbering.GSM, true)
	add("+"+numNoProv, numbering.GSM, false)
	add("+"+numStore, numbering.Local, false)
	add("+"+numNone, numbering.None, false)
	add("4242", numbering.GSM, false)
	add("5000", numbering.Local, false)
	if err := db.AddPeer(numbering.Peer{Name: "pa", Pool: []string{"1858555"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddPeer(numbering.Peer{Name: "pb", Pool: []string{numPeerB}}); err != nil {
		t.Fatal(err)
	}
	tab, err := db.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return TableDirectory(tab)
}

func intl(d string) pms.Address { return pms.Address{TON: 1, NPI: 1, Digits: d} }
func natl(d string) pms.Address { return pms.Address{TON: 0, NPI: 1, Digits: d} }

func sms(src, dst pms.Address, from pms.Class, text string) *pms.Record {
	return &pms.Record{
		Kind: pms.KindSM, SrcClass: from, Src: src, Dst: dst,
		DCS: 0x08, UDL: uint8(len(text)), UD: []byte(text),
	}
}

func TestRouting(t *testing.T) {
	dir := testDirectory(t)
	type tc struct {
		name     string
		r        *pms.Record
		wantDst  pms.Class
		wantPeer string
		wantErr  Status
	}
	peerSM := func(dst pms.Address) *pms.Record {
		r := sms(intl(numPeerA), dst, pms.ClassDownstream, "x")
		r.SrcPeer = "pa"
		return r
	}
	cases := []tc{
		{"international to upstream", sms(intl(numProv), intl("442079460000"), pms.ClassLocal, "x"), pms.ClassUpstream, "", 0},
		{"international needs smsprov", sms(intl(numNoProv), intl("442079460000"), pms.ClassGSM, "x"), 0, "", coresock.StatusUpstreamNotPermitted},
		{"unknown NANP to upstream", sms(intl(numProv), intl(numOutside), pms.ClassGSM, "x"), pms.ClassUpstream, "", 0},
		{"unknown NANP needs smsprov", sms(natl("6195550101"), natl("2125550100"), pms.ClassLocal, "x"), 0, "", coresock.StatusUpstreamNotPermitted},
		{"short code to upstream", sms(intl(numProv), natl("46645"), pms.ClassGSM, "x"), pms.ClassUpstream, "", 0},
		{"6-digit short code", sms(intl(numProv), natl("246645"), pms.ClassGSM, "x"), pms.ClassUpstream, "", 0},
		{"alphanumeric sender cannot go upstream", sms(pms.Address{TON: 5, Digits: "ACME"}, intl(numOutside), pms.ClassLocal, "x"), 0, "", coresock.StatusUpstreamNotPermitted},
		{"local gsm, 10-digit form", sms(intl(numNoProv), natl("6195550100"), pms.ClassGSM, "x"), pms.ClassGSM, "", 0},
		{"local gsm, 11-digit form", sms(intl(numNoProv), natl("16195550100"), pms.ClassGSM, "x"), pms.ClassGSM, "", 0},
		{"store-only number", sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "x"), pms.ClassLocal, "", 0},
		{"not SMS-capable", sms(intl(numNoProv), intl(numNone), pms.ClassGSM, "x"), 0, "", coresock.StatusNotSMSCapable},
		{"invalid NANP (NXX 0XX)", sms(intl(numProv), intl("16190550100"), pms.ClassGSM, "x"), 0, "", coresock.StatusInvalidNumber},
		{"invalid NANP (N11 area)", sms(intl(numProv), natl("4115550100"), pms.ClassGSM, "x"), 0, "", coresock.StatusInvalidNumber},
		{"downstream by prefix", sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "x"), pms.ClassDownstream, "pa", 0},
		{"downstream exact", sms(intl(numNoProv), natl("7605550199"), pms.ClassLocal, "x"), pms.ClassDownstream, "pb", 0},
		{"special from GSM", sms(intl(numNoProv), natl("4242"), pms.ClassGSM, "x"), pms.ClassGSM, "", 0},
		{"special from local submit", sms(intl(numNoProv), natl("5000"), pms.ClassLocal, "x"), pms.ClassLocal, "", 0},
		{"special from upstream is unroutable", sms(intl("442079460000"), natl("4242"), pms.ClassUpstream, "x"), 0, "", coresock.StatusUnroutable},
		{"special from a peer is unroutable", peerSM(natl("4242")), 0, "", coresock.StatusUnroutable},
		{"undefined special", sms(intl(numNoProv), natl("4343"), pms.ClassGSM, "x"), 0, "", coresock.StatusUnroutable},
		{"garbage digits", sms(intl(numNoProv), natl("12"), pms.ClassGSM, "x"), 0, "", coresock.StatusUnroutable},
		{"upstream to local", sms(intl("442079460000"), intl(numNoProv), pms.ClassUpstream, "x"), pms.ClassGSM, "", 0},
		{"upstream to peer", sms(intl("442079460000"), intl(numPeerB), pms.ClassUpstream, "x"), pms.ClassDownstream, "pb", 0},
		{"upstream to unknown", sms(intl("442079460000"), intl(numOutside), pms.ClassUpstream, "x"), 0, "", coresock.StatusUnknownDestinationFromUpstream},
		{"upstream to short code", sms(intl("442079460000"), natl("46645"), pms.ClassUpstream, "x"), 0, "", coresock.StatusUnknownDestinationFromUpstream},
		{"peer to outside", peerSM(intl(numOutside)), pms.ClassUpstream, "", 0},
		{"peer to local", peerSM(intl(numNoProv)), pms.ClassGSM, "", 0},
		{"peer to other peer", peerSM(intl(numPeerB)), pms.ClassDownstream, "pb", 0},
		{"peer spoofing a local number", func() *pms.Record { r := peerSM(intl(numOutside)); r.Src = intl(numProv); return r }(), 0, "", coresock.StatusSourceNotAllowed},
		{"peer using another peer's number", func() *pms.Record { r := peerSM(intl(numOutside)); r.SrcPeer = "pb"; return r }(), 0, "", coresock.StatusSourceNotAllowed},
		{"empty destination", sms(intl(numProv), pms.Address{}, pms.ClassLocal, "x"), 0, "", coresock.StatusInvalidNumber},
	}
	for _, c := range cases {
		rt, err := decide(dir, c.r)
		switch {
		case c.wantErr != 0:
			if err == nil || err.Status != c.wantErr {
				t.Errorf("%s: got %+v, %v; want status %d", c.name, rt, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case rt.dst != c.wantDst || rt.peer != c.wantPeer:
			t.Errorf("%s: routed to %s %q, want %s %q", c.name, rt.dst, rt.peer, c.wantDst, c.wantPeer)
		}
	}
}

func TestContentChecks(t *testing.T) {
	cfg := Config{}
	cfg.setDefaults()
	gsm := func(pid, dcs byte) *pms.Record {
		r := sms(intl(numNoProv), intl(numProv), pms.ClassGSM, "")
		r.PID, r.DCS, r.UDL, r.UD = pid, dcs, 2, []byte{0xC8, 0x34}
		if dcs != 0 {
			r.UDL = 2
		}
		return r
	}
	if err := checkContent(&cfg, gsm(0x00, 0x00)); err != nil {
		t.Errorf("plain SM: %v", err)
	}
	if err := checkContent(&cfg, gsm(0x1F, 0x08)); err != nil {
		t.Errorf("PID 0x1F UCS-2: %v", err)
	}
	if err := checkContent(&cfg, gsm(0x40, 0x00)); err == nil || err.Status != coresock.StatusPIDNotAllowed {
		t.Errorf("silent SMS (PID 0x40): %v", err)
	}
	if err := checkContent(&cfg, gsm(0x7F, 0x00)); err == nil || err.Status != coresock.StatusPIDNotAllowed {
		t.Errorf("SIM data download (PID 0x7F): %v", err)
	}
	if err := checkContent(&cfg, gsm(0x00, 0x16)); err == nil || err.Status != coresock.StatusDCSNotAllowed {
		t.Errorf("class 2 8-bit: %v", err)
	}
	// Local submissions are trusted (§2.4.3 names GSM MO and the uplink).
	r := gsm(0x7F, 0x16)
	r.SrcClass = pms.ClassLocal
	if err := checkContent(&cfg, r); err != nil {
		t.Errorf("local submit of OTA: %v", err)
	}
	r = gsm(0, 0)
	r.UDL = 9 // 9 septets need 8 octets, not 2
	if err := checkContent(&cfg, r); err == nil || err.Status != coresock.StatusBadLength {
		t.Errorf("UDL mismatch: %v", err)
	}
	r = gsm(0, 0)
	r.ESM, r.UD, r.UDL = 0x40, []byte{0x05, 0x00}, 2
	if err := checkContent(&cfg, r); err == nil || err.Status != coresock.StatusBadLength {
		t.Errorf("UDH past the end: %v", err)
	}
}

// harness is a core over a real store and numbering database, with fake
// role handlers.
type harness struct {
	t          testing.TB
	dir        string
	cfg        Config
	store      *pms.Store
	core       *Core
	discharged chan discharge
	reg        *prometheus.Registry
}

// syncs is the store's fdatasync count so far.
func (h *harness) syncs() float64 {
	mfs, _ := h.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "switchboard_pms_syncs_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

type discharge struct {
	index uint64
	disp  pms.Disposition
}

func newHarness(t testing.TB, cfg Config) *harness {
	if _, ok := t.(*testing.B); ok {
		benchRuntime()
	}
	h := &harness{t: t, dir: t.TempDir(), cfg: cfg, discharged: make(chan discharge, 10000)}
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	c, err := New(h.cfg, testDirectory(h.t), Options{OnDischarge: func(i uint64, d pms.Disposition) {
		h.discharged <- discharge{i, d}
	}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	s, err := pms.Open(pms.Options{Dir: h.dir, Metrics: pms.NewMetrics(h.reg)}, c.Restore)
	if err != nil {
		h.t.Fatal(err)
	}
	c.Start(s)
	h.core, h.store = c, s
}

func (h *harness) close() {
	if h.core == nil {
		return
	}
	h.core.Close()
	h.store.Close()
	h.core, h.store = nil, nil
}

func (h *harness) restart() {
	h.close()
	h.open()
}

func (h *harness) submit(r *pms.Record) uint64 {
	h.t.Helper()
	idx, dup, err := h.core.Submit(context.Background(), r, false)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	if dup {
		h.t.Fatalf("submit: unexpected duplicate of %d", idx)
	}
	return idx
}

func (h *harness) waitDischarge(want ...discharge) {
	h.t.Helper()
	got := map[uint64]pms.Disposition{}
	for range want {
		select {
		case d := <-h.discharged:
			got[d.index] = d.disp
		case <-time.After(10 * time.Second):
			h.t.Fatalf("discharges so far %v, want %v", got, want)
		}
	}
	for _, w := range want {
		if got[w.index] != w.disp {
			h.t.Fatalf("discharges %v, want %v", got, want)
		}
	}
}

func (h *harness) record(idx uint64) pms.Record {
	h.t.Helper()
	var r pms.Record
	if err := h.store.Read(idx, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// fakeRH is a scriptable role handler.
type fakeRH struct {
	mu          sync.Mutex
	deliver     func(idx uint64, r *pms.Record) (string, Status, error)
	find        func(msisdn string) (string, Status, error)
	transfer    func(idx uint64) (Status, error)
	cancel      func(idx uint64) (Status, error)
	inflight    int
	maxInflight int
	calls       chan string
	release     chan struct{} // when set, DeliverToPeer waits on it
}

func newFake() *fakeRH { return &fakeRH{calls: make(chan string, 10000)} }

func (f *fakeRH) enter() {
	f.mu.Lock()
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
}

func (f *fakeRH) leave() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }

func (f *fakeRH) FindIMSI(ctx context.Context, msisdn string) (string, Status, error) {
	f.calls <- "find " + msisdn
	return f.find(msisdn)
}

func (f *fakeRH) TransferMT(ctx context.Context, idx uint64, rec *[pms.RecordSize]byte) (Status, error) {
	f.calls <- fmt.Sprint("transfer ", idx)
	if f.transfer == nil {
		return coresock.StatusOK, nil
	}
	return f.transfer(idx)
}

func (f *fakeRH) CancelMT(ctx context.Context, idx uint64) (Status, error) {
	f.calls <- fmt.Sprint("cancel ", idx)
	return f.cancel(idx)
}

func (f *fakeRH) DeliverToPeer(ctx context.Context, idx uint64, rec *[pms.RecordSize]byte) (string, Status, error) {
	f.enter()
	defer f.leave()
	var r pms.Record
	if err := pms.Decode(rec[:], &r); err != nil {
		return "", coresock.StatusMalformed, nil
	}
	f.calls <- fmt.Sprint("deliver ", idx)
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
	if f.deliver == nil {
		return fmt.Sprintf("up-%d", idx), coresock.StatusOK, nil
	}
	return f.deliver(idx, &r)
}

func (f *fakeRH) nextCall(t testing.TB) string {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no call to the handler")
	}
	return ""
}

func (h *harness) register(f *fakeRH, role Role, name string) *Registration {
	h.t.Helper()
	reg, err := h.core.Register(f, role, name)
	if err != nil {
		h.t.Fatal(err)
	}
	h.core.SetServiceState(reg, true)
	return reg
}

func TestStoreOnlyDestinationIsHistoricalAtOnce(t *testing.T) {
	h := newHarness(t, Config{})
	idx := h.submit(sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "hello"))
	r := h.record(idx)
	if r.DstClass != pms.ClassLocal || r.State.Disposition != pms.Stored {
		t.Fatalf("record %+v", r.State)
	}
	if r.Validity != uint32((72*time.Hour)/time.Second) {
		t.Fatalf("default validity %d", r.Validity)
	}
}

func TestRejectionStoresNothing(t *testing.T) {
	h := newHarness(t, Config{})
	_, _, err := h.core.Submit(context.Background(), sms(intl(numNoProv), intl(numOutside), pms.ClassGSM, "x"), false)
	var e *Error
	if !errors.As(err, &e) || e.Status != coresock.StatusUpstreamNotPermitted {
		t.Fatalf("submit: %v", err)
	}
	if n := h.store.Stats().Next; n != 0 {
		t.Fatalf("%d records stored after a rejection", n)
	}
}

func TestUpstreamDeliveryWithWindow(t *testing.T) {
	h := newHarness(t, Config{PeerWindow: 4})
	f := newFake()
	f.release = make(chan struct{})
	var idxs []uint64
	for i := range 10 {
		r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, fmt.Sprint("m", i))
		r.Validity = 1 << 31 // capped to the maximum
		idxs = append(idxs, h.submit(r))
	}
	if r := h.record(idxs[0]); r.Validity != uint32((7*24*time.Hour)/time.Second) {
		t.Fatalf("validity not capped: %d", r.Validity)
	}
	h.register(f, RolePeer, "")
	for range 4 {
		f.nextCall(t)
	}
	select {
	case c := <-f.calls:
		t.Fatalf("a fifth request (%s) went out with a window of 4", c)
	default:
	}
	close(f.release)
	var want []discharge
	for _, i := range idxs {
		want = append(want, discharge{i, pms.Delivered})
	}
	h.waitDischarge(want...)
	if f.maxInflight > 4 {
		t.Fatalf("window exceeded: %d", f.maxInflight)
	}
	r := h.record(idxs[3])
	if r.State.PeerMsgID != fmt.Sprintf("up-%d", idxs[3]) || r.State.Attempts != 1 || r.State.Discharged.IsZero() {
		t.Fatalf("delivered state %+v", r.State)
	}
}

func TestTemporaryFailureRetriesThenPermanentFails(t *testing.T) {
	h := newHarness(t, Config{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	f := newFake()
	var mu sync.Mutex
	tries := map[uint64]int{}
	f.deliver = func(idx uint64, r *pms.Record) (string, Status, error) {
		mu.Lock()
		defer mu.Unlock()
		tries[idx]++
		switch string(r.UD) {
		case "flaky":
			if tries[idx] < 3 {
				return "", coresock.StatusTemporaryFailure, nil
			}
			return "ok", coresock.StatusOK, nil
		case "broken":
			return "", coresock.StatusPermanentFailure, nil
		}
		return "", 0, errors.New("connection reset")
	}
	a := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "flaky"))
	b := h.submit(sms(intl(numNoProv), intl(numPeerA), pms.ClassGSM, "broken"))
	h.register(f, RolePeer, "pa")
	h.waitDischarge(discharge{a, pms.Delivered}, discharge{b, pms.Failed})
	if r := h.record(a); r.State.Attempts != 3 || r.State.DstPeer != "pa" {
		t.Fatalf("flaky state %+v", r.State)
	}
	if r := h.record(b); r.State.Reason != uint8(coresock.StatusPermanentFailure) {
		t.Fatalf("broken state %+v", r.State)
	}
}

func TestExpiryWhileQueued(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "short-lived")
	r.Validity = 1
	idx := h.submit(r)
	// No handler: it waits, then expires.
	h.waitDischarge(discharge{idx, pms.Expired})
	if st := h.record(idx).State; st.Disposition != pms.Expired {
		t.Fatalf("state %+v", st)
	}
}

func TestDuplicateSubmission(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "same")
	r.MR = 9
	first := h.submit(r)
	again := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "same")
	again.MR = 9
	idx, dup, err := h.core.Submit(context.Background(), again, false)
	if err != nil || !dup || idx != first {
		t.Fatalf("resubmission: %d %v %v (first %d)", idx, dup, err, first)
	}
	other := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "same")
	other.MR = 10 // a new message with the same text
	if idx := h.submit(other); idx == first {
		t.Fatal("a different MR was taken for a duplicate")
	}
	// Concurrent identical submissions store one record.
	var wg sync.WaitGroup
	ids := make([]uint64, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "race")
			id, _, err := h.core.Submit(context.Background(), r, false)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent duplicates got different ids: %v", ids)
		}
	}
	if n := h.store.Stats().Next; n != 3 {
		t.Fatalf("%d records stored, want 3", n)
	}
}

func TestGSMPathLookupCustodyRetake(t *testing.T) {
	h := newHarness(t, Config{})
	look := newFake()
	look.find = func(msisdn string) (string, Status, error) {
		if msisdn == "6195550100" || msisdn == numProv || msisdn == "+"+numProv {
			return "310150123456789", coresock.StatusOK, nil
		}
		return "", coresock.StatusPermanentFailure, nil
	}
	// Three SMs to one number: one lookup (§2.6.1.2).
	var idxs []uint64
	for i := range 3 {
		idxs = append(idxs, h.submit(sms(intl(numNoProv), intl(numProv), pms.ClassGSM, fmt.Sprint("part", i))))
	}
	h.register(look, RoleIMSILookup, "")
	if c := look.nextCall(t); c != "find "+numProv {
		t.Fatalf("lookup call %q", c)
	}
	gsm := newFake()
	reg := h.register(gsm, RoleGSMMT, "")
	for range 3 {
		gsm.nextCall(t)
	}
	select {
	case c := <-look.calls:
		t.Fatalf("second lookup %q for the same number", c)
	default:
	}
	if r := h.record(idxs[0]); r.State.IMSI != "310150123456789" {
		t.Fatalf("IMSI not recorded: %+v", r.State)
	}
	// A fourth SM hits the cache.
	fourth := h.submit(sms(intl(numNoProv), natl("6195550100"), pms.ClassGSM, "cached"))
	if c := gsm.nextCall(t); c != fmt.Sprint("transfer ", fourth) {
		t.Fatalf("call %q", c)
	}
	// The GSM handler disconnects: the core retakes custody and hands all
	// four to the next handler.
	h.core.Unregister(reg)
	gsm2 := newFake()
	reg2 := h.register(gsm2, RoleGSMMT, "")
	seen := map[string]bool{}
	for range 4 {
		seen[gsm2.nextCall(t)] = true
	}
	for _, i := range append(idxs, fourth) {
		if !seen[fmt.Sprint("transfer ", i)] {
			t.Fatalf("SM %d not transferred again: %v", i, seen)
		}
	}
	// The old handler's discharge is refused; the new one's is taken.
	if err := h.core.MTDischarge(context.Background(), reg, idxs[0], pms.Delivered, 0); err == nil {
		t.Fatal("discharge from an unregistered handler accepted")
	}
	for _, i := range idxs {
		if err := h.core.MTDischarge(context.Background(), reg2, i, pms.Delivered, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Cancel of an SM in the handler's custody goes through it. The fake
	// has seen the transfer, but the core records custody only once the
	// answer is back: wait for that, or the cancel meets "being delivered".
	waitCustody(t, h, fourth)
	gsm2.cancel = func(idx uint64) (Status, error) { return coresock.StatusOK, nil }
	if err := h.core.Cancel(context.Background(), Selector{ByIndex: true, Index: fourth}); err != nil {
		t.Fatal(err)
	}
	if c := gsm2.nextCall(t); c != fmt.Sprint("cancel ", fourth) {
		t.Fatalf("call %q", c)
	}
	want := []discharge{{fourth, pms.Cancelled}}
	for _, i := range idxs {
		want = append(want, discharge{i, pms.Delivered})
	}
	h.waitDischarge(want...)
	if err := h.core.Cancel(context.Background(), Selector{ByIndex: true, Index: fourth}); !isStatus(err, coresock.StatusNotActive) {
		t.Fatalf("second cancel: %v", err)
	}
}

func isStatus(err error, st Status) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == st
}

func TestUnknownSubscriberFails(t *testing.T) {
	h := newHarness(t, Config{})
	look := newFake()
	look.find = func(string) (string, Status, error) { return "", coresock.StatusPermanentFailure, nil }
	idx := h.submit(sms(intl(numProv), intl(numNoProv), pms.ClassGSM, "to nobody"))
	h.register(look, RoleIMSILookup, "")
	h.waitDischarge(discharge{idx, pms.Failed})
}

func TestRoleClaims(t *testing.T) {
	h := newHarness(t, Config{})
	a, b := newFake(), newFake()
	h.register(a, RolePeer, "pa")
	if _, err := h.core.Register(b, RolePeer, "pa"); !isStatus(err, coresock.StatusRoleTaken) {
		t.Fatalf("second claim: %v", err)
	}
	if _, err := h.core.Register(b, RolePeer, ""); err != nil {
		t.Fatalf("upstream claim: %v", err)
	}
	if _, err := h.core.Register(b, RoleIMSILookup, "x"); !isStatus(err, coresock.StatusBadRole) {
		t.Fatalf("named lookup role: %v", err)
	}
	if _, err := h.core.Register(b, 9, ""); !isStatus(err, coresock.StatusBadRole) {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestCancelBySelectorAndChangeSRR(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassGSM, "cancel me")
	r.MR = 77
	idx := h.submit(r)
	sel := Selector{OA: intl(numProv), DA: intl(numOutside), MR: 77}
	if err := h.core.ChangeSRR(context.Background(), sel, true); err != nil {
		t.Fatal(err)
	}
	if !h.record(idx).State.SRR {
		t.Fatal("SRR not stored")
	}
	if err := h.core.Cancel(context.Background(), sel); err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{idx, pms.Cancelled})
	// The originator asked for a report: it is stored for the local... here
	// GSM submitter, so it goes to the GSM queue, addressed back.
	rep := h.record(idx + 1)
	info, ok := ParseStatusReport(rep.UD)
	if !rep.StatusReport || !ok || info.Index != idx || info.Disposition != pms.Cancelled || info.MR != 77 ||
		rep.Dst != intl(numProv) || rep.DstClass != pms.ClassGSM {
		t.Fatalf("status report %+v %+v", rep, info)
	}
	if err := h.core.Cancel(context.Background(), sel); !isStatus(err, coresock.StatusNotFound) {
		t.Fatalf("cancel again: %v", err)
	}
}

func TestStatusReportGoesBackToThePeer(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numPeerA), intl(numOutside), pms.ClassDownstream, "report back")
	r.SrcPeer = "pa"
	r.State.SRR = true
	idx := h.submit(r)
	up, pa := newFake(), newFake()
	h.register(up, RolePeer, "")
	h.register(pa, RolePeer, "pa")
	// The upstream accepted it, but a report was asked for: the
	// upstream's receipt, not its acceptance, discharges the SM.
	if c := up.nextCall(t); c != fmt.Sprint("deliver ", idx) {
		t.Fatalf("upstream got %q", c)
	}
	waitReceiptWait(t, h, idx)
	if r := h.record(idx); r.State.Disposition != pms.Active || r.State.PeerMsgID != fmt.Sprint("up-", idx) {
		t.Fatalf("after the upstream's acceptance: %v, peer id %q", r.State.Disposition, r.State.PeerMsgID)
	}
	if err := h.core.PeerReceipt(context.Background(), "", "up-999", pms.Delivered); !isStatus(err, coresock.StatusNotFound) {
		t.Fatalf("receipt for an unknown id: %v", err)
	}
	if err := h.core.PeerReceipt(context.Background(), "", fmt.Sprint("up-", idx), pms.Delivered); err != nil {
		t.Fatal(err)
	}
	h.waitDischarge(discharge{idx, pms.Delivered}, discharge{idx + 1, pms.Delivered})
	rep := h.record(idx + 1)
	if !rep.StatusReport || rep.DstClass != pms.ClassDownstream || rep.State.DstPeer != "pa" || rep.Dst != intl(numPeerA) {
		t.Fatalf("report %+v", rep)
	}
}

func TestRestartRebuildsQueues(t *testing.T) {
	h := newHarness(t, Config{})
	var want []discharge
	for i := range 5 {
		idx := h.submit(sms(intl(numProv), intl(numOutside), pms.ClassGSM, fmt.Sprint("up", i)))
		want = append(want, discharge{idx, pms.Delivered})
		idx = h.submit(sms(intl(numNoProv), intl(numPeerB), pms.ClassGSM, fmt.Sprint("pb", i)))
		want = append(want, discharge{idx, pms.Delivered})
	}
	h.submit(sms(intl(numNoProv), intl(numStore), pms.ClassGSM, "stored"))
	h.restart()
	// Nothing is lost and nothing is duplicated: the same indexes come out.
	up, pb := newFake(), newFake()
	h.register(up, RolePeer, "")
	h.register(pb, RolePeer, "pb")
	h.waitDischarge(want...)
	if n := h.store.Stats().Next; n != 11 {
		t.Fatalf("%d records after restart, want 11", n)
	}
	// A resubmission after the restart is still recognised (to a GSM
	// number: no GSM handler is registered, so it stays active).
	r := sms(intl(numProv), intl(numNoProv), pms.ClassGSM, "again")
	first := h.submit(r)
	h.restart()
	r2 := sms(intl(numProv), intl(numNoProv), pms.ClassGSM, "again")
	if idx, dup, err := h.core.Submit(context.Background(), r2, false); err != nil || !dup || idx != first {
		t.Fatalf("resubmission after restart: %d %v %v", idx, dup, err)
	}
}

func TestIMSIAddressed(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(pms.Address{TON: 5, Digits: "Operator"}, pms.Address{}, pms.ClassLocal, "ota")
	r.State.IMSI = "001010000000001"
	r.Dst = natl("0")
	idx, _, err := h.core.Submit(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	gsm := newFake()
	h.register(gsm, RoleGSMMT, "")
	if c := gsm.nextCall(t); c != fmt.Sprint("transfer ", idx) {
		t.Fatalf("call %q", c)
	}
	r2 := sms(intl(numProv), natl("0"), pms.ClassGSM, "x")
	r2.State.IMSI = "001010000000001"
	if _, _, err := h.core.Submit(context.Background(), r2, true); !isStatus(err, coresock.StatusSourceNotAllowed) {
		t.Fatalf("IMSI-addressed from GSM: %v", err)
	}
}

// TestDischargeBeforeTransferAnswer: a handler may discharge an SM before
// the core has processed its answer to SMSC_MT_TRANSFER.
func TestDischargeBeforeTransferAnswer(t *testing.T) {
	h := newHarness(t, Config{})
	look := newFake()
	look.find = func(string) (string, Status, error) { return "001010000000042", coresock.StatusOK, nil }
	h.register(look, RoleIMSILookup, "")
	gsm := newFake()
	var reg *Registration
	var regMu sync.Mutex
	gsm.transfer = func(idx uint64) (Status, error) {
		regMu.Lock()
		r := reg
		regMu.Unlock()
		if err := h.core.MTDischarge(context.Background(), r, idx, pms.Delivered, 0); err != nil {
			t.Errorf("early discharge: %v", err)
		}
		return coresock.StatusOK, nil
	}
	regMu.Lock()
	reg = h.register(gsm, RoleGSMMT, "")
	regMu.Unlock()
	idx := h.submit(sms(intl(numNoProv), intl(numProv), pms.ClassGSM, "quick"))
	h.waitDischarge(discharge{idx, pms.Delivered})
}

func TestFIFO(t *testing.T) {
	var q fifo[int]
	for i := range 5 {
		q.push(i)
	}
	for i := range 100 {
		q.pushFront(-i - 1)
	}
	want := -100
	for q.len() > 0 {
		got := q.pop()
		if got != want {
			t.Fatalf("popped %d, want %d", got, want)
		}
		want++
	}
	if want != 5 {
		t.Fatalf("ended at %d", want)
	}
}

// waitReceiptWait waits until the core lists idx as waiting for the
// upstream's receipt (the acceptance is processed on a goroutine of its
// own) and its state write has landed.
func waitReceiptWait(t *testing.T, h *harness, idx uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.core.mu.Lock()
		s := h.core.sms.get(idx)
		waiting := s != nil && s.loc == locReceiptWait
		h.core.mu.Unlock()
		if waiting && h.record(idx).State.PeerMsgID != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SM %d never waited for its receipt", idx)
		}
		runtime.Gosched()
	}
}

// TestReceiptWaitSurvivesRestart: an SM waiting for the upstream's receipt
// is still matched after a restart, and is not sent upstream again.
func TestReceiptWaitSurvivesRestart(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassLocal, "confirm me")
	r.State.SRR = true
	idx := h.submit(r)
	up := newFake()
	h.register(up, RolePeer, "")
	up.nextCall(t)
	waitReceiptWait(t, h, idx)
	h.restart()
	up2 := newFake()
	h.register(up2, RolePeer, "")
	if err := h.core.PeerReceipt(context.Background(), "", fmt.Sprint("up-", idx), pms.Failed); err != nil {
		t.Fatalf("receipt after restart: %v", err)
	}
	h.waitDischarge(discharge{idx, pms.Failed})
	select {
	case c := <-up2.calls:
		if c == fmt.Sprint("deliver ", idx) {
			t.Fatalf("the SM was sent upstream again after the restart")
		}
	default:
	}
}

// TestDuplicateEntryLifecycle: an SM's duplicate entry lasts while it is
// active, whichever way it stops being active or was never listed.
func TestDuplicateEntryLifecycle(t *testing.T) {
	h := newHarness(t, Config{})
	mk := func(dst pms.Address, text string) *pms.Record {
		return sms(intl(numProv), dst, pms.ClassGSM, text)
	}
	// Cancelled: an identical submission afterwards is a new SM, and
	// one after that is its duplicate.
	first := h.submit(mk(intl(numNoProv), "cancel me"))
	if err := h.core.Cancel(context.Background(), Selector{ByIndex: true, Index: first}); err != nil {
		t.Fatal(err)
	}
	second := h.submit(mk(intl(numNoProv), "cancel me"))
	if second == first {
		t.Fatal("resubmission after cancel got the cancelled id")
	}
	if idx, dup, err := h.core.Submit(context.Background(), mk(intl(numNoProv), "cancel me"), false); err != nil || !dup || idx != second {
		t.Fatalf("duplicate of the resubmission: %d %v %v (want %d)", idx, dup, err, second)
	}
	// Stored as delivered at once (a store-only number): never listed,
	// so never a duplicate.
	a := h.submit(mk(intl(numStore), "kept"))
	b := h.submit(mk(intl(numStore), "kept"))
	if a == b {
		t.Fatal("an SM stored as delivered was taken for a duplicate")
	}
	h.core.mu.Lock()
	listed, keys := h.core.sms.len(), len(h.core.dedup)
	h.core.mu.Unlock()
	if listed != 1 || keys != 1 {
		t.Fatalf("%d SMs listed and %d duplicate keys, want 1 and 1 (the resubmission)", listed, keys)
	}
}

// TestReceiptOvertakesItsDelivery: an upstream that answers submit_sm and
// sends the receipt at once can have the receipt matched before the
// delivery that carries the id has come back to the core. The receipt
// waits for the deliveries in flight and then finds its SM; a receipt for
// an id no delivery carries is NOT_FOUND, at once when nothing is in
// flight.
func TestReceiptOvertakesItsDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	r := sms(intl(numProv), intl(numOutside), pms.ClassLocal, "early receipt")
	r.State.SRR = true
	idx := h.submit(r)
	up := newFake()
	receipt := make(chan error, 1)
	unknown := make(chan error, 1)
	up.deliver = func(i uint64, _ *pms.Record) (string, Status, error) {
		// The receipt arrives while this delivery has not returned.
		go func() { receipt <- h.core.PeerReceipt(context.Background(), "", fmt.Sprint("up-", i), pms.Delivered) }()
		go func() { unknown <- h.core.PeerReceipt(context.Background(), "", "no-such-id", pms.Delivered) }()
		for {
			h.core.mu.Lock()
			waiting := len(h.core.peers[""].barriers)
			h.core.mu.Unlock()
			if waiting == 2 {
				break
			}
			runtime.Gosched()
		}
		return fmt.Sprint("up-", i), coresock.StatusOK, nil
	}
	h.register(up, RolePeer, "")
	if err := <-receipt; err != nil {
		t.Fatalf("the receipt that overtook its delivery: %v", err)
	}
	h.waitDischarge(discharge{idx, pms.Delivered})
	var e *Error
	if err := <-unknown; !errors.As(err, &e) || e.Status != coresock.StatusNotFound {
		t.Fatalf("unknown id after the deliveries ended: %v", err)
	}
	if err := h.core.PeerReceipt(context.Background(), "", "no-such-id", pms.Delivered); !errors.As(err, &e) || e.Status != coresock.StatusNotFound {
		t.Fatalf("unknown id with nothing in flight: %v", err)
	}
	h.core.mu.Lock()
	left := len(h.core.peers[""].barriers)
	h.core.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d barriers left", left)
	}
}

// TestPeerQueueGoesWithItsHandler: the peer table does not keep an empty
// queue for every name a handler ever registered.
func TestPeerQueueGoesWithItsHandler(t *testing.T) {
	h := newHarness(t, Config{})
	for i := range 3 {
		reg := h.register(newFake(), RolePeer, fmt.Sprint("p", i))
		h.core.Unregister(reg)
	}
	h.core.mu.Lock()
	n := len(h.core.peers)
	h.core.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d peer queues after their handlers left", n)
	}
}

// The core counts TP-UDL as the front-ends pack user data: in septets for
// the default alphabet and for the reserved alphabet and coding groups,
// which TS 23.038 §4 says to read as it.
func TestSeptetsAgreeWithSMSText(t *testing.T) {
	for dcs := range 256 {
		want := smstext.CodingOf(byte(dcs)) == smstext.CodingGSM7
		if got := septets(byte(dcs)); got != want {
			t.Errorf("DCS 0x%02X: septets %v, smstext says %v", dcs, got, want)
		}
	}
	for _, dcs := range []byte{0x00, 0x0C, 0x80, 0xBF, 0xF0} {
		if !septets(dcs) {
			t.Errorf("DCS 0x%02X is not read as septets", dcs)
		}
	}
	for _, dcs := range []byte{0x04, 0x08, 0x24, 0xE0, 0xF4} {
		if septets(dcs) {
			t.Errorf("DCS 0x%02X is read as septets", dcs)
		}
	}
}

// TestReceiptNotHeldBySlowDelivery: a receipt that overtook its delivery
// is matched as soon as that delivery comes back, not when every delivery
// in flight has (another may take as long as its call timeout).
func TestReceiptNotHeldBySlowDelivery(t *testing.T) {
	h := newHarness(t, Config{})
	slowRec := sms(intl(numProv), intl(numOutside), pms.ClassLocal, "slow")
	slowRec.State.SRR = true
	slow := h.submit(slowRec)
	fastRec := sms(intl(numProv), intl(numOutside), pms.ClassLocal, "fast")
	fastRec.State.SRR = true
	fast := h.submit(fastRec)
	up := newFake()
	release := make(chan struct{})
	receipt := make(chan error, 1)
	up.deliver = func(i uint64, _ *pms.Record) (string, Status, error) {
		if i == slow {
			<-release
			return fmt.Sprint("up-", i), coresock.StatusOK, nil
		}
		go func() { receipt <- h.core.PeerReceipt(context.Background(), "", fmt.Sprint("up-", i), pms.Delivered) }()
		for {
			h.core.mu.Lock()
			waiting := len(h.core.peers[""].barriers)
			h.core.mu.Unlock()
			if waiting == 1 {
				break
			}
			runtime.Gosched()
		}
		return fmt.Sprint("up-", i), coresock.StatusOK, nil
	}
	h.register(up, RolePeer, "")
	select {
	case err := <-receipt:
		if err != nil {
			t.Fatalf("receipt: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(release) // so that the harness can stop
		t.Fatal("the receipt waited for the slow delivery")
	}
	h.waitDischarge(discharge{fast, pms.Delivered})
	close(release)
	waitReceiptWait(t, h, slow)
}
