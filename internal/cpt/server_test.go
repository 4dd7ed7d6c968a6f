package cpt_test

import (
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The spec's example diagram, line by line.
func TestSpecExample(t *testing.T) {
	w := startWorld(t, testConfig(t))
	red := w.login(t, "red")
	red.send("SEND group1 Before joined")
	red.expect("ACK")

	alex := w.dial(t)
	alex.send("CONNECT alexandre")
	alex.expect("ACCEPT")
	again := w.dial(t)
	again.send("CONNECT alexandre")
	again.expect("DECLINE username_taken")

	alex.send("SEND group1 Hello ceci est un test")
	alex.expect("ACK")

	c2 := w.login(t, "client2")
	msgs := c2.sync("group1 0")
	if len(msgs) != 2 {
		t.Fatalf("SYNC group1 0 gave %q", msgs)
	}
	for i, want := range []string{"MSG group1 red \\d+ Before joined", "MSG group1 alexandre \\d+ Hello ceci est un test"} {
		if !regexp.MustCompile("^" + want + "$").MatchString(msgs[i]) {
			t.Errorf("message %d: %q, want %s", i, msgs[i], want)
		}
	}

	// A direct message, found by the recipient's bare SYNC.
	c2.send("SEND alexandre Hello")
	c2.expect("ACK")
	alex.expectMsg("alexandre", "client2", "Hello") // pushed: alexandre is online
	inbox := alex.sync("")
	if len(inbox) != 1 || !regexp.MustCompile(`^MSG alexandre client2 \d+ Hello$`).MatchString(inbox[0]) {
		t.Fatalf("bare SYNC gave %q", inbox)
	}
}

func TestDeclines(t *testing.T) {
	w := startWorld(t, testConfig(t))
	c := w.dial(t)
	c.send("SEND group1 hi")
	c.expect("DECLINE not_connected")
	c.send("SYNC group1 0")
	c.expect("DECLINE not_connected")
	c.send("HELLO")
	c.expect("DECLINE invalid_command")
	c.send("ACK")
	c.expect("DECLINE unsupported_command")
	c.send("CONNECT system")
	c.expect("DECLINE username_invalid")
	c.send("CONNECT +16195550100")
	c.expect("DECLINE username_invalid")
	c.send("CONNECT a b c")
	c.expect("DECLINE invalid_command")
	c.send("CONNECT bob")
	c.expect("ACCEPT")
	c.send("CONNECT bob2")
	c.expect("DECLINE already_logged_in")
	c.send("SEND group1")
	c.expect("DECLINE invalid_command")
	c.send("SYNC group1 -5")
	c.expect("DECLINE invalid_command")
	if _, err := c.c.Write([]byte("SEND group1 caf\xe9\n")); err != nil {
		t.Fatal(err)
	}
	c.expect("DECLINE invalid_utf8")
	c.send("SEND group1 " + strings.Repeat("x", 5000))
	c.expect("DECLINE line_too_long")
	// The connection is still usable, and CRLF is accepted.
	if _, err := c.c.Write([]byte("SEND group1 fine\r\n")); err != nil {
		t.Fatal(err)
	}
	c.expect("ACK")
	if got := c.sync("group1 0"); len(got) != 1 || !strings.HasSuffix(got[0], " fine") {
		t.Fatalf("SYNC after declines: %q", got)
	}
	for _, reason := range []string{"invalid_utf8", "line_too_long", "invalid_command", "unsupported_command"} {
		if n := w.metric(t, `switchboard_cpt_bad_input_total{reason="`+reason+`"}`); n < 1 {
			t.Errorf("bad input %s not counted", reason)
		}
	}
}

func TestPushToGroupMembers(t *testing.T) {
	w := startWorld(t, testConfig(t))
	a := w.login(t, "alice")
	b := w.login(t, "bob")
	outsider := w.login(t, "carol")
	if got := b.sync("room 0"); len(got) != 0 {
		t.Fatalf("empty room: %q", got)
	}
	a.send("SEND room hello room")
	a.expect("ACK")
	b.expectMsg("room", "alice", "hello room")
	// The sender gets no echo, and a user who never followed the room
	// gets nothing: the next line each reads is the answer to a SYNC.
	a.send("SYNC nothing 0")
	a.expect("ENDSYNC")
	outsider.send("SYNC nothing 0")
	outsider.expect("ENDSYNC")
}

// SENDs pipelined without waiting are answered in order, a refused one
// in its place.
func TestPipelinedSendsAnsweredInOrder(t *testing.T) {
	w := startWorld(t, testConfig(t))
	c := w.login(t, "pipe")
	var lines []string
	for i := 0; i < 200; i++ {
		if i == 100 {
			lines = append(lines, "SEND g")
			continue
		}
		lines = append(lines, fmt.Sprintf("SEND g m%d", i))
	}
	c.send(lines...)
	for i := 0; i < 200; i++ {
		if i == 100 {
			c.expect("DECLINE invalid_command")
			continue
		}
		c.expect("ACK")
	}
	got := c.sync("g 0")
	if len(got) != 199 {
		t.Fatalf("%d messages stored, want 199", len(got))
	}
	for i, l := range got {
		n := i
		if i >= 100 {
			n = i + 1
		}
		if !strings.HasSuffix(l, fmt.Sprintf(" m%d", n)) {
			t.Fatalf("message %d out of order: %q", i, l)
		}
	}
}

// A message longer than one record's text comes back whole.
func TestLongMessage(t *testing.T) {
	w := startWorld(t, testConfig(t))
	c := w.login(t, "long")
	text := strings.Repeat("héllo wörld ", 300) // 4200 bytes > max line
	text = text[:3000]
	c.send("SEND g " + text)
	c.expect("ACK")
	got := c.sync("g 0")
	if len(got) != 1 || !strings.HasSuffix(got[0], " "+text) {
		t.Fatalf("long message came back as %d lines", len(got))
	}
}

// A resend from a new connection after a lost ACK is not stored twice;
// the same text twice on one connection is two messages.
func TestResendIsNotStoredTwice(t *testing.T) {
	w := startWorld(t, testConfig(t))
	c := w.login(t, "dup")
	c.send("SEND g ok", "SEND g ok")
	c.expect("ACK")
	c.expect("ACK")
	c.hangUp()
	c2 := w.login(t, "dup")
	c2.send("SEND g ok")
	c2.expect("ACK")
	if got := c2.sync("g 0"); len(got) != 2 {
		t.Fatalf("%d messages stored, want 2: %q", len(got), got)
	}
}

// History and duplicate detection survive a restart.
func TestHistoryAfterRestart(t *testing.T) {
	c := testConfig(t)
	w := startWorld(t, c)
	a := w.login(t, "alice")
	a.send("SEND g one", "SEND g two", "SEND bob for bob")
	a.expect("ACK")
	a.expect("ACK")
	a.expect("ACK")
	w.stop()

	w2 := startWorld(t, c)
	a2 := w2.login(t, "alice")
	a2.send("SEND g two") // a resend: same user, text and target, new connection
	a2.expect("ACK")
	got := a2.sync("g 0")
	if len(got) != 2 || !strings.HasSuffix(got[0], " one") || !strings.HasSuffix(got[1], " two") {
		t.Fatalf("after restart: %q", got)
	}
	b := w2.login(t, "bob")
	if got := b.sync(""); len(got) != 1 || !regexp.MustCompile(`^MSG bob alice \d+ for bob$`).MatchString(got[0]) {
		t.Fatalf("bob's inbox after restart: %q", got)
	}
}

// SYNC returns what was stored strictly after the given second.
func TestSyncAfter(t *testing.T) {
	w := startWorld(t, testConfig(t))
	c := w.login(t, "s")
	c.send("SEND g old")
	c.expect("ACK")
	cut := time.Now().Unix() + 1
	for time.Now().Unix() < cut {
		time.Sleep(20 * time.Millisecond) // wait for the clock to pass a second boundary
	}
	c.send("SEND g new")
	c.expect("ACK")
	got := c.sync("g " + fmt.Sprint(cut))
	if len(got) != 1 || !strings.HasSuffix(got[0], " new") {
		t.Fatalf("SYNC g %d: %q", cut, got)
	}
	if got := c.sync("g " + fmt.Sprint(cut+3600)); len(got) != 0 {
		t.Fatalf("SYNC in the future: %q", got)
	}
	// Beyond what nanoseconds since 1970 can count (year 2262): nothing.
	if got := c.sync("g 10000000000"); len(got) != 0 {
		t.Fatalf("SYNC after the year 2286: %q", got)
	}
}

// A member that stops reading is cut off; the others keep getting
// messages.
func TestSlowConsumerIsCut(t *testing.T) {
	cfg := testConfig(t)
	cfg.CPT.SendQueue = 256 << 10
	cfg.CPT.Rate = 1e6
	w := startWorld(t, cfg)
	slow := w.dial(t)
	// A small receive window keeps the kernel from buffering megabytes
	// for the client that does not read.
	if err := slow.c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	slow.send("CONNECT slow")
	slow.expect("ACCEPT")
	fast := w.login(t, "fast")
	slow.sync("g 0")
	fast.sync("g 0")
	sender := w.login(t, "sender")
	text := strings.Repeat("z", 1000)
	// The fast reader counts what it gets until the sender stops (a
	// "MSG g sender ... end" line).
	errc := make(chan error, 1)
	go func() {
		// Not t.Fatal: this is not the test's goroutine.
		for i := 0; ; i++ {
			_ = fast.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			l, err := fast.r.ReadString('\n')
			if err != nil {
				errc <- fmt.Errorf("fast reader, message %d: %w", i, err)
				return
			}
			if strings.HasSuffix(l, " end\n") {
				errc <- nil
				return
			}
			if !strings.HasPrefix(l, "MSG g sender ") || !strings.HasSuffix(l, " "+text+"\n") {
				errc <- fmt.Errorf("fast reader, message %d: %q", i, l)
				return
			}
		}
	}()
	cut := false
	for batch := 0; batch < 500 && !cut; batch++ {
		var lines []string
		for j := 0; j < 100; j++ {
			lines = append(lines, "SEND g "+text)
		}
		sender.send(lines...)
		for j := 0; j < 100; j++ {
			sender.expect("ACK")
		}
		cut = w.metric(t, "switchboard_cpt_slow_consumers_total") > 0
	}
	if !cut {
		t.Fatal("50 MB sent and the client that reads nothing is still connected")
	}
	sender.send("SEND g end")
	sender.expect("ACK")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// Reading up to the close would take long through the small window;
	// a write to the closed socket is answered with a reset instead, which
	// ends the read at once.
	slow.send("SYNC g 0")
	slow.expectClosed()
}

// A client that asks for a long SYNC and then reads nothing is cut once
// the write timeout passes, though nothing more is queued for it, and its
// name is free again.
func TestNonReadingSyncIsCut(t *testing.T) {
	cfg := testConfig(t)
	cfg.CPT.SendQueue = 8 << 10
	cfg.CPT.Rate, cfg.CPT.Burst = 1e6, 100000
	cfg.CPT.WriteTimeout.Duration = 300 * time.Millisecond
	w := startWorld(t, cfg)
	wr := w.login(t, "writer")
	// More than the kernel buffers between us (the server's send buffer
	// grows to 4 MiB here), so that the server's writes block.
	var lines []string
	pad := strings.Repeat("p", 1000)
	for i := range 6000 {
		lines = append(lines, fmt.Sprintf("SEND quiet %d %s", i, pad))
	}
	wr.send(lines...)
	for range lines {
		wr.expect("ACK")
	}
	stuck := w.dial(t)
	if err := stuck.c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	stuck.send("CONNECT stuck", "SYNC quiet") // and never read
	deadline := time.Now().Add(20 * time.Second)
	for w.metric(t, "switchboard_cpt_slow_consumers_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that reads none of its SYNC reply is still connected")
		}
		time.Sleep(20 * time.Millisecond) // polling the metrics page: no signal to wait on
	}
	again := w.login(t, "stuck")
	// The name is free again, and the session works.
	again.send("SEND quiet hello")
	again.expect("ACK")
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.CPT.Rate = 1
	cfg.CPT.Burst = 3
	w := startWorld(t, cfg)
	c := w.login(t, "flood") // CONNECT spends one
	c.send("SYNC g 0", "SYNC g 0", "SYNC g 0")
	c.expect("ENDSYNC")
	c.expect("ENDSYNC")
	c.expect("DECLINE rate_limited")
}

