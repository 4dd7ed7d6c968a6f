package smpp_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"switchboard/internal/config"
	"switchboard/internal/pms"
	"switchboard/internal/smpp/pdu"
	"switchboard/internal/smstext"
)

// scriptedUpstream is an upstream SMSC for the uplink to bind to: every
// PDU it reads goes to script, whose bytes it writes back in one write (so
// that PDUs the script puts together arrive together), and every response
// it reads from us also goes to resps. seq numbers the upstream's own
// requests.
func scriptedUpstream(t *testing.T, script func(p pdu.PDU, seq *uint32) []byte) (port int, resps <-chan pdu.PDU, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := make(chan pdu.PDU, 1000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				seq := uint32(1)
				buf := make([]byte, 0, 1<<16)
				tmp := make([]byte, 1<<16)
				for {
					n, err := c.Read(tmp)
					if err != nil {
						return
					}
					buf = append(buf, tmp[:n]...)
					for {
						l, ferr := pdu.Frame(buf, 0)
						if ferr != nil || l == 0 {
							break
						}
						p, derr := pdu.Decode(buf[:l])
						buf = buf[l:]
						if derr != nil {
							continue
						}
						if p.Header.Command.IsResponse() {
							select {
							case rc <- p:
							default:
							}
						}
						if out := script(p, &seq); len(out) > 0 {
							c.Write(out)
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, rc, func() { ln.Close(); wg.Wait() }
}

// eagerUpstream sends each receipt right behind its submit_sm_resp, in
// the same write: the first submit_sm of each text gets ESME_RSYSERR (so
// that the retry takes the uplink's blocking DeliverToPeer, not its
// callback), the second a submit_sm_resp and the DELIVRD receipt for the
// id it was just given. With dataSM, the receipt is a data_sm (SMPP 3.4
// §4.7.1), with the receipt's TLVs and no text.
func eagerUpstream(t *testing.T, dataSM bool) (port int, stop func()) {
	seen := map[string]int{}
	next := 1000
	port, _, stop = scriptedUpstream(t, func(p pdu.PDU, seq *uint32) []byte {
		var out []byte
		switch b := p.Body.(type) {
		case *pdu.Bind:
			out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Sequence: p.Header.Sequence}, Body: &pdu.BindResp{Cmd: pdu.BindTransceiverResp, SystemID: "up"}})
		case *pdu.EnquireLinkBody:
			out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Sequence: p.Header.Sequence}, Body: &pdu.EnquireLinkRespBody{}})
		case *pdu.SM:
			txt := string(b.ShortMessage)
			seen[txt]++
			if seen[txt] == 1 {
				out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Status: pdu.StatusSysErr, Sequence: p.Header.Sequence}, Body: &pdu.SMResp{Cmd: pdu.SubmitSMResp}})
				break
			}
			next++
			id := fmt.Sprint(next)
			out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Sequence: p.Header.Sequence}, Body: &pdu.SMResp{Cmd: pdu.SubmitSMResp, MessageID: id}})
			*seq++
			tlvs := pdu.TLVs{pdu.TLVCString(pdu.TagReceiptedMessageID, id), pdu.TLVUint8(pdu.TagMessageState, pdu.StateDelivered)}
			var receipt pdu.Body = &pdu.SM{
				Cmd: pdu.DeliverSM, Source: b.Dest, Dest: b.Source, ESMClass: 0x04,
				ShortMessage: []byte("id:" + id + " sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 stat:DELIVRD err:000 text:"),
				TLVs:         tlvs,
			}
			if dataSM {
				receipt = &pdu.DataSMBody{Source: b.Dest, Dest: b.Source, ESMClass: 0x04, TLVs: tlvs}
			}
			out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Sequence: *seq}, Body: receipt})
		}
		return out
	})
	return port, stop
}

