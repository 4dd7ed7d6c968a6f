package loadgen

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	now := time.Unix(1764614400, 123456789)
	s := Stamp(42, now, 40)
	if len(s) != 40 {
		t.Fatalf("stamp %q is %d long, want 40", s, len(s))
	}
	got, ok := ParseStamp(s)
	if !ok || !got.Equal(now) {
		t.Fatalf("ParseStamp(%q) = %v %v, want %v", s, got, ok, now)
	}
	if Stamp(43, now, 40) == s {
		t.Fatal("two sequence numbers, one text: duplicate detection would fold them")
	}
	if _, ok := ParseStamp("hello world"); ok {
		t.Fatal("an unstamped text parsed")
	}
}

func TestFill(t *testing.T) {
	for _, c := range []struct {
		pattern string
		n       int64
		want    string
	}{
		{"4420794600xx", 7, "442079460007"},
		{"4420794600xx", 1234, "442079460034"},
		{"16195550100", 5, "16195550100"},
	} {
		if got := fill(c.pattern, c.n); got != c.want {
			t.Errorf("fill(%q, %d) = %q, want %q", c.pattern, c.n, got, c.want)
		}
	}
}

// TestRunAgainstSink: the load generator binds to the sink, every submit
// it counts as accepted reached the sink, and WaitReceived signals it.
func TestRunAgainstSink(t *testing.T) {
	sink := &Sink{SystemID: "lg", Password: "pw"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sink.Serve(ln)
	defer sink.Close()
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), SystemID: "lg", Password: "pw",
		Binds: 2, Window: 4, Count: 50, Duration: 10 * time.Second, Src: "17605550001", Dst: "4420794600xx"})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 50 || len(res.Errors) != 0 {
		t.Fatalf("result %s", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sink.WaitReceived(ctx, 50); err != nil {
		t.Fatalf("sink has %d: %v", sink.Received(), err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := sink.WaitReceived(short, 51); err == nil {
		t.Fatal("WaitReceived(51) returned with 50 received")
	}
	if _, err := Run(context.Background(), Config{Addr: ln.Addr().String(), SystemID: "lg", Password: "bad",
		Count: 1, Src: "1", Dst: "2"}); err == nil {
		t.Fatal("a bind with a wrong password ran")
	}
}
