package cptload

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"

	"switchboard/internal/datadir"
	"switchboard/internal/pms"
)

// StoreConfig describes a synthetic message store for SYNC benchmarks:
// mostly SM records, with chat messages spread over many groups and
// users' inboxes, and one target group whose messages are spread evenly
// through the whole file.
type StoreConfig struct {
	// Records is the number of records (default 10,000,000).
	Records int
	// End is about the entry time of the last record (default two
	// minutes ago); records are Step apart (default 1 ms).
	End  time.Time
	Step time.Duration
	// Groups and Users are how many groups and direct-message inboxes
	// the other chat messages spread over (defaults 10,000 and 1,000).
	Groups, Users int
	// Target is the target group's name (default "target") and
	// TargetMessages its message count (default Records/1000), one every
	// Records/TargetMessages records, the last of them near the end.
	Target         string
	TargetMessages int
}

func (c *StoreConfig) setDefaults() {
	if c.Records <= 0 {
		c.Records = 10_000_000
	}
	if c.End.IsZero() {
		c.End = time.Now().Add(-2 * time.Minute)
	}
	if c.Step <= 0 {
		c.Step = time.Millisecond
	}
	if c.Groups <= 0 {
		c.Groups = 10_000
	}
	if c.Users <= 0 {
		c.Users = 1_000
	}
	if c.Target == "" {
		c.Target = "target"
	}
	if c.TargetMessages <= 0 {
		c.TargetMessages = max(c.Records/1000, 1)
	}
}

// StoreInfo describes the store WriteStore made.
type StoreInfo struct {
	Path    string
	Records int
	// SM, LocalSM and Chat count the records by kind: SMs, the SMs among
	// them stored for local numbers (which the chat history indexes),
	// and chat messages (one record each), the target's included.
	SM, LocalSM, Chat int
	Target            string
	// TargetTimes are the entry times of the target group's messages in
	// order, in nanoseconds.
	TargetTimes []int64
}

// AfterForLast returns the SYNC `after` (whole seconds) that asks for the
// target group's last n messages, and how many messages a SYNC with it
// returns (n when the messages are at least a second apart, as with the
// defaults).
func (s StoreInfo) AfterForLast(n int) (after int64, count int) {
	t := s.TargetTimes
	if n >= len(t) {
		return 0, len(t)
	}
	after = t[len(t)-1-n] / 1e9
	for _, ns := range t {
		if ns > after*1e9 {
			count++
		}
	}
	return after, count
}

