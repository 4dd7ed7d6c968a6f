package voice

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The request vectors of docs/voice.md.
func TestDecodeRequestVectors(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want Request
		n    int
	}{
		{"create", "00000000 0000000000000045", Request{Cmd: CmdCreate, UID: 69}, 12},
		{"delete", "00000001 0000000000000045 0000000000000002", Request{Cmd: CmdDelete, UID: 69, Chid: 2}, 20},
		{"join", "00000002 0000000000000045 0000000000000046 0000000000000002", Request{Cmd: CmdJoin, UID: 69, Target: 70, Chid: 2}, 28},
		{"leave", "00000003 0000000000000045 0000000000000046 0000000000000002", Request{Cmd: CmdLeave, UID: 69, Target: 70, Chid: 2}, 28},
		{"register", "00000004 0000000000000000 000000007fffffff", Request{Cmd: CmdRegister, Perm: PermAdmin}, 20},
		{"unregister", "00000005 0000000000000045 0000000000000046", Request{Cmd: CmdUnregister, UID: 69, Target: 70}, 20},
		{"get_port", "00000006 0000000000000002", Request{Cmd: CmdGetPort, Chid: 2}, 12},
		{"get_channels", "00000007", Request{Cmd: CmdGetChannels}, 4},
		// The reference client's fixed 36-byte frame: CREATE with junk
		// after the one field it uses.
		{"create 36 bytes with junk", "00000000 0000000000000045 deadbeefdeadbeef cafebabecafebabe 0123456789abcdef",
			Request{Cmd: CmdCreate, UID: 69}, 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			got, n, err := DecodeRequest(b)
			if err != nil || got != c.want || n != c.n {
				t.Fatalf("DecodeRequest = %+v, %d, %v; want %+v, %d", got, n, err, c.want, c.n)
			}
			// Every proper prefix is ErrShort.
			for i := 0; i < c.n; i++ {
				if _, _, err := DecodeRequest(b[:i]); !errors.Is(err, ErrShort) {
					t.Fatalf("prefix %d: %v, want ErrShort", i, err)
				}
			}
			// AppendRequest writes the same fields, zero-padded to 36.
			enc, err := AppendRequest(nil, c.want)
			if err != nil || len(enc) != FrameSize || !bytes.Equal(enc[:c.n], b[:c.n]) || !bytes.Equal(enc[c.n:], make([]byte, FrameSize-c.n)) {
				t.Fatalf("AppendRequest = %x, %v", enc, err)
			}
		})
	}
}

func TestDecodeRequestUnknown(t *testing.T) {
	_, n, err := DecodeRequest(unhex(t, "00000008 0000000000000001"))
	if !errors.Is(err, ErrUnknownCommand) || n != 4 {
		t.Fatalf("got %d, %v", n, err)
	}
	if _, err := AppendRequest(nil, Request{Cmd: 99}); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("AppendRequest(99) = %v", err)
	}
}

func TestReplyVectors(t *testing.T) {
	if got := AppendResult(nil, 40665); !bytes.Equal(got, unhex(t, "0000000000009ed9")) {
		t.Errorf("result = %x", got)
	}
	if got := AppendError(nil, CodeAccess); !bytes.Equal(got, unhex(t, "0000000000000000 00000004")) {
		t.Errorf("error = %x", got)
	}
	// The spec's example layout: | 5 | 69 | 70 | 71 | 72 | 42 | 0 |.
	want := unhex(t, "0000000000000005 0000000000000045 0000000000000046 0000000000000047 0000000000000048 000000000000002a 0000000000000000")
	if got := AppendChannels(nil, []uint64{69, 70, 71, 72, 42}); !bytes.Equal(got, want) {
		t.Errorf("channels = %x", got)
	}
	rep, n, err := DecodeReply(CmdGetChannels, want)
	if err != nil || n != len(want) || len(rep.Channels) != 5 || rep.Channels[4] != 42 {
		t.Errorf("DecodeReply(channels) = %+v, %d, %v", rep, n, err)
	}
	if got := AppendChannels(nil, nil); !bytes.Equal(got, make([]byte, 16)) {
		t.Errorf("empty channels = %x", got)
	}
	rep, n, err = DecodeReply(CmdJoin, unhex(t, "0000000000000000 00000003"))
	if err != nil || n != 12 || rep.Result != 0 || rep.Code != CodeInvalid {
		t.Errorf("DecodeReply(error) = %+v, %d, %v", rep, n, err)
	}
	if _, _, err := DecodeReply(CmdJoin, make([]byte, 11)); !errors.Is(err, ErrShort) {
		t.Errorf("short error report: %v", err)
	}
	if _, _, err := DecodeReply(CmdGetChannels, unhex(t, "0000000000000001 0000000000000002 0000000000000001")); !errors.Is(err, ErrBadReply) {
		t.Errorf("unterminated list: %v", err)
	}
}

