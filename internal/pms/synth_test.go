package pms

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"
)

// synthTemplates is how many distinct records writeSynthetic cycles through
// for each state; enough to vary addresses, classes and kinds.
const synthTemplates = 64

// synthRecord builds the k-th template record of a synthetic store. Its
// index and entry time are placeholders that writeSynthetic patches.
func synthRecord(k int, historical bool) *Record {
	classes := [...]Class{ClassLocal, ClassGSM, ClassUpstream, ClassDownstream}
	r := &Record{
		Kind:     KindSM,
		Validity: 86400,
		SrcClass: classes[k%len(classes)],
		DstClass: classes[(k/len(classes)+1)%len(classes)],
		Src:      Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1202555%04d", k)},
		Dst:      Address{TON: 0, NPI: 1, Digits: fmt.Sprintf("619555%04d", 1000+k)},
		MR:       uint8(k),
	}
	if k%2 == 0 {
		// "hello" in GSM 7-bit, packed.
		r.DCS, r.UDL, r.UD = 0x00, 5, []byte{0xE8, 0x32, 0x9B, 0xFD, 0x06}
	} else {
		// "hi" in UCS-2.
		r.DCS, r.UDL, r.UD = 0x08, 4, []byte{0x00, 'h', 0x00, 'i'}
	}
	if k%16 == 15 {
		r.Kind, r.SrcClass, r.DstClass = KindChat, ClassChat, ClassChat
		r.Src, r.Dst, r.UD, r.UDL, r.DCS, r.MR = Address{}, Address{}, nil, 0, 0, 0
		r.From, r.To, r.ToGroup = fmt.Sprintf("user%d", k), "lobby", true
		r.Part, r.Parts, r.Text = 1, 1, []byte("hi all")
	}
	if historical {
		r.State = State{Disposition: Delivered, Attempts: 1, Discharged: time.Unix(1700000000, 0)}
	}
	return r
}

// writeSynthetic writes a store file at path holding historical historical
// records followed by active active ones, with indexes from 0 and entry times
// start, start+step, ... It is built for size: each record is a copy of one
// of a few pre-encoded templates with its index and entry time patched and
// its body CRC recomputed, written in large buffered chunks without fsync,
// so that 10 million records take a few seconds.
func writeSynthetic(tb testing.TB, path string, historical, active int, start time.Time, step time.Duration) {
	tb.Helper()
	var tmpl [2][synthTemplates][RecordSize]byte
	for h := range 2 {
		for k := range synthTemplates {
			if err := Encode(tmpl[h][k][:], synthRecord(k, h == 0)); err != nil {
				tb.Fatalf("writeSynthetic: encode template %d: %v", k, err)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatalf("writeSynthetic: %v", err)
	}
	w := bufio.NewWriterSize(f, 4<<20)
	var rec [RecordSize]byte
	t0 := start.UnixNano()
	total := historical + active
	for i := range total {
		h := 1
		if i < historical {
			h = 0
		}
		rec = tmpl[h][i%synthTemplates]
		binary.BigEndian.PutUint64(rec[indexOff:], uint64(i))
		binary.BigEndian.PutUint64(rec[entryOff:], uint64(t0+int64(i)*int64(step)))
		binary.BigEndian.PutUint32(rec[bodyCRCOff:], bodyCRC(rec[:]))
		if _, err := w.Write(rec[:]); err != nil {
			f.Close()
			tb.Fatalf("writeSynthetic: write %s: %v", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		tb.Fatalf("writeSynthetic: write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		tb.Fatalf("writeSynthetic: close %s: %v", path, err)
	}
}