// Many clients talk in one group at once: every member gets every other
// member's messages, exactly once, and the history holds them all.
func TestManyClientsOneGroup(t *testing.T) {
	cfg := testConfig(t)
	w := startWorld(t, cfg)
	const clients, each = 40, 25
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = w.login(t, fmt.Sprintf("u%d", i))
		cs[i].sync("crowd 0") // follow the group
	}
	type result struct {
		i    int
		acks int
		msgs map[string]int
		err  error
	}
	results := make(chan result, clients)
	for i, c := range cs {
		go func() {
			// Not t.Fatal: not the test's goroutine.
			var lines strings.Builder
			for j := 0; j < each; j++ {
				fmt.Fprintf(&lines, "SEND crowd from-u%d-%d\n", i, j)
			}
			if _, err := c.c.Write([]byte(lines.String())); err != nil {
				results <- result{i: i, err: err}
				return
			}
			r := result{i: i, msgs: map[string]int{}}
			want := each + (clients-1)*each
			for n := 0; n < want; n++ {
				_ = c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
				l, err := c.r.ReadString('\n')
				if err != nil {
					r.err = fmt.Errorf("after %d lines: %w", n, err)
					break
				}
				if l == "ACK\n" {
					r.acks++
					continue
				}
				f := strings.Fields(l)
				if len(f) != 5 || f[0] != "MSG" || f[1] != "crowd" {
					r.err = fmt.Errorf("line %q", l)
					break
				}
				r.msgs[f[4]]++
			}
			results <- r
		}()
	}
	for range cs {
		r := <-results
		if r.err != nil {
			t.Fatalf("client %d: %v", r.i, r.err)
		}
		if r.acks != each {
			t.Errorf("client %d: %d ACKs, want %d", r.i, r.acks, each)
		}
		for text, n := range r.msgs {
			if n != 1 || strings.HasPrefix(text, fmt.Sprintf("from-u%d-", r.i)) {
				t.Errorf("client %d got %q %d times", r.i, text, n)
			}
		}
		if len(r.msgs) != (clients-1)*each {
			t.Errorf("client %d got %d distinct messages, want %d", r.i, len(r.msgs), (clients-1)*each)
		}
	}
	if got := cs[0].sync("crowd 0"); len(got) != clients*each {
		t.Fatalf("history holds %d messages, want %d", len(got), clients*each)
	}
}

