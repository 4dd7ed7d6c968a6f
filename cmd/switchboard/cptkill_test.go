package main

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var cptAddrRe = regexp.MustCompile(`msg="switchboard serving" .*cpt=(\S+)`)

// cptAddr is the CPT address from serve's log.
func cptAddr(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	m := cptAddrRe.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no CPT address in the log:\n%s", logs)
	}
	return m[1]
}

// TestCPTAckSurvivesKill9 proves that an ACK means the message is on disk:
// a client pipelines SENDs, serve is killed with SIGKILL while ACKs are
// flowing, and after a restart every message that was ACKed is in the
// group's history, once and in order.
func TestCPTAckSurvivesKill9(t *testing.T) {
	e := startSMSCWith(t, "rate = 1e7\nburst = 100000\n")
	addr := cptAddr(t, e.logs)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	if _, err := nc.Write([]byte("CONNECT crash\n")); err != nil {
		t.Fatal(err)
	}
	if l, _ := r.ReadString('\n'); l != "ACCEPT\n" {
		t.Fatalf("CONNECT: %q", l)
	}
	const total = 20000
	go func() {
		w := bufio.NewWriter(nc)
		for i := 0; i < total; i++ {
			fmt.Fprintf(w, "SEND g m%d\n", i)
		}
		w.Flush() // fails once the server is gone; the count below is what matters
	}()
	acked := 0
	killAt := 2000
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if l != "ACK\n" {
			t.Fatalf("answer %d: %q", acked, l)
		}
		acked++
		if acked == killAt {
			// Kill while more ACKs are on their way; keep counting the
			// ones already sent until the connection breaks.
			if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if acked == total {
			break
		}
	}
	e.cmd.Wait()
	if acked < killAt {
		t.Fatalf("only %d ACKs before the connection broke", acked)
	}

	e.start()
	addr = cptAddr(t, e.logs)
	nc2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	r2 := bufio.NewReader(nc2)
	if _, err := nc2.Write([]byte("CONNECT reader\nSYNC g 0\n")); err != nil {
		t.Fatal(err)
	}
	_ = nc2.SetReadDeadline(time.Now().Add(30 * time.Second))
	if l, _ := r2.ReadString('\n'); l != "ACCEPT\n" {
		t.Fatalf("CONNECT after restart: %q", l)
	}
	var got []string
	for {
		l, err := r2.ReadString('\n')
		if err != nil {
			t.Fatalf("SYNC after restart: %v", err)
		}
		if l == "ENDSYNC\n" {
			break
		}
		f := strings.SplitN(strings.TrimSuffix(l, "\n"), " ", 5)
		if len(f) != 5 || f[0] != "MSG" || f[1] != "g" || f[2] != "crash" {
			t.Fatalf("SYNC line %q", l)
		}
		got = append(got, f[4])
	}
	if len(got) < acked {
		t.Fatalf("%d messages ACKed before SIGKILL, %d found after restart", acked, len(got))
	}
	for i, text := range got {
		if want := fmt.Sprintf("m%d", i); text != want {
			t.Fatalf("message %d is %q, want %q (lost, duplicated or reordered)", i, text, want)
		}
	}
	// The dump tool shows them as chat records.
	chat := 0
	for _, row := range e.dumpRows() {
		if row["kind"] == "chat" {
			chat++
		}
	}
	if chat != len(got) {
		t.Fatalf("dump shows %d chat records, SYNC %d messages", chat, len(got))
	}
	t.Logf("%d ACKed, %d stored when killed", acked, len(got))
}
