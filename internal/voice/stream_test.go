package voice

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestStreamTwoMembers(t *testing.T) {
	cfg := testHubConfig()
	cfg.Announce = true
	h := newTestHub(t, cfg, matrixUsers())
	chid := must(t)(h.Create(uAdmin))
	port := must(t)(h.Join(uNone, uNone, chid))
	must(t)(h.Join(uKick, uKick, chid))
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	reps := make([]*StreamReport, 2)
	errs := make([]error, 2)
	for i, uid := range []uint64{uNone, uKick} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Stream(ctx, StreamConfig{Host: "127.0.0.1", Port: int(port), UID: uid, Chid: chid,
				Source: &Tone{Hz: 440 + float64(i)*100}, PublicKey: testKey.Public().(ed25519.PublicKey)})
		}()
	}
	wg.Wait()
	for i, other := range []uint64{uKick, uNone} {
		r := reps[i]
		if errs[i] != nil || !r.Acked || r.BadSigs != 0 || r.Sent < 5 {
			t.Fatalf("stream %d: %+v, %v", i, r, errs[i])
		}
		s := r.Stats.Senders[other]
		if s == nil || s.Received < 3 {
			t.Fatalf("stream %d heard %+v from %d", i, s, other)
		}
	}
}

func TestStreamNoAck(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	chid := must(t)(h.Create(uAdmin))
	port := must(t)(h.Join(uNone, uNone, chid))
	// uKick has not joined: its keepalive is dropped and never acknowledged.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Stream(ctx, StreamConfig{Host: "127.0.0.1", Port: int(port), UID: uKick, Chid: chid})
	if !errors.Is(err, ErrNoAck) {
		t.Fatalf("got %v, want ErrNoAck", err)
	}
}

func TestReadWAV(t *testing.T) {
	// A 16 kHz stereo file: the source takes the left channel, every
	// second sample.
	var data []byte
	for i := range 64 {
		data = binary.LittleEndian.AppendUint16(data, uint16(i))      // left
		data = binary.LittleEndian.AppendUint16(data, uint16(1000+i)) // right
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(16000), uint32(64000), uint16(4), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	w, err := ReadWAV(&b)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 40)
	w.Next(pcm)
	for i, v := range pcm {
		if want := int16((2 * i) % 64); v != want {
			t.Fatalf("sample %d = %d, want %d", i, v, want)
		}
	}
	if _, err := ReadWAV(bytes.NewReader([]byte("RIFF\x00\x00\x00\x00WAVE"))); !errors.Is(err, ErrWAV) {
		t.Fatalf("empty wav: %v", err)
	}
}

// A signature is checked for the channel too: the server's ACK, signed for
// the channel joined, is refused by a client that expects another one, so
// a signed packet cannot be replayed into another channel.
func TestStreamRefusesSignedForOtherChannel(t *testing.T) {
	h := newTestHub(t, testHubConfig(), matrixUsers())
	chid := must(t)(h.Create(uAdmin))
	port := must(t)(h.Join(uNone, uNone, chid))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Stream(ctx, StreamConfig{Host: "127.0.0.1", Port: int(port), UID: uNone, Chid: chid + 99,
		PublicKey: testKey.Public().(ed25519.PublicKey)})
	if !errors.Is(err, ErrNoAck) {
		t.Fatalf("got %v, want ErrNoAck (the ACK for channel %d refused)", err, chid)
	}
}
