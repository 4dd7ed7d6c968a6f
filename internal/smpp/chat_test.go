package smpp_test

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/internal/accounts"
	"switchboard/internal/config"
	"switchboard/internal/interop"
	"switchboard/internal/servertest"
	"switchboard/internal/smpp/pdu"
)

// cptClient is a raw CPT connection for the chat side of SMS round trips.
type cptClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (w *world) cptLogin(t *testing.T, name string) *cptClient {
	t.Helper()
	nc, err := net.Dial("tcp", w.srv.CPTAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &cptClient{t: t, c: nc, r: bufio.NewReader(nc)}
	c.send("CONNECT " + name)
	c.expect("ACCEPT")
	return c
}

func (c *cptClient) send(line string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cptClient) line() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\n")
}

func (c *cptClient) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

func (c *cptClient) expectMatch(re string) {
	c.t.Helper()
	if got := c.line(); !regexp.MustCompile("^" + re + "$").MatchString(got) {
		c.t.Fatalf("got %q, want %s", got, re)
	}
}

// withAccount is a startWorld tweak that creates an account owning a
// number before the server starts.
func withAccount(t *testing.T, name, number string) func(*config.Config) {
	return func(c *config.Config) {
		db, err := accounts.Open(filepath.Join(c.DataDir, accounts.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Add(accounts.Account{Name: name, Number: number}); err != nil {
			t.Fatal(err)
		}
	}
}

// SMS at your own number, both ways, through the core and real SMPP
// sessions: a peer's SM to the local number reaches its owner as MSG (and
// stays in the inbox for SYNC); the owner's SEND to a number in another
// peer's pool leaves as a deliver_sm from the owned number.
func TestChatUserSMSRoundTrip(t *testing.T) {
	w := startWorld(t, func(c *config.Config) {
		withAccount(t, "alice", numLocal)(c)
		// carol owns a local number without the SMS-provisioned flag.
		servertest.AddLocalNumber(t, c, numUnprov, false)
		withAccount(t, "carol", numUnprov)(c)
	})
	pa := dialESME(t, w.addr)
	pa.mustBind(pdu.BindTransceiver, "pa")
	pb := dialESME(t, w.addr)
	pb.mustBind(pdu.BindTransceiver, "pb")

	// Offline: stored, found by SYNC.
	if _, st := pa.submit(numPA, numLocal, "while you were out", 0); st != pdu.StatusOK {
		t.Fatalf("submit to the local number: %v", st)
	}
	alice := w.cptLogin(t, "alice")
	alice.send("SYNC")
	alice.expectMatch(`MSG alice \+` + numPA + ` \d+ while you were out`)
	alice.expect("ENDSYNC")

	// Online: pushed.
	if _, st := pa.submit(numPA, numLocal, "hello alice", 0); st != pdu.StatusOK {
		t.Fatalf("submit to the local number: %v", st)
	}
	alice.expectMatch(`MSG alice \+` + numPA + ` \d+ hello alice`)

	// A long SMS arrives as one message.
	long := strings.Repeat("0123456789", 30)
	submitLong(t, pa, numPA, numLocal, long)
	alice.expectMatch(`MSG alice \+` + numPA + ` \d+ ` + long)

	// The conversation with the sender's number, however it is written.
	for _, target := range []string{"+" + numPA, numPA, numPA[1:]} {
		alice.send("SYNC " + target + " 0")
		for _, text := range []string{"while you were out", "hello alice", long} {
			alice.expectMatch(`MSG ` + regexp.QuoteMeta(target) + ` \+` + numPA + ` \d+ ` + text)
		}
		alice.expect("ENDSYNC")
	}

	// From chat to a peer's number, in the three NANP forms.
	for _, target := range []string{"+" + numPB, numPB, numPB[1:]} {
		alice.send("SEND " + target + " hi from chat")
		alice.expect("ACK")
		p := pb.next()
		sm, ok := p.Body.(*pdu.SM)
		if !ok || sm.Cmd != pdu.DeliverSM {
			t.Fatalf("pb got %v, want deliver_sm", p.Header.Command)
		}
		if sm.Source.Addr != numLocal || string(sm.ShortMessage) != "hi from chat" {
			t.Fatalf("deliver_sm from %q: %q", sm.Source.Addr, sm.ShortMessage)
		}
	}

	// Someone without a number cannot send SMS.
	bob := w.cptLogin(t, "bob")
	bob.send("SEND +" + numPB + " hi")
	bob.expect("DECLINE not_permitted")
	// §2.4.2: only an SMS-provisioned number may send to the upstream
	// (here a UK number, which nobody local owns).
	carol := w.cptLogin(t, "carol")
	carol.send("SEND +447700900123 hi")
	carol.expect("DECLINE not_permitted")
	alice.send("SEND +447700900123 hi")
	alice.expect("ACK")
	// An invalid NANP number is refused.
	alice.send("SEND +19115550100 hi")
	alice.expect("DECLINE unknown_target")
}

// numUnprov is a local number without the SMS-provisioned flag.
const numUnprov = "16195550199"

// submitLong sends text as a concatenated SM in two UDH parts.
func submitLong(t *testing.T, e *esme, src, dst, text string) {
	t.Helper()
	half := len(text) / 2
	for i, part := range []string{text[:half], text[half:]} {
		ud := append([]byte{5, 0, 3, 0x42, 2, byte(i + 1)}, part...)
		resp := e.call(&pdu.SM{
			Cmd: pdu.SubmitSM, Source: pdu.Address{TON: 1, NPI: 1, Addr: src}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: dst},
			ESMClass: 0x40, ShortMessage: ud,
		})
		if resp.Header.Status != pdu.StatusOK {
			t.Fatalf("part %d: %v", i+1, resp.Header.Status)
		}
	}
}

// TestChatSMSThroughUpstream: a chat user texts the outside world through
// the uplink to a real SMPP server (node smpp), and the answer from there
// comes back to them as a chat message.
func TestChatSMSThroughUpstream(t *testing.T) {
	smsc := interop.StartNodeSMSC(t, interop.NodeSMSCConfig{SystemID: "sbup", Password: "uppw", FirstMessageID: 7000})
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", smsc.Port
		c.Uplink.SystemID, c.Uplink.Password = "sbup", "uppw"
		withAccount(t, "alice", numLocal)(c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Uplink().WaitBound(ctx); err != nil {
		t.Fatalf("uplink did not bind to node smpp: %v", err)
	}
	alice := w.cptLogin(t, "alice")
	alice.send("SEND +" + numOutside + " hello world")
	alice.expect("ACK")
	ev := waitNode(t, smsc, func(e interop.NodeEvent) bool { return e.Type == "submit_sm" })
	if ev.SourceAddr != numLocal || ev.DestinationAddr != numOutside || ev.Text != "hello world" {
		t.Fatalf("submit_sm at the upstream: %s", ev.Line)
	}
	if err := smsc.SendMO(numOutside, numLocal, "hello alice"); err != nil {
		t.Fatal(err)
	}
	alice.expectMatch(`MSG alice \+` + numOutside + ` \d+ hello alice`)
}