// Idle logged-in connections park without a goroutine (Linux), and wake
// for their next command, a push, or the peer's close.
func TestIdleConnectionsPark(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking is Linux-only")
	}
	w := startWorld(t, testConfig(t))
	const n = 50
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = w.login(t, fmt.Sprintf("idle%d", i))
		cs[i].sync("g 0")
	}
	// Parking follows the reply; wait for the gauge to say all are in.
	deadline := time.Now().Add(10 * time.Second)
	for w.metric(t, "switchboard_cpt_parked_connections") < n {
		if time.Now().After(deadline) {
			t.Fatalf("%v of %d idle connections parked", w.metric(t, "switchboard_cpt_parked_connections"), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A push reaches parked members (delivery does not need the reader).
	sender := w.login(t, "sender")
	sender.send("SEND g wake up")
	sender.expect("ACK")
	for _, c := range cs {
		c.expectMsg("g", "sender", "wake up")
	}
	// A command wakes a parked connection.
	cs[0].send("SEND g still here")
	cs[0].expect("ACK")
	// The peer closing wakes it too, and frees the name.
	cs[1].hangUp()
	again := w.login(t, "idle1")
	again.sync("g 0")
}

// SYNC answers the same from the cache of recent messages as from the
// store, uses the cache for a timeline's last 128 messages, and has it
// again after a restart.
func TestSyncCache(t *testing.T) {
	c := testConfig(t)
	w := startWorld(t, c)
	a := w.login(t, "alice")
	long := strings.Repeat("é", 200) // several chat segments
	for i := 0; i < 150; i++ {
		text := fmt.Sprintf("m%d", i)
		if i%10 == 0 {
			text += " " + long
		}
		a.send("SEND g " + text)
		a.expect("ACK")
	}
	want := a.sync("g 0")
	if len(want) != 150 || !strings.HasSuffix(want[149], " m149") {
		t.Fatalf("SYNC: %d lines, last %q", len(want), want[len(want)-1])
	}
	if got := w.metric(t, "switchboard_chat_history_cached_total"); got != 128 {
		t.Fatalf("%v messages from the cache, want the last 128", got)
	}
	if got := w.metric(t, "switchboard_chat_history_read_total"); got != 22 {
		t.Fatalf("%v messages read from the store, want 22", got)
	}
	w.stop()

	// After a restart the tail is cached again (filled at startup), and
	// the answer is the same.
	w2 := startWorld(t, c)
	if got := w2.login(t, "bob").sync("g 0"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after restart SYNC differs")
	}
	if got := w2.metric(t, "switchboard_chat_history_cached_total"); got != 128 {
		t.Fatalf("after restart %v from the cache, want 128", got)
	}
	w2.stop()

	// Without the cache, everything comes from the store, the same.
	c.Chat.HistoryCache = 0
	w3 := startWorld(t, c)
	if got := w3.login(t, "carol").sync("g 0"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("uncached SYNC differs")
	}
	if got := w3.metric(t, "switchboard_chat_history_read_total"); got != 150 {
		t.Fatalf("uncached: %v read from the store, want 150", got)
	}
}

// SYNC of another user is the conversation with them: what each sent the
// other, and nothing either exchanged with anyone else; the same after a
// restart, when the index is rebuilt from the store (both sides come from
// the asker's own inbox and outbox).
func TestSyncConversation(t *testing.T) {
	c := testConfig(t)
	w := startWorld(t, c)
	alice, bob, carol := w.login(t, "alice"), w.login(t, "bob"), w.login(t, "carol")
	for _, s := range []struct {
		from *client
		line string
	}{
		{alice, "SEND bob a1"}, {bob, "SEND alice b1"}, {carol, "SEND bob c1"},
		{alice, "SEND carol a2"}, {bob, "SEND carol b2"}, {alice, "SEND bob a3"},
	} {
		s.from.send(s.line)
		// Pushes of the others' messages may come first.
		for l := s.from.line(); l != "ACK"; l = s.from.line() {
			if !strings.HasPrefix(l, "MSG ") {
				t.Fatalf("%s: %q", s.line, l)
			}
		}
	}
	check := func(a *client, label string) {
		t.Helper()
		var texts []string
		for _, l := range a.sync("bob 0") {
			f := strings.Fields(l)
			if len(f) != 5 || f[0] != "MSG" || f[1] != "bob" {
				t.Fatalf("%s: line %q", label, l)
			}
			texts = append(texts, f[2]+":"+f[4])
		}
		if want := "alice:a1 bob:b1 alice:a3"; strings.Join(texts, " ") != want {
			t.Fatalf("%s: alice's conversation with bob: %q, want %q", label, strings.Join(texts, " "), want)
		}
	}
	// Bob's inbox holds much that alice has no part in; her SYNC must
	// not read through it.
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("SEND bob d%d", i))
	}
	dave := w.login(t, "dave")
	dave.send(lines...)
	for range lines {
		dave.expect("ACK")
	}
	loaded := func() float64 {
		return w.metric(t, "switchboard_chat_history_cached_total") + w.metric(t, "switchboard_chat_history_read_total")
	}
	before := loaded()
	check(alice, "running")
	if n := loaded() - before; n > 10 {
		t.Errorf("alice's SYNC of bob loaded %v messages for a conversation of 3", n)
	}
	w.stop()
	// bob is a user, not a group, while he is logged in (or has an
	// account).
	w2 := startWorld(t, c)
	w2.login(t, "bob")
	check(w2.login(t, "alice"), "after restart")
}
