package interop

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// eventOf finds the first event of a type in a client's output.
func eventOf(events []NodeEvent, typ string) (NodeEvent, bool) {
	for _, ev := range events {
		if ev.Type == typ {
			return ev, true
		}
	}
	return NodeEvent{}, false
}

func TestNodeClientBindsToNodeSMSC(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "up", Password: "secret"})

	events, err := RunNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: []NodeAction{
		BindAction("transceiver", "up", "secret"),
		UnbindAction(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := eventOf(events, "bind_transceiver_resp")
	if !ok || resp.Status != 0 {
		t.Fatalf("bind with the right password: %+v (events %v)", resp, lines(events))
	}
	if _, ok := eventOf(events, "unbind_resp"); !ok {
		t.Fatalf("no unbind_resp: %v", lines(events))
	}

	events, err = RunNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: []NodeAction{
		BindAction("transmitter", "up", "wrong"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, ok = eventOf(events, "bind_transmitter_resp")
	if !ok || resp.Status != 0x0D || resp.Result != "ESME_RBINDFAIL" {
		t.Fatalf("bind with a wrong password: %+v, want ESME_RBINDFAIL (0x0D)", resp)
	}

	// The SMSC saw both binds with the credentials as sent.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	good, err := smsc.WaitEvent(ctx, func(ev NodeEvent) bool { return ev.Type == "bind" })
	if err != nil {
		t.Fatal(err)
	}
	bad, err := smsc.WaitEvent(ctx, func(ev NodeEvent) bool { return ev.Type == "bind" })
	if err != nil {
		t.Fatal(err)
	}
	if good.SystemID != "up" || good.Password != "secret" || good.Status != 0 || good.Command != "bind_transceiver" {
		t.Errorf("good bind event: %s", good.Line)
	}
	if bad.Password != "wrong" || bad.Status != 0x0D || bad.Command != "bind_transmitter" {
		t.Errorf("bad bind event: %s", bad.Line)
	}
}

func TestNodeSubmitReachesSMSC(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "up", Password: "secret", FirstMessageID: 7000})
	ucs2 := SubmitAction("15550001111", "15550002222", "Привет")
	ucs2["data_coding"] = 8
	early := SubmitAction("15550001111", "15550002222", "too early")
	gsm := SubmitAction("15550001111", "15550002222", "hello @ world")
	gsm["registered_delivery"] = 1

	events, err := RunNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: []NodeAction{
		early,
		BindAction("transceiver", "up", "secret"),
		gsm,
		ucs2,
		UnbindAction(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var resps []NodeEvent
	for _, ev := range events {
		if ev.Type == "submit_sm_resp" {
			resps = append(resps, ev)
		}
	}
	if len(resps) != 3 {
		t.Fatalf("want 3 submit_sm_resp, got %v", lines(events))
	}
	// SMPP 3.4 §2.3: submit_sm before bind is refused.
	if resps[0].Status != 0x04 {
		t.Errorf("submit_sm before bind: status %#x, want ESME_RINVBNDSTS", resps[0].Status)
	}
	if resps[1].Status != 0 || resps[1].MessageID != "7000" || resps[2].MessageID != "7001" {
		t.Errorf("submit_sm after bind: %s / %s", resps[1].Line, resps[2].Line)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	isSubmit := func(ev NodeEvent) bool { return ev.Type == "submit_sm" }
	refused, err := smsc.WaitEvent(ctx, isSubmit)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Status != 0x04 || refused.Text != "too early" {
		t.Errorf("refused submit event: %s", refused.Line)
	}
	sub, err := smsc.WaitEvent(ctx, isSubmit)
	if err != nil {
		t.Fatal(err)
	}
	// "@" is 0x00 in GSM 03.38: the exact octets travel, unpacked.
	if sub.SourceAddr != "15550001111" || sub.DestinationAddr != "15550002222" || sub.DataCoding != 0 ||
		sub.ESMClass != 0 || sub.RegisteredDelivery != 1 || sub.MessageID != "7000" ||
		sub.ShortMessageHex != "68656c6c6f200020776f726c64" || sub.Text != "hello @ world" {
		t.Errorf("submit_sm event: %s", sub.Line)
	}
	sub, err = smsc.WaitEvent(ctx, isSubmit)
	if err != nil {
		t.Fatal(err)
	}
	if sub.DataCoding != 8 || sub.ShortMessageHex != "041f04400438043204350442" || sub.Text != "Привет" {
		t.Errorf("UCS-2 submit_sm event: %s", sub.Line)
	}
}

func TestNodeSMSCDeliversMOAndReceipt(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "up", Password: "secret", FirstMessageID: 42})
	client := StartNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: []NodeAction{
		BindAction("transceiver", "up", "secret"),
		SubmitAction("15550001111", "15550002222", "needs a receipt"),
		WaitAction("deliver_sm", 3, 20*time.Second),
		UnbindAction(),
	}})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The MO and the receipt can only go once the client is bound and has
	// submitted: the submit_sm event says both.
	if _, err := smsc.WaitEvent(ctx, func(ev NodeEvent) bool { return ev.Type == "submit_sm" }); err != nil {
		t.Fatal(err)
	}
	if err := smsc.SendMO("15550003333", "15550001111", "hi from a phone"); err != nil {
		t.Fatal(err)
	}
	if err := smsc.SendMO("15550003333", "15550001111", "Ωμέγα ünïcode ✓"); err != nil {
		t.Fatal(err)
	}
	if err := smsc.SendReceipt("42", "DELIVRD"); err != nil {
		t.Fatal(err)
	}
	events, err := client.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var delivers []NodeEvent
	for _, ev := range events {
		if ev.Type == "deliver_sm" {
			delivers = append(delivers, ev)
		}
		if ev.Type == "wait_failed" {
			t.Fatalf("client gave up waiting: %v", lines(events))
		}
	}
	if len(delivers) != 3 {
		t.Fatalf("want 3 deliver_sm, got %v", lines(events))
	}
	mo := delivers[0]
	if mo.SourceAddr != "15550003333" || mo.DestinationAddr != "15550001111" || mo.DataCoding != 0 ||
		mo.ESMClass != 0 || mo.Text != "hi from a phone" {
		t.Errorf("GSM MO: %s", mo.Line)
	}
	if u := delivers[1]; u.DataCoding != 8 || u.Text != "Ωμέγα ünïcode ✓" {
		t.Errorf("UCS-2 MO: %s", u.Line)
	}
	r := delivers[2]
	if r.ESMClass != 0x04 || r.SourceAddr != "15550002222" || r.DestinationAddr != "15550001111" ||
		r.ReceiptedMessageID != "42" || r.MessageState != 2 {
		t.Errorf("receipt: %s", r.Line)
	}
	if !receiptText.MatchString(r.Text) {
		t.Errorf("receipt text %q is not SMPP 3.4 Appendix B", r.Text)
	}

	// Each deliver_sm was answered, and the answers name their command.
	for i := range 3 {
		resp, err := smsc.WaitEvent(ctx, func(ev NodeEvent) bool { return ev.Type == "deliver_sm_resp" })
		if err != nil {
			t.Fatalf("deliver_sm_resp %d: %v", i, err)
		}
		if resp.Status != 0 || resp.Ref == 0 {
			t.Errorf("deliver_sm_resp: %s", resp.Line)
		}
	}
}

