package sipcall

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// sendRaw sends one datagram to the dialer's SIP socket from conn and
// returns the first line of the answer, or "" if none came within wait.
func sendRaw(t *testing.T, conn net.PacketConn, to net.Addr, msg []byte, wait time.Duration) string {
	t.Helper()
	if _, err := conn.WriteTo(msg, to); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
	return string(line)
}

func rawRequest(method string, local net.Addr, branch string) []byte {
	return []byte(fmt.Sprintf("%s sip:pager@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=p1\r\n"+
		"To: <sip:pager@127.0.0.1>\r\n"+
		"Call-ID: probe-%s\r\n"+
		"CSeq: 1 %s\r\n"+
		"Contact: <sip:probe@%s>\r\n"+
		"Max-Forwards: 70\r\n"+
		"Content-Length: 0\r\n\r\n", method, local, branch, branch, method, local))
}

// The dialer's user agent answers OPTIONS (trunk keepalives), declines
// INVITEs, answers a BYE of no call 481, and survives junk: garbage
// datagrams are dropped and the next request is still answered.
func TestUserAgentAnswersAndSurvivesJunk(t *testing.T) {
	d := newDialer(t, "127.0.0.1:9", nil)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(d.Addr())
	local := conn.LocalAddr()

	if got := sendRaw(t, conn, to, rawRequest("OPTIONS", local, "o1"), 2*time.Second); got != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS answered %q", got)
	}
	for i, junk := range [][]byte{
		{0x80, 0x00, 0x01},
		[]byte("INVITE\r\n\r\n"),
		[]byte("SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n"),
		bytes.Repeat([]byte{0xFF}, 1500),
	} {
		if got := sendRaw(t, conn, to, junk, 100*time.Millisecond); got != "" && got != "SIP/2.0 400 Bad Request" {
			t.Fatalf("junk %d answered %q", i, got)
		}
	}
	if got := testutil.ToFloat64(d.metrics.libProblems); got < 3 {
		t.Errorf("SIP problems metric %v after 4 junk datagrams, want at least 3", got)
	}
	if got := sendRaw(t, conn, to, rawRequest("INVITE", local, "i1"), 2*time.Second); got != "SIP/2.0 603 Decline" {
		t.Fatalf("INVITE answered %q", got)
	}
	if got := sendRaw(t, conn, to, rawRequest("BYE", local, "b1"), 2*time.Second); got != "SIP/2.0 481 Call/Transaction Does Not Exist" {
		t.Fatalf("stray BYE answered %q", got)
	}
	if got := sendRaw(t, conn, to, rawRequest("OPTIONS", local, "o2"), 2*time.Second); got != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS after junk answered %q", got)
	}
}
