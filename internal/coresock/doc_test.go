package coresock

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"switchboard/internal/pms"
)

const docPath = "../../docs/core-socket.md"

// docVectors returns the examples of docs/core-socket.md: each block
// preceded by <!-- vector NAME [prefix] -->, as bytes (the leading hex pairs
// of every line; commentary after them is ignored).
func docVectors(t *testing.T) map[string]struct {
	b      []byte
	prefix bool
} {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- vector ([a-z-]+)( prefix)? -->\\s*```\\n(.*?)```")
	out := map[string]struct {
		b      []byte
		prefix bool
	}{}
	hexPair := regexp.MustCompile(`^[0-9a-f]{2}$`)
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		var b []byte
		for _, line := range strings.Split(m[3], "\n") {
			for _, tok := range strings.Fields(line) {
				if !hexPair.MatchString(tok) {
					break
				}
				v, _ := hex.DecodeString(tok)
				b = append(b, v...)
			}
		}
		out[m[1]] = struct {
			b      []byte
			prefix bool
		}{b, m[2] != ""}
	}
	return out
}

func TestDocVectors(t *testing.T) {
	rec := sampleRecord(t)
	want := []struct {
		name string
		h    Header
		body Body
	}{
		{"submit-request", Header{ID: 1}, &Submit{Record: rec}},
		{"submit-response", Header{Type: TypeSubmit.Response(), ID: 1}, &SubmitResp{Index: 4711}},
		{"submit-refused", Header{Type: TypeSubmit.Response(), ID: 1, Status: StatusUpstreamNotPermitted}, nil},
		{"register-kannel", Header{ID: 2}, &RHRegister{Role: RolePeerDelivery, Name: "kannel"}},
		{"cancel-tuple", Header{ID: 3}, &Cancel{Sel: Selector{
			OA: pms.Address{TON: 1, NPI: 1, Digits: "16195550100"}, DA: pms.Address{Digits: "12345"}, MR: 7}}},
		{"deliver-response", Header{Type: TypeDeliverToPeer.Response(), ID: 0x80000003},
			&DeliverToPeerResp{PeerMsgID: "5f3a0c2e-0001"}},
		{"unknown-type", Header{Type: Type(0x55).Response(), ID: 9, Status: StatusUnknownType}, nil},
		{"hello-request", Header{ID: 1}, &hello{caps: capBatch, maxBatch: 16384}},
		{"hello-response", Header{Type: TypeHello.Response(), ID: 1}, &helloResp{caps: capBatch, maxBatch: 16384}},
	}
	vectors := docVectors(t)
	// The BATCH example is not one message: it is checked against the
	// packet the writer's packer makes of its two members.
	if v, ok := vectors["batch"]; !ok {
		t.Error("vector batch missing from the doc")
	} else {
		resp, _ := Marshal(nil, Header{Type: TypeSubmit.Response(), ID: 1}, &SubmitResp{Index: 4711})
		ping, _ := Marshal(nil, Header{ID: 0x80000001}, &Ping{})
		var k packer
		k.start(defaultMaxBatch)
		k.add(&resp)
		k.add(&ping)
		if len(k.out) != 1 || !bytes.Equal(*k.out[0], v.b) {
			t.Errorf("batch: doc shows\n% x\npacker makes %d packets, the first\n% x", v.b, len(k.out), *k.out[0])
		}
		if err := checkBatch(v.b); err != nil {
			t.Errorf("batch: %v", err)
		}
		delete(vectors, "batch")
	}
	if len(vectors) != len(want) {
		t.Errorf("doc has %d vectors, test knows %d", len(vectors), len(want))
	}
	for _, w := range want {
		v, ok := vectors[w.name]
		if !ok {
			t.Errorf("vector %s missing from the doc", w.name)
			continue
		}
		got, err := Marshal(nil, w.h, w.body)
		if err != nil {
			t.Fatal(err)
		}
		if v.prefix {
			if len(v.b) < 16 || !bytes.HasPrefix(got, v.b) {
				t.Errorf("%s: doc shows\n% x\nmessage starts\n% x", w.name, v.b, got[:min(len(got), len(v.b))])
			}
			continue
		}
		if !bytes.Equal(got, v.b) {
			t.Errorf("%s: doc shows\n% x\nmessage is\n% x", w.name, v.b, got)
		}
		if w.h.Type == 0 {
			w.h.Type = w.body.Type()
		}
		h, body, err := Unmarshal(v.b)
		if err != nil || h != w.h {
			t.Errorf("%s: doc bytes decode to %+v %#v, %v", w.name, h, body, err)
		}
	}
}

// TestDocStatusTable checks that the doc's status table lists every code
// with its name, in order.
func TestDocStatusTable(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| ([A-Z_]+) \| (.+) \|$`)
	rows := row.FindAllStringSubmatch(string(doc), -1)
	all := AllStatuses()
	if len(rows) != len(all) {
		t.Fatalf("doc status table has %d rows, want %d", len(rows), len(all))
	}
	for i, r := range rows {
		code, _ := strconv.Atoi(r[1])
		if code != i || r[2] != all[i].String() {
			t.Errorf("row %d: %s %s, want %d %s", i, r[1], r[2], i, all[i])
		}
	}
}
