package interop

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// next receives one value or fails the test when ctx ends first.
func next[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
	panic("unreachable")
}

// TestKannelQueuesWhileUnboundAndStopsClean starts Kannel against a port
// where nothing listens: it must come up, answer its admin status, queue an
// MT, and leave no process behind when the test ends.
func TestKannelQueuesWhileUnboundAndStopsClean(t *testing.T) {
	// Skipped here, not only in the subtest, or a run without the interop
	// programs would fail below for want of the pids.
	Require(t, "bearerbox")
	Require(t, "smsbox")
	var pids []int
	var confPath string
	t.Run("kannel", func(t *testing.T) {
		k := StartKannel(t, KannelConfig{SMSCPort: FreePort(t), SystemID: "kannel", Password: "pw"})
		pids = []int{k.Bearerbox.PID(), k.Smsbox.PID()}
		confPath = k.ConfigPath
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()

		txt, err := k.Admin(ctx, "status.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Kannel bearerbox version `1.4.5'", "Status: running", "SMSC connections:", "switchboard[switchboard]", "smsbox:(none), IP 127.0.0.1"} {
			if !strings.Contains(txt, want) {
				t.Errorf("status.txt lacks %q:\n%s", want, txt)
			}
		}
		st, err := k.SMSCStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(st, "online") {
			t.Fatalf("smsc %q online with nothing to bind to", st)
		}

		ans, err := k.SendSMS(ctx, KannelMT{From: "15550001111", To: "15550002222", Text: "queued", DLR: true, ID: "q1"})
		if err != nil {
			t.Fatal(err)
		}
		if ans != "3: Queued for later delivery" {
			t.Fatalf("sendsms while unbound answered %q", ans)
		}
		bad := *k
		bad.Password = "wrong"
		if ans, err := bad.SendSMS(ctx, KannelMT{From: "1", To: "2", Text: "x"}); err == nil {
			t.Fatalf("sendsms with a wrong password accepted: %q", ans)
		}
	})
	if len(pids) == 0 {
		t.Fatal("subtest did not start Kannel")
	}
	// The subtest's cleanups have run: the boxes must be gone (reaped, so
	// even a zombie would count), and no process may still name the
	// generated configuration.
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after the test (kill 0: %v)", pid, err)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(confPath)) {
			t.Errorf("%s still runs with %s: %q", p, confPath, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// TestKannelAgainstStub binds Kannel to a minimal SMPP responder and checks
// the wire behaviour docs/interop.md reports: the bind, the submit_sm
// fields, how long and UCS-2 texts are split, MO to get-url, and which
// receipts fire the dlr-url.
func TestKannelAgainstStub(t *testing.T) {
	stub := startStubSMSC(t, "pw")
	k := StartKannel(t, KannelConfig{SMSCPort: stub.port(), SystemID: "kannel", Password: "pw", SystemType: "SBTEST"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := k.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}

	b := next(t, ctx, stub.binds.Out(), "bind")
	if b.ID != cmdBindTransceiver || b.SystemID != "kannel" || b.Password != "pw" || b.SystemType != "SBTEST" ||
		b.InterfaceVersion != 0x34 || b.AddrTON != 0 || b.AddrNPI != 0 || b.AddressRange != "" {
		t.Errorf("bind: %+v", b)
	}

	send := func(m KannelMT) {
		t.Helper()
		ans, err := k.SendSMS(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if ans != "0: Accepted for delivery" {
			t.Fatalf("sendsms %s answered %q", m.ID, ans)
		}
	}
	submit := func() stubPDU { t.Helper(); return next(t, ctx, stub.submits.Out(), "submit_sm") }
	dlr := func() KannelDLR { t.Helper(); return next(t, ctx, k.DLR(), "dlr") }
	receipt := func(src, id, stat string, tlvs ...stubTLV) {
		t.Helper()
		text := "id:" + id + " sub:001 dlvrd:001 submit date:2612011800 done date:2612011801 stat:" + stat + " err:000 text:"
		if err := stub.deliver(src, "15550001111", 0x04, 0, []byte(text), tlvs...); err != nil {
			t.Fatal(err)
		}
		if r := next(t, ctx, stub.resps.Out(), "deliver_sm_resp"); r.ID != cmdDeliverSM|respBit || r.Status != 0 {
			t.Fatalf("receipt answered %+v", r)
		}
	}

	// A GSM text with a receipt asked for (dlr-mask 31).
	send(KannelMT{From: "15550001111", To: "15550002222", Text: "hello @ world €", DLR: true, ID: "m1"})
	s := submit()
	if s.SrcTON != 2 || s.SrcNPI != 1 || s.Src != "15550001111" || s.DstTON != 2 || s.DstNPI != 1 || s.Dst != "15550002222" ||
		s.ESMClass != 0x03 || s.RegisteredDelivery != 0x11 || s.DataCoding != 0 || s.ServiceType != "" ||
		hex.EncodeToString(s.ShortMessage) != "68656c6c6f200020776f726c64201b65" || len(s.TLVs) != 0 {
		t.Errorf("submit_sm m1: %+v short_message %x", s, s.ShortMessage)
	}
	if d := dlr(); d.Type != 8 || d.ID != "m1" || d.Answer != "ACK/" || d.ForeignID != "42" || d.From != "15550002222" || d.To != "15550001111" {
		t.Errorf("SMSC-ack DLR: %+v", d)
	}
	// Appendix B pads the id to 10 digits; with msg-id-type 0x00 Kannel
	// reads both ids as numbers, so "0000000042" matches "42".
	receipt("15550002222", "0000000042", "DELIVRD")
	if d := dlr(); d.Type != 1 || d.ID != "m1" || d.ForeignID != "42" || !strings.HasPrefix(d.Answer, "id:0000000042 ") {
		t.Errorf("delivered DLR: %+v", d)
	}

	// "+" numbers go as TON 1 without the "+"; dlr-mask 3 asks for a
	// final receipt only.
	send(KannelMT{From: "+15550001111", To: "+15550002222", Text: "plus", DLR: true, DLRMask: 3, ID: "m2"})
	s = submit()
	if s.SrcTON != 1 || s.Src != "15550001111" || s.DstTON != 1 || s.Dst != "15550002222" || s.RegisteredDelivery != 1 {
		t.Errorf("submit_sm m2: %+v", s)
	}
	// Kannel 1.4.5 matches a receipt by smsc-id and message id alone: a
	// receipt from another source_addr still fires the dlr-url (whose
	// from/to come from the stored MT, not from the receipt).
	receipt("19999999999", s.MessageID, "DELIVRD")
	if d := dlr(); d.Type != 1 || d.ID != "m2" || d.From != "+15550002222" {
		t.Errorf("DLR of a receipt from another source: %+v", d)
	}

	// The TLVs win over the text: receipted_message_id names the message
	// and message_state 5 (UNDELIVERABLE) makes it a failure.
	send(KannelMT{From: "15550001111", To: "15550002222", Text: "tlv", DLR: true, DLRMask: 3, ID: "m3"})
	s = submit()
	receipt("15550002222", "999", "DELIVRD", stubTLV{0x001E, append([]byte(s.MessageID), 0)}, stubTLV{0x0427, []byte{5}})
	if d := dlr(); d.Type != 2 || d.ID != "m3" || d.ForeignID != s.MessageID {
		t.Errorf("DLR by TLVs: %+v", d)
	}

	// 200 GSM characters: two parts with an 8-bit concatenation UDH,
	// 153 + 47 septets, the first part 159 octets.
	long := strings.Repeat("0123456789", 20)
	send(KannelMT{From: "15550001111", To: "15550002222", Text: long, ID: "m4"})
	p1, p2 := submit(), submit()
	checkParts(t, "GSM", p1, p2, 0, []byte(long), 153)

	// UCS-2: data_coding 8; 120 characters are 67 + 53 per part.
	send(KannelMT{From: "15550001111", To: "15550002222", Text: "Привет €", Coding: 2, ID: "m5"})
	s = submit()
	if s.DataCoding != 8 || s.ESMClass != 0x03 || hex.EncodeToString(s.ShortMessage) != "041f04400438043204350442002020ac" {
		t.Errorf("UCS-2 submit_sm: %+v %x", s, s.ShortMessage)
	}
	longU := strings.Repeat("Привет", 20)
	send(KannelMT{From: "15550001111", To: "15550002222", Text: longU, Coding: 2, ID: "m6"})
	p1, p2 = submit(), submit()
	checkParts(t, "UCS-2", p1, p2, 8, utf16BE(longU), 134)

	// MO: GSM 03.38 arrives as UTF-8 ("@" is 0x00 on the wire), UCS-2 as
	// UTF-16BE, which the harness decodes. A TON 1 source gains a "+".
	if err := stub.deliver("15550003333", "15550001111", 0, 0, []byte("hi \x00 there")); err != nil {
		t.Fatal(err)
	}
	mo := next(t, ctx, k.MO(), "GSM MO")
	if mo.From != "+15550003333" || mo.To != "+15550001111" || mo.Text != "hi @ there" || mo.Coding != 0 || mo.Charset != "UTF-8" || mo.SMSCID != KannelSMSCID {
		t.Errorf("GSM MO: %+v", mo)
	}
	if err := stub.deliver("15550003333", "15550001111", 0, 8, utf16BE("Ωμέγα ✓")); err != nil {
		t.Fatal(err)
	}
	mo = next(t, ctx, k.MO(), "UCS-2 MO")
	if mo.Text != "Ωμέγα ✓" || mo.Coding != 2 || mo.Charset != "UTF-16BE" {
		t.Errorf("UCS-2 MO: %+v", mo)
	}
	for range 2 {
		if r := next(t, ctx, stub.resps.Out(), "MO deliver_sm_resp"); r.ID != cmdDeliverSM|respBit || r.Status != 0 {
			t.Errorf("MO answered %+v", r)
		}
	}

	// On SIGTERM Kannel unbinds before it exits.
	k.Smsbox.Stop()
	k.Bearerbox.Stop()
	for {
		r := next(t, ctx, stub.resps.Out(), "unbind")
		if r.ID == cmdUnbind {
			break
		}
	}
}

// TestKannelRetriesThrottled shows what Kannel does with submit_sm errors:
// ESME_RTHROTTLED (0x58) is temporary, so the MT is sent again (after
// sms-resend-freq) with no DLR; any other error is final and fires DLR 16
// with the status in the answer.
func TestKannelRetriesThrottled(t *testing.T) {
	stub := startStubSMSC(t, "pw")
	stub.setStatus(func(n int) uint32 {
		return map[int]uint32{1: 0x58, 2: 0x0B}[n]
	})
	k := StartKannel(t, KannelConfig{SMSCPort: stub.port(), SystemID: "kannel", Password: "pw"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.SendSMS(ctx, KannelMT{From: "15550001111", To: "15550002222", Text: "again", DLR: true, ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	first := next(t, ctx, stub.submits.Out(), "first submit_sm")
	retry := next(t, ctx, stub.submits.Out(), "retried submit_sm")
	if first.Status != 0x58 || retry.Status != 0x0B || !bytes.Equal(first.ShortMessage, retry.ShortMessage) || retry.Dst != first.Dst {
		t.Fatalf("submits: %+v then %+v", first, retry)
	}
	d := next(t, ctx, k.DLR(), "dlr")
	if d.Type != 16 || d.ID != "r1" || d.Answer != "NACK/0x0000000b/Invalid Destination Address" {
		t.Fatalf("DLR: %+v", d)
	}
}

// checkParts checks a message Kannel split in two: same 8-bit reference,
// UDH 05 00 03 ref 02 seq, esm_class 0x43, more_messages_to_send on the
// first part, and the payload split after firstLen octets.
func checkParts(t *testing.T, what string, p1, p2 stubPDU, dataCoding byte, payload []byte, firstLen int) {
	t.Helper()
	for i, p := range []stubPDU{p1, p2} {
		udh := p.ShortMessage[:6]
		if p.ESMClass != 0x43 || p.DataCoding != dataCoding || !bytes.Equal(udh[:3], []byte{5, 0, 3}) ||
			udh[3] != p1.ShortMessage[3] || udh[4] != 2 || int(udh[5]) != i+1 {
			t.Errorf("%s part %d: %+v udh %x", what, i+1, p, udh)
		}
	}
	if got := append(append([]byte(nil), p1.ShortMessage[6:]...), p2.ShortMessage[6:]...); !bytes.Equal(got, payload) {
		t.Errorf("%s parts carry %x, want %x", what, got, payload)
	}
	if len(p1.ShortMessage) != 6+firstLen {
		t.Errorf("%s first part is %d octets, want %d", what, len(p1.ShortMessage), 6+firstLen)
	}
	if !bytes.Equal(p1.TLVs[0x0426], []byte{1}) || p2.TLVs[0x0426] != nil {
		t.Errorf("%s more_messages_to_send: %x / %x", what, p1.TLVs[0x0426], p2.TLVs[0x0426])
	}
}

// utf16BE encodes s as UCS-2 (UTF-16BE) octets.
func utf16BE(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}