// TestUplinkMOBeforeBind: a deliver_sm sent before the bind_resp is
// refused with ESME_RINVBNDSTS and stores nothing; one right behind the
// bind_resp, in the same write, is taken.
func TestUplinkMOBeforeBind(t *testing.T) {
	mo := func(seq uint32, text string) []byte {
		b, _ := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Sequence: seq}, Body: &pdu.SM{
			Cmd: pdu.DeliverSM, Source: pdu.Address{TON: 1, NPI: 1, Addr: numOutside}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: numLocal},
			ShortMessage: []byte(text)}})
		return b
	}
	port, resps, stopUp := scriptedUpstream(t, func(p pdu.PDU, seq *uint32) []byte {
		switch p.Body.(type) {
		case *pdu.Bind:
			out := mo(101, "too early")
			out, _ = pdu.Append(out, pdu.PDU{Header: pdu.Header{Sequence: p.Header.Sequence}, Body: &pdu.BindResp{Cmd: pdu.BindTransceiverResp, SystemID: "up"}})
			return append(out, mo(102, "right behind")...)
		case *pdu.EnquireLinkBody:
			out, _ := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Sequence: p.Header.Sequence}, Body: &pdu.EnquireLinkRespBody{}})
			return out
		}
		return nil
	})
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", port
		c.Uplink.SystemID, c.Uplink.Password = "x", "y"
	})
	defer stopUp()
	defer w.stop()
	got := map[uint32]pdu.Status{}
	timeout := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case p := <-resps:
			if p.Header.Command == pdu.DeliverSMResp || p.Header.Command == pdu.GenericNack {
				got[p.Header.Sequence] = p.Header.Status
			}
		case <-timeout:
			t.Fatalf("responses so far: %v", got)
		}
	}
	if got[101] != pdu.StatusInvBndSts || got[102] != pdu.StatusOK {
		t.Fatalf("before bind_resp: %v, right behind it: %v; want ESME_RINVBNDSTS and OK", got[101], got[102])
	}
	n := w.srv.Store().Stats().Next
	var lens []int
	for i := range n {
		if r := w.record(t, i); r.Src.Digits == numOutside {
			lens = append(lens, int(r.UDL))
		}
	}
	if len(lens) != 1 || lens[0] != len("right behind") {
		t.Fatalf("stored from the upstream: %d SMs of %v septets, want one of %d", len(lens), lens, len("right behind"))
	}
}

// TestUplinkReceiptRightBehindItsResp: a receipt that reaches the core
// before the delivery carrying its id has come back is still matched, so
// no SM waits for a receipt that was acknowledged already.
func TestUplinkReceiptRightBehindItsResp(t *testing.T) { uplinkReceipts(t, false) }

// TestUplinkReceiptAsDataSM: a receipt sent as data_sm is applied like a
// deliver_sm one.
func TestUplinkReceiptAsDataSM(t *testing.T) { uplinkReceipts(t, true) }

func uplinkReceipts(t *testing.T, dataSM bool) {
	port, stopUp := eagerUpstream(t, dataSM)
	w := startWorld(t, func(c *config.Config) {
		c.Uplink.Host, c.Uplink.Port = "127.0.0.1", port
		c.Uplink.SystemID, c.Uplink.Password = "x", "y"
	})
	defer stopUp()
	defer w.stop()
	const n = 40
	var idx []uint64
	for i := range n {
		parts, _ := smstext.Encode(fmt.Sprintf("msg %d", i), 1, smstext.Options{})
		p := parts[0]
		r := &pms.Record{Kind: pms.KindSM, SrcClass: pms.ClassLocal,
			Src: pms.Address{TON: 1, NPI: 1, Digits: numLocal}, Dst: pms.Address{TON: 1, NPI: 1, Digits: numOutside},
			DCS: p.DCS, ESM: p.ESM, UDL: p.UDL, UD: p.UD}
		r.State.SRR = true
		id, _, err := w.srv.Core().Submit(t.Context(), r, false)
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range idx {
		for {
			r := w.record(t, id)
			if r.State.Disposition == pms.Delivered {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SM %d is %v (peer id %q, %d attempts) after its DELIVRD receipt was sent", id, r.State.Disposition, r.State.PeerMsgID, r.State.Attempts)
			}
			time.Sleep(20 * time.Millisecond) // polling the store: no signal to wait on
		}
	}
}
