package pager

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The test vectors of docs/pager-protocol.md. TestDocVectors checks that
// the page shows these very bytes.
const (
	vecSecret = "correct horse battery staple"
	vecTime   = 1700000000
)

func vecNonce() [NonceSize]byte {
	var n [NonceSize]byte
	for i := range n {
		n[i] = byte(i)
	}
	return n
}

func vecKey(t *testing.T) []byte {
	k, err := hkdf.Key(sha256.New, []byte(vecSecret), []byte(hkdfSalt), hkdfInfo, 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type plainVector struct {
	name string
	p    Packet
	hex  string
}

func plainVectors() []plainVector {
	return []plainVector{
		{"add-number", Packet{Seq: 0x1234, Options: OptAdd, Number: 16195550100}, "123481c5547b9401040000000306"},
		{"remove-number-32bit", Packet{Seq: 0x0002, Options: OptRemove, Number: 3125550100}, "000202ba4c1c14"},
		{"call", Packet{Seq: 0x0003, Options: OptCall, Number: 16195550100}, "000388c5547b9401040000000306"},
		{"sms", Packet{Seq: 0x0001, Options: OptSMS, Number: 16195550100, Party: 12, Greeting: []byte("Table {n} is ready!")}, "000184c5547b94000c5461626c65207b6e7d2069732072656164792101040000000306"},
		{"sms-and-remove", Packet{Seq: 0x0004, Options: OptSMS | OptRemove, Number: 16195550100, Party: 0, Greeting: nil}, "000486c5547b94000001040000000306"},
		{"add-client", Packet{Seq: 0x0005, Options: OptAddClient, ClientID: 7, Proof: vecProof()}, "000510" + "00000007" + vecProofHex},
		{"ack-add", Packet{Seq: 0x1234, Options: OptAdd | OptAck, Number: 16195550100, HasStatus: true}, "1234c1c5547b9401040000000302010009"},
		{"nack-bad-number", Packet{Seq: 0x0006, Options: OptAdd | OptAck, Number: 12, HasStatus: true, Status: StatusBadNumber, Reason: "bad number"}, "0006c10000000c020b01626164206e756d6265720d"},
		{"list-request", Packet{Seq: 0x0007, HasList: true}, "000780000000000402000004"},
		{"list-answer", Packet{Seq: 0x0007, Options: OptAck, HasStatus: true, HasList: true, ListTotal: 2, List: []uint64{16195550100, 3125550100}}, "0007c0000000000201000402000005020002031000000003c5547b9400000000ba4c1c141d"},
	}
}

type sealVector struct {
	name   string
	magic  uint8
	client uint32
	p      Packet
	hex    string
}

func sealVectors() []sealVector {
	return []sealVector{
		{"sealed-add-number", MagicToServer, 0, Packet{Seq: 0x1234, Options: OptAdd, Number: 16195550100}, "a100000000000102030405060708090a0b0c0d0e0f1011121314151617dddfc0c03d009fb4a917a5df779e7c074db018d2235ed6e27bef8d465b3b55472937"},
		{"sealed-push-to-station-7", MagicToStation, 7, Packet{Seq: 0x0100, Options: OptAdd, Number: 16195550100}, "a200000007000102030405060708090a0b0c0d0e0f1011121314151617dddfc0c02e349fb4a917a5df779e7c074db03b3a7d99bbfed1333cedffa48137a6c9"},
	}
}

// vecProofHex is the "Server Secret" of client 7's add packet carried
// in a datagram with the vector nonce.
const vecProofHex = "e184e35141632d701fb2d10e99b40474c22aa6e1210aa386e8d5496556df592b3d44f17b28d7c90889c7ef5b1cbc6189a22cd43f4efae13d6e017b1db96a7599"

const vecKeyHex = "1a3c2940636a4891a48c1801bf2b590fbba65b2ad98dd5682ac97213aee0561c"

func vecProof() [SecretProofSize]byte {
	var p [SecretProofSize]byte
	b, _ := hex.DecodeString(vecProofHex)
	copy(p[:], b)
	return p
}

func vecKeys(t *testing.T) *Keys {
	t.Helper()
	k, err := NewKeys([]byte(vecSecret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyScheduleVectors(t *testing.T) {
	if got := hex.EncodeToString(vecKey(t)); got != vecKeyHex {
		t.Errorf("packet key %s, want %s", got, vecKeyHex)
	}
	n := vecNonce()
	p := vecKeys(t).Proof(7, OptAddClient, n[:])
	if got := hex.EncodeToString(p[:]); got != vecProofHex {
		t.Errorf("proof %s, want %s", got, vecProofHex)
	}
	if !vecKeys(t).CheckProof(7, OptAddClient, n[:], &p) {
		t.Error("CheckProof refuses its own proof")
	}
	if vecKeys(t).CheckProof(8, OptAddClient, n[:], &p) {
		t.Error("proof for client 7 accepted for client 8")
	}
	n[0] ^= 1
	if vecKeys(t).CheckProof(7, OptAddClient, n[:], &p) {
		t.Error("proof accepted with another nonce")
	}
}

// norm is a parsed packet as Marshal's input would be: Parse reports the
// trailer bit that Marshal sets by itself.
func norm(p Packet) Packet {
	p.Options &^= OptExt
	if len(p.Greeting) == 0 {
		p.Greeting = nil
	}
	return p
}

func TestPlainVectors(t *testing.T) {
	for _, v := range plainVectors() {
		b, err := v.p.Marshal(nil)
		if err != nil {
			t.Errorf("%s: Marshal: %v", v.name, err)
			continue
		}
		if got := hex.EncodeToString(b); got != v.hex {
			t.Errorf("%s: Marshal %s, want %s", v.name, got, v.hex)
		}
		want, _ := hex.DecodeString(v.hex)
		p, err := Parse(want)
		if err != nil {
			t.Errorf("%s: Parse: %v", v.name, err)
			continue
		}
		if exp := norm(v.p); !reflect.DeepEqual(norm(p), exp) {
			t.Errorf("%s: Parse\n got %+v\nwant %+v", v.name, norm(p), exp)
		}
	}
}

func TestSealVectors(t *testing.T) {
	k := vecKeys(t)
	for _, v := range sealVectors() {
		pt, err := v.p.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		h := Header{Magic: v.magic, ClientID: v.client, Nonce: vecNonce()}
		b, err := k.Seal(nil, &h, time.Unix(vecTime, 0), pt)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != v.hex {
			t.Errorf("%s: Seal %s, want %s", v.name, got, v.hex)
		}
		gh, ts, got, err := k.Open(make([]byte, MaxDatagram), b, v.magic)
		if err != nil || gh != h || ts.Unix() != vecTime || !bytes.Equal(got, pt) {
			t.Errorf("%s: Open = %+v %v %x %v", v.name, gh, ts, got, err)
		}
		if _, _, _, err := k.Open(make([]byte, MaxDatagram), b, v.magic^3); err == nil {
			t.Errorf("%s: opened with the other direction's magic", v.name)
		}
	}
}

// TestDocVectors checks that docs/pager-protocol.md shows every vector's
// bytes (hex, whitespace ignored inside code blocks).
func TestDocVectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/pager-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks strings.Builder
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllSubmatch(doc, -1) {
		blocks.WriteString(strings.Join(strings.Fields(string(m[1])), ""))
		blocks.WriteByte('|')
	}
	all := blocks.String()
	check := func(name, h string) {
		if !strings.Contains(all, h) {
			t.Errorf("docs/pager-protocol.md lacks vector %s: %s", name, h)
		}
	}
	for _, v := range plainVectors() {
		check(v.name, v.hex)
	}
	for _, v := range sealVectors() {
		check(v.name, v.hex)
	}
	check("key", vecKeyHex)
	check("proof", vecProofHex)
}

// TestDatagramBounds pins the sizes docs/pager-protocol.md §2 states.
func TestDatagramBounds(t *testing.T) {
	if MinDatagram != 52 || MaxDatagram != 378 || HeaderSize != 29 {
		t.Fatalf("MinDatagram %d, MaxDatagram %d, HeaderSize %d; the page says 52, 378, 29", MinDatagram, MaxDatagram, HeaderSize)
	}
	k := vecKeys(t)
	// The longest packet there is: an SMS with a full greeting and a
	// full trailer (status with the longest reason, number-high).
	p := Packet{Options: OptSMS | OptAck, Number: 16195550100, Greeting: bytes.Repeat([]byte("g"), MaxGreeting),
		HasStatus: true, Reason: strings.Repeat("r", 120)}
	pt, err := p.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Magic: MagicToStation, Nonce: vecNonce()}
	d, err := k.Seal(nil, &h, time.Unix(vecTime, 0), pt)
	if err != nil || len(d) > MaxDatagram {
		t.Fatalf("longest answer: %d bytes, %v", len(d), err)
	}
	if _, err := k.Seal(nil, &h, time.Now(), make([]byte, MaxDatagram)); err != ErrTooLong {
		t.Fatalf("oversize packet sealed: %v", err)
	}
}
