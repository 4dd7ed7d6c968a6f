package mmsg

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Datagrams sent one by one come back from Read with their bounds and
// sender; Writer sends each message as its own datagram.
func TestReadWrite(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w, err := NewWriter(cl, 8)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []string{"one", "two two", "three three three"}
	var batch []*[]byte
	for _, m := range msgs {
		b := []byte(m)
		batch = append(batch, &b)
	}
	if err := w.Write(batch); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(srv, 8, 64, true)
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []string
	for len(got) < len(msgs) {
		n, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if src := r.Source(i); src != cl.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Fatalf("source %v, want %v", src, cl.LocalAddr())
			}
			got = append(got, string(r.Packet(i)))
		}
	}
	for i := range msgs {
		if got[i] != msgs[i] {
			t.Fatalf("datagram %d: %q, want %q", i, got[i], msgs[i])
		}
	}
}
