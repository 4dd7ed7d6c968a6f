package tokenbucket

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	var b Bucket
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if !b.Take(t0, 1, 3) {
			t.Fatalf("take %d of a full bucket of 3 refused", i+1)
		}
	}
	if b.Take(t0, 1, 3) {
		t.Fatal("fourth take at once allowed")
	}
	if !b.Take(t0.Add(time.Second), 1, 3) || b.Take(t0.Add(time.Second), 1, 3) {
		t.Fatal("one second at 1/s must earn exactly one token")
	}
	// An hour earns no more than the burst.
	b.Refill(t0.Add(time.Hour), 1, 3)
	for i := range 3 {
		if !b.Take(t0.Add(time.Hour), 1, 3) {
			t.Fatalf("take %d after an hour refused", i+1)
		}
	}
	// A clock going back neither earns nor takes away.
	b.Refill(t0.Add(time.Hour+2*time.Second), 1, 3)
	if !b.Take(t0, 1, 3) || !b.Take(t0, 1, 3) || b.Take(t0, 1, 3) {
		t.Fatal("earlier time changed the bucket")
	}
}

// TestAvailable: Available reports a token without taking it.
func TestAvailable(t *testing.T) {
	var b Bucket
	t0 := time.Unix(1000, 0)
	if !b.Available(t0, 1, 1) || !b.Available(t0, 1, 1) {
		t.Fatal("a new bucket has no token, or Available took it")
	}
	if !b.Take(t0, 1, 1) {
		t.Fatal("Take after Available found no token")
	}
	if b.Available(t0, 1, 1) {
		t.Fatal("a token available after the only one was taken")
	}
	if !b.Available(t0.Add(time.Second), 1, 1) {
		t.Fatal("no token a second later at one per second")
	}
}