func TestNodeSMSCThrottles(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "up", Password: "secret"})
	if err := smsc.Throttle(0x58, 2); err != nil {
		t.Fatal(err)
	}
	actions := []NodeAction{BindAction("transmitter", "up", "secret")}
	for range 3 {
		actions = append(actions, SubmitAction("1", "2", "x"))
	}
	events, err := RunNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, ev := range events {
		if ev.Type == "submit_sm_resp" {
			got = append(got, ev.Status)
		}
	}
	if len(got) != 3 || got[0] != 0x58 || got[1] != 0x58 || got[2] != 0 {
		t.Fatalf("statuses %x, want [58 58 0]", got)
	}
	st, err := smsc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submits != 1 || st.Rejected != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNodeSMSCSink(t *testing.T) {
	smsc := StartNodeSMSC(t, NodeSMSCConfig{SystemID: "up", Password: "secret", Sink: true})
	actions := []NodeAction{BindAction("transceiver", "up", "secret")}
	for range 50 {
		actions = append(actions, SubmitAction("1", "2", "x"))
	}
	events, err := RunNodeClient(t, NodeClientConfig{Port: smsc.Port, Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Type == "submit_sm_resp" && ev.Status == 0 && ev.MessageID != "" {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("%d accepted submits, want 50", n)
	}
	st, err := smsc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submits != 50 {
		t.Fatalf("stats %+v", st)
	}
	// A sink prints no per-PDU events. Every line before the stats ack is
	// already in the log, so the log shows that none was a submit.
	out, err := os.ReadFile(smsc.Proc.StdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), `"type":"submit_sm"`) {
		t.Fatalf("sink printed submits:\n%s", out)
	}
}

// receiptText is the SMPP 3.4 Appendix B receipt format.
var receiptText = regexp.MustCompile(`^id:\S+ sub:\d{3} dlvrd:\d{3} submit date:\d{10} done date:\d{10} stat:[A-Z]{7} err:\d{3} text:`)

// lines renders events for failure messages.
func lines(events []NodeEvent) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Line
	}
	return out
}
