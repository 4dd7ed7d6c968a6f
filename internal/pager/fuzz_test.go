package pager

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParse: the plaintext decoder never panics, and what it accepts
// encodes back to a packet that parses the same.
func FuzzParse(f *testing.F) {
	for _, v := range plainVectors() {
		b, _ := v.p.Marshal(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		out, err := p.Marshal(nil)
		if err != nil {
			return // e.g. a reason or list too long for Marshal's limits
		}
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v\n%x", err, out)
		}
		if !bytes.Equal(q.Greeting, p.Greeting) || q.Number != p.Number || q.Seq != p.Seq || q.ClientID != p.ClientID || q.Status != p.Status {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p, q)
		}
	})
}

// FuzzOpen: the decryptor rejects anything not sealed with the key, and
// never panics. A datagram that opens must be one the fuzzer derived
// from a genuine seed, which authenticates only unchanged.
func FuzzOpen(f *testing.F) {
	k, err := NewKeys([]byte(vecSecret))
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range sealVectors() {
		pt, _ := v.p.Marshal(nil)
		h := Header{Magic: v.magic, ClientID: v.client, Nonce: vecNonce()}
		b, _ := k.Seal(nil, &h, time.Unix(vecTime, 0), pt)
		f.Add(b)
	}
	genuine := map[string]bool{}
	for _, v := range sealVectors() {
		pt, _ := v.p.Marshal(nil)
		h := Header{Magic: v.magic, ClientID: v.client, Nonce: vecNonce()}
		b, _ := k.Seal(nil, &h, time.Unix(vecTime, 0), pt)
		genuine[string(b)] = true
	}
	buf := make([]byte, MaxDatagram)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, magic := range []uint8{MagicToServer, MagicToStation} {
			_, _, pt, err := k.Open(buf, b, magic)
			if err == nil && !genuine[string(b)] {
				t.Fatalf("forged datagram opened: %x -> %x", b, pt)
			}
			if err == nil {
				if _, err := Parse(pt); err != nil {
					t.Fatalf("genuine packet does not parse: %v", err)
				}
			}
		}
	})
}