func TestChecksumVector(t *testing.T) {
	if got := Checksum(69, 0); got != 0x0ACD9100 {
		t.Fatalf("Checksum(69, 0) = %#x, want 0x0ACD9100", got)
	}
	if got := Checksum(69, 7); got != 0x0ACD9107 {
		t.Fatalf("Checksum(69, 7) = %#x", got)
	}
}

// The KEEPALIVE vector of docs/voice.md.
func TestSystemPacketVector(t *testing.T) {
	var b [PacketSize]byte
	PutSystem(b[:], OpKeepalive, 69, 0)
	want := append(unhex(t, "ffffffff 80000000 0000000000000045 00000000 0acd9100"), make([]byte, PacketSize-24)...)
	if !bytes.Equal(b[:], want) {
		t.Fatalf("keepalive = %x", b[:24])
	}
	p, err := DecodePacket(b[:])
	if err != nil || !p.System || p.Op != OpKeepalive || p.UID != 69 || p.Ack != 0 {
		t.Fatalf("DecodePacket = %+v, %v", p, err)
	}
	b[23] ^= 1
	if _, err := DecodePacket(b[:]); !errors.Is(err, ErrChecksum) {
		t.Fatalf("bad checksum: %v", err)
	}
	b[23] ^= 1
	b[4] = 0x00 // op 0x00000000: not negative
	if _, err := DecodePacket(b[:]); !errors.Is(err, ErrOp) {
		t.Fatalf("positive op: %v", err)
	}
	if _, err := DecodePacket(b[:511]); !errors.Is(err, ErrPacketSize) {
		t.Fatalf("short: %v", err)
	}
}

func TestUserPacket(t *testing.T) {
	var b [PacketSize]byte
	PutUser(b[:], 0x0102030405060708, []byte("hello"))
	if !bytes.Equal(b[:13], unhex(t, "0102030405060708 68656c6c6f")) {
		t.Fatalf("user packet = %x", b[:13])
	}
	p, err := DecodePacket(b[:])
	if err != nil || p.System || p.UID != 0x0102030405060708 {
		t.Fatalf("DecodePacket = %+v, %v", p, err)
	}
}

func TestSignedPacket(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	var b [PacketSize]byte
	PutSigned(b[:], key, OpAck, 69, 5, 2, 1700000000000)
	head := unhex(t, "ffffffff 80000003 0000000000000045 00000005 0acd9105 0000000000000002 0000018bcfe56800")
	if !bytes.Equal(b[:40], head) {
		t.Fatalf("signed header = %x", b[:40])
	}
	s, err := VerifySigned(pub, b[:])
	if err != nil || s.Op != OpAck || s.Chid != 2 || s.UnixMilli != 1700000000000 || s.Ack != 5 {
		t.Fatalf("VerifySigned = %+v, %v", s, err)
	}
	b[24] ^= 1 // another channel: the signature no longer holds
	if _, err := VerifySigned(pub, b[:]); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestValidUID(t *testing.T) {
	for uid, want := range map[uint64]bool{
		0: false, 1: true, 0xFFFFFFFF: false, 0xFFFFFFFF00000000: false, 0xFFFFFFFF00000001: false,
		0x00000001FFFFFFFF: false, 0xFFFFFFFEFFFFFFFE: true, 0x7FFFFFFFFFFFFFFF: false, 0x7FFFFFFF7FFFFFFF: true,
	} {
		if ValidUID(uid) != want {
			t.Errorf("ValidUID(%#x) = %v", uid, !want)
		}
	}
	h := &Hub{users: map[uint64]Perm{}}
	for range 1000 {
		uid, err := h.newUIDLocked()
		if err != nil || !ValidUID(uid) {
			t.Fatalf("newUID = %#x, %v", uid, err)
		}
	}
}

func TestFrame(t *testing.T) {
	var b [PacketSize]byte
	pcm := make([]int16, FrameSamples)
	(&Tone{Hz: 440}).Next(pcm)
	PutFrame(b[:], 9, 3, timeUnix(1e9), pcm)
	f, err := DecodeFrame(b[:])
	if err != nil || f.UID != 9 || f.Seq != 3 || f.Sent != 1e9 || len(f.PCM) != 2*FrameSamples {
		t.Fatalf("DecodeFrame = %+v, %v", f, err)
	}
	var st Stats
	for _, seq := range []uint32{0, 1, 3, 2, 5} {
		st.Add(Frame{UID: 9, Seq: seq, Sent: int64(seq) * 20e6}, int64(seq)*20e6+1e6)
	}
	s := st.Senders[9]
	if s.Received != 5 || s.Lost != 1 || s.Late != 1 || s.Jitter != 0 || s.Latency != 1e6 {
		t.Fatalf("stats = %+v", s)
	}
}