// Offsets of the record fields WriteStore patches, as docs/pms.md
// documents the layout.
const (
	bodyCRCOff = 4
	indexOff   = 8
	entryOff   = 16
	stateOff   = 224
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// patch sets a template copy's index and entry time and its body CRC-32C
// (of bytes 0–3 and 8–223).
func patch(b *[pms.RecordSize]byte, index uint64, entry int64) {
	binary.BigEndian.PutUint64(b[indexOff:], index)
	binary.BigEndian.PutUint64(b[entryOff:], uint64(entry))
	c := crc32.Update(0, castagnoli, b[:bodyCRCOff])
	c = crc32.Update(c, castagnoli, b[indexOff:stateOff])
	binary.BigEndian.PutUint32(b[bodyCRCOff:], c)
}

// WriteStore writes dir/pms.bin as cfg describes, with every record
// historical, and the historical-mb file as a running store would leave
// it, so that the store opens without scanning it. It is built for size:
// every record is a copy of one of a few thousand templates made with
// pms.Encode, its index, entry time and body CRC patched, written through
// a large buffer without fsync (10 M records, 2.5 GB, take seconds).
//
// The file's records, by position i: the target group's messages at
// every Records/TargetMessages-th position; of the others, 3 in 4 are SMs
// (one in 8 of them to one of 100 local numbers, the rest between the
// other classes) and 1 in 4 chat messages, 3 in 4 of those to a group
// and the others direct to a user.
func WriteStore(dir string, cfg StoreConfig) (StoreInfo, error) {
	cfg.setDefaults()
	spacing := cfg.Records / cfg.TargetMessages
	if spacing < 2 {
		return StoreInfo{}, fmt.Errorf("cptload: %d target messages do not fit %d records", cfg.TargetMessages, cfg.Records)
	}
	enc := func(r *pms.Record) ([pms.RecordSize]byte, error) {
		var b [pms.RecordSize]byte
		err := pms.Encode(b[:], r)
		return b, err
	}
	discharged := cfg.End.Add(-time.Hour)
	text := func(s string) []byte {
		for len(s) < 32 {
			s += " x"
		}
		return []byte(s)
	}
	chat := func(from, to string, group bool, t string) *pms.Record {
		return &pms.Record{Kind: pms.KindChat, SrcClass: pms.ClassChat, DstClass: pms.ClassChat,
			From: from, To: to, ToGroup: group, Part: 1, Parts: 1, Text: text(t),
			State: pms.State{Disposition: pms.Stored, Discharged: discharged}}
	}
	classes := [...]pms.Class{pms.ClassGSM, pms.ClassUpstream, pms.ClassDownstream}
	var smT [21][pms.RecordSize]byte
	for k := range smT {
		r := &pms.Record{Kind: pms.KindSM, Validity: 86400,
			SrcClass: classes[k%3], DstClass: classes[(k/3+1)%3],
			Src: pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1202555%04d", k)},
			Dst: pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1619555%04d", 1000+k)},
			MR:  uint8(k), DCS: 0x00, UDL: 5, UD: []byte{0xE8, 0x32, 0x9B, 0xFD, 0x06}, // "hello"
			State: pms.State{Disposition: pms.Delivered, Attempts: 1, Discharged: discharged}}
		if r.DstClass == pms.ClassDownstream {
			r.State.DstPeer = "peer"
		}
		var err error
		if smT[k], err = enc(r); err != nil {
			return StoreInfo{}, fmt.Errorf("cptload: SM template %d: %w", k, err)
		}
	}
	var localT [100][pms.RecordSize]byte
	for k := range localT {
		r := &pms.Record{Kind: pms.KindSM, Validity: 86400, SrcClass: pms.ClassGSM, DstClass: pms.ClassLocal,
			Src: pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1202555%04d", k)},
			Dst: pms.Address{TON: 1, NPI: 1, Digits: fmt.Sprintf("1619555%04d", k)},
			DCS: 0x08, UDL: 4, UD: []byte{0x00, 'h', 0x00, 'i'},
			State: pms.State{Disposition: pms.Stored, Discharged: discharged}}
		var err error
		if localT[k], err = enc(r); err != nil {
			return StoreInfo{}, fmt.Errorf("cptload: local SM template %d: %w", k, err)
		}
	}
	groupT := make([][pms.RecordSize]byte, cfg.Groups)
	for g := range groupT {
		var err error
		if groupT[g], err = enc(chat(fmt.Sprintf("u%d", g%cfg.Users), fmt.Sprintf("g%d", g), true, fmt.Sprintf("message to group %d", g))); err != nil {
			return StoreInfo{}, fmt.Errorf("cptload: group template %d: %w", g, err)
		}
	}
	userT := make([][pms.RecordSize]byte, cfg.Users)
	for u := range userT {
		var err error
		if userT[u], err = enc(chat(fmt.Sprintf("u%d", (u+1)%cfg.Users), fmt.Sprintf("u%d", u), false, fmt.Sprintf("direct message to %d", u))); err != nil {
			return StoreInfo{}, fmt.Errorf("cptload: user template %d: %w", u, err)
		}
	}
	targetT, err := enc(chat("u1", cfg.Target, true, "message to the target group"))
	if err != nil {
		return StoreInfo{}, fmt.Errorf("cptload: target template: %w", err)
	}

	// Entry times: the target's messages fall on whole seconds, so that
	// with the defaults (1 ms × 1000) they are exactly a second apart.
	n := cfg.Records
	lead := int64(spacing-1) * int64(cfg.Step)
	t0 := cfg.End.UnixNano() - int64(n-1)*int64(cfg.Step)
	t0 = (t0+lead+1e9-1)/1e9*1e9 - lead

	path := filepath.Join(dir, datadir.PMSFile)
	f, err := os.Create(path)
	if err != nil {
		return StoreInfo{}, err
	}
	info := StoreInfo{Path: path, Records: n, Target: cfg.Target, TargetTimes: make([]int64, 0, cfg.TargetMessages)}
	w := bufio.NewWriterSize(f, 4<<20)
	var rec [pms.RecordSize]byte
	for i := range n {
		entry := t0 + int64(i)*int64(cfg.Step)
		switch k := i % 32; {
		case (i+1)%spacing == 0 && len(info.TargetTimes) < cfg.TargetMessages:
			rec = targetT
			info.TargetTimes = append(info.TargetTimes, entry)
			info.Chat++
		case k < 24:
			if k%8 == 7 {
				rec = localT[(i/32)%len(localT)]
				info.LocalSM++
			} else {
				rec = smT[(i/32+k)%len(smT)]
			}
			info.SM++
		default:
			h := uint64(i) * 0x9E3779B97F4A7C15 >> 32
			if k%4 == 3 {
				rec = userT[h%uint64(cfg.Users)]
			} else {
				rec = groupT[h%uint64(cfg.Groups)]
			}
			info.Chat++
		}
		patch(&rec, uint64(i), entry)
		if _, err := w.Write(rec[:]); err != nil {
			f.Close()
			return StoreInfo{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return StoreInfo{}, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return StoreInfo{}, fmt.Errorf("close %s: %w", path, err)
	}
	if err := pms.WriteHistoricalMB(dir, uint64(n/pms.RecordsPerMB)); err != nil {
		return StoreInfo{}, err
	}
	return info, nil
}
