package dump

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"switchboard/internal/gsm7"
	"switchboard/internal/pms"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Distinctive words that must never appear without ShowText.
const (
	secretGSM  = "zebra quartz"
	secretUCS  = "Привет 😀"
	secretChat = "meet at the old mill"
	secretLong = "penguin waltz"
)

// writeRecords encodes recs into a new store file and returns its path.
func writeRecords(t testing.TB, recs []*pms.Record) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pms.bin")
	buf := make([]byte, len(recs)*pms.RecordSize)
	for i, r := range recs {
		if err := pms.Encode(buf[i*pms.RecordSize:], r); err != nil {
			t.Fatalf("encode record %d: %v", i, err)
		}
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func gsmUD(t testing.TB, text string) (uint8, []byte) {
	t.Helper()
	s, err := gsm7.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	return uint8(len(s)), gsm7.Pack(s)
}

// gsmUDWithUDH builds GSM 7-bit user data behind a header, with fill bits.
func gsmUDWithUDH(t testing.TB, udh []byte, text string) (uint8, []byte) {
	t.Helper()
	s, err := gsm7.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	ud := append(append([]byte(nil), udh...), gsm7.PackWithFill(s, gsm7.FillBits(len(udh)))...)
	return uint8(gsm7.HeaderSeptets(len(udh)) + len(s)), ud
}

func ucs2(s string) []byte {
	var b []byte
	for _, r := range s {
		if r > 0xFFFF {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			b = append(b, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

// fixture is a small store exercising every display path:
//
//	0 SM gsm7, +12025550100 -> 6195550101, local->gsm, delivered
//	1 SM ucs2 (surrogate pair), 2025550100 -> +442079460000, gsm->upstream, active
//	2 SM gsm7 behind a concatenation UDH (part 2/3 from the UDH only),
//	  alphanumeric "InfoBank" -> 12025550100, upstream->gsm, active
//	3 chat alice -> #lobby, chat->chat, stored
//	4 SM 8-bit data, 6195550101 -> 6195550102, downstream->downstream, failed
//	5 SM whose body CRC is broken
//	6 SM whose state trailer CRC is broken (active), 6195550101 -> +12025550100
//	7 SM gsm7, 6195550102 -> 6195550101, local->local, stored
func fixture(t testing.TB) string {
	t.Helper()
	udl0, ud0 := gsmUD(t, secretGSM)
	udh := []byte{0x05, 0x00, 0x03, 0x7A, 0x03, 0x02}
	udl2, ud2 := gsmUDWithUDH(t, udh, secretLong)
	udl7, ud7 := gsmUD(t, "ok")
	u1 := ucs2(secretUCS)
	recs := []*pms.Record{
		{Kind: pms.KindSM, SrcClass: pms.ClassLocal, DstClass: pms.ClassGSM, DCS: 0x00, UDL: udl0, UD: ud0,
			Src: pms.Address{TON: 1, NPI: 1, Digits: "12025550100"}, Dst: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"},
			State: pms.State{Disposition: pms.Delivered, Attempts: 1, Discharged: t0.Add(time.Second), IMSI: "310150123456789"}},
		{Kind: pms.KindSM, SrcClass: pms.ClassGSM, DstClass: pms.ClassUpstream, DCS: 0x08, UDL: uint8(len(u1)), UD: u1,
			Src: pms.Address{TON: 0, NPI: 1, Digits: "2025550100"}, Dst: pms.Address{TON: 1, NPI: 1, Digits: "442079460000"}},
		{Kind: pms.KindSM, SrcClass: pms.ClassUpstream, DstClass: pms.ClassGSM, DCS: 0x00, ESM: 0x40, UDL: udl2, UD: ud2,
			Src: pms.Address{TON: pms.TONAlphanumeric, Digits: "InfoBank"}, Dst: pms.Address{TON: 0, NPI: 1, Digits: "12025550100"}},
		{Kind: pms.KindChat, SrcClass: pms.ClassChat, DstClass: pms.ClassChat, From: "alice", To: "lobby", ToGroup: true,
			Part: 1, Parts: 2, Text: []byte(secretChat), State: pms.State{Disposition: pms.Stored}},
		{Kind: pms.KindSM, SrcClass: pms.ClassDownstream, DstClass: pms.ClassDownstream, DCS: 0x04, UDL: 4, UD: []byte{0xDE, 0xAD, 0xBE, 0xEF},
			Src: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"}, Dst: pms.Address{TON: 0, NPI: 1, Digits: "6195550102"},
			State: pms.State{Disposition: pms.Failed, Reason: 9, DstPeer: "peer1"}},
		{Kind: pms.KindSM, SrcClass: pms.ClassLocal, DstClass: pms.ClassGSM, UDL: udl7, UD: ud7,
			Src: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"}, Dst: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"}},
		{Kind: pms.KindSM, SrcClass: pms.ClassLocal, DstClass: pms.ClassGSM, UDL: udl7, UD: ud7,
			Src: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"}, Dst: pms.Address{TON: 1, NPI: 1, Digits: "12025550100"}},
		{Kind: pms.KindSM, SrcClass: pms.ClassLocal, DstClass: pms.ClassLocal, UDL: udl7, UD: ud7,
			Src: pms.Address{TON: 0, NPI: 1, Digits: "6195550102"}, Dst: pms.Address{TON: 0, NPI: 1, Digits: "6195550101"},
			State: pms.State{Disposition: pms.Stored}},
	}
	for i, r := range recs {
		r.Index = 100 + uint64(i)
		r.Entry = t0.Add(time.Duration(i) * time.Minute)
	}
	path := writeRecords(t, recs)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[5*pms.RecordSize+120] ^= 0x01               // body of record 5
	data[6*pms.RecordSize+pms.RecordSize-10] ^= 0x01 // state trailer of record 6
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openFixture(t testing.TB) *pms.Reader {
	t.Helper()
	r, err := pms.OpenReader(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func runDump(t *testing.T, r *pms.Reader, o Options) (string, Stats) {
	t.Helper()
	var out bytes.Buffer
	st, err := Run(&out, r, o)
	if err != nil {
		t.Fatalf("Run(%+v): %v", o, err)
	}
	return out.String(), st
}

// jsonRows runs a JSON dump and returns the decoded lines.
func jsonRows(t *testing.T, r *pms.Reader, o Options) []map[string]any {
	t.Helper()
	o.JSON = true
	out, _ := runDump(t, r, o)
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rows = append(rows, m)
	}
	return rows
}

// indexes returns the index of each good row (bad records excluded).
func indexes(rows []map[string]any) []int {
	out := []int{}
	for _, m := range rows {
		if m["error"] == "body-crc" {
			continue
		}
		out = append(out, int(m["index"].(float64)))
	}
	return out
}

func TestFilters(t *testing.T) {
	r := openFixture(t)
	gsm, chat := pms.ClassGSM, pms.ClassChat
	cases := []struct {
		name string
		o    Options
		want []int
	}{
		{"all", Options{}, []int{100, 101, 102, 103, 104, 106, 107}},
		// +12025550100, 12025550100 (TON 0) and 2025550100 are one number.
		{"number intl", Options{Number: "+12025550100"}, []int{100, 101, 102, 106}},
		{"number national", Options{Number: "2025550100"}, []int{100, 101, 102, 106}},
		{"number other", Options{Number: "6195550102"}, []int{104, 107}},
		{"number alnum", Options{Number: "infobank"}, []int{102}},
		{"src", Options{Src: "12025550100"}, []int{100, 101}},
		{"dst", Options{Dst: "+1 2025550100"}, []int{}},
		{"dst", Options{Dst: "12025550100"}, []int{102, 106}},
		{"src and dst", Options{Src: "6195550102", Dst: "6195550101"}, []int{107}},
		{"class gsm", Options{Class: &gsm}, []int{100, 101, 102, 106}},
		{"class chat", Options{Class: &chat}, []int{103}},
		{"user", Options{User: "alice"}, []int{103}},
		{"user group", Options{User: "lobby"}, []int{103}},
		{"active", Options{State: StateActive}, []int{101, 102, 106}},
		{"historical", Options{State: StateHistorical}, []int{100, 103, 104, 107}},
		{"since", Options{Since: t0.Add(3 * time.Minute)}, []int{103, 104, 106, 107}},
		{"since between", Options{Since: t0.Add(150 * time.Second)}, []int{103, 104, 106, 107}},
		{"until", Options{Until: t0.Add(2 * time.Minute)}, []int{100, 101}},
		{"since until", Options{Since: t0.Add(time.Minute), Until: t0.Add(4*time.Minute + time.Second)}, []int{101, 102, 103, 104}},
		{"count", Options{Count: 2}, []int{100, 101}},
		{"count after filter", Options{Number: "6195550101", Count: 2}, []int{100, 104}},
		{"combined", Options{Number: "12025550100", State: StateActive, Class: &gsm}, []int{101, 102, 106}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := indexes(jsonRows(t, r, c.o)); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	r := openFixture(t)
	for _, o := range []Options{{State: "zombie"}, {Count: -1}} {
		if _, err := Run(&bytes.Buffer{}, r, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

func TestCRCErrorsReported(t *testing.T) {
	r := openFixture(t)
	out, st := runDump(t, r, Options{})
	if st.Bad != 2 || st.Scanned != 8 || st.Printed != 7 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(out, "BAD RECORD at position 5: record body CRC mismatch") {
		t.Fatalf("table lacks the body CRC line:\n%s", out)
	}
	if !strings.Contains(out, "state-crc") {
		t.Fatalf("table lacks the state CRC mark:\n%s", out)
	}
	rows := jsonRows(t, r, Options{})
	var bad, torn map[string]any
	for _, m := range rows {
		switch m["error"] {
		case "body-crc":
			bad = m
		case "state-crc":
			torn = m
		}
	}
	if bad == nil || bad["position"].(float64) != 5 || bad["index"].(float64) != 105 {
		t.Fatalf("body-crc row %v", bad)
	}
	if torn == nil || torn["index"].(float64) != 106 || torn["state"] != "active" {
		t.Fatalf("state-crc row %v", torn)
	}
	// A damaged body is shown whatever the filters, since they cannot be
	// evaluated on it.
	out, _ = runDump(t, r, Options{Number: "0000"})
	if !strings.Contains(out, "BAD RECORD at position 5") {
		t.Fatalf("filtered dump hides the bad record:\n%s", out)
	}
}

func TestTextHiddenWithoutShowText(t *testing.T) {
	r := openFixture(t)
	secrets := []string{secretGSM, secretLong, secretChat, "Привет", "deadbeef", "DEADBEEF", "050003"}
	for _, js := range []bool{false, true} {
		out, _ := runDump(t, r, Options{JSON: js})
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("json=%v: %q appears without --show-text:\n%s", js, s, out)
			}
		}
		// Nor the raw user data in any form.
		for _, raw := range [][]byte{ucs2(secretUCS), []byte(secretChat)} {
			if strings.Contains(out, string(raw)) || strings.Contains(out, hex.EncodeToString(raw)) {
				t.Errorf("json=%v: raw user data appears", js)
			}
		}
		if strings.Contains(out, `"text"`) || strings.Contains(out, "TEXT") {
			t.Errorf("json=%v: a text field or column without --show-text", js)
		}
	}
}

func TestShowText(t *testing.T) {
	r := openFixture(t)
	rows := jsonRows(t, r, Options{ShowText: true})
	byIndex := map[int]map[string]any{}
	for _, m := range rows {
		byIndex[int(m["index"].(float64))] = m
	}
	checks := []struct {
		index    int
		text     string
		alphabet string
	}{
		{100, secretGSM, "gsm7"},
		{101, secretUCS, "ucs2"},
		{102, secretLong, "gsm7"},
		{103, secretChat, ""},
		{104, "deadbeef", "8bit"},
	}
	for _, c := range checks {
		m := byIndex[c.index]
		if m["text"] != c.text {
			t.Errorf("index %d: text %q, want %q", c.index, m["text"], c.text)
		}
		if a, _ := m["alphabet"].(string); a != c.alphabet {
			t.Errorf("index %d: alphabet %q, want %q", c.index, a, c.alphabet)
		}
	}
	if byIndex[104]["text_hex"] != true {
		t.Errorf("8-bit data not marked hex: %v", byIndex[104])
	}
	if byIndex[102]["udh"] != "0500037a0302" || byIndex[102]["part"].(float64) != 2 || byIndex[102]["parts"].(float64) != 3 {
		t.Errorf("UDH row %v", byIndex[102])
	}

	out, _ := runDump(t, r, Options{ShowText: true})
	for _, want := range []string{`"zebra quartz"`, `"penguin waltz"`, `"meet at the old mill"`, "hex:deadbeef", "TEXT"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestTableFormat(t *testing.T) {
	r := openFixture(t)
	out, _ := runDump(t, r, Options{Count: 4})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("want header + 4 rows:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], "INDEX") {
		t.Fatalf("header %q", lines[0])
	}
	want := [][]string{
		{"100", "2024-03-01T12:00:00.000Z", "delivered", "local→gsm", "+12025550100", "6195550101", "0x00", "12", "-"},
		{"101", "2024-03-01T12:01:00.000Z", "active", "gsm→upstream", "2025550100", "+442079460000", "0x08", "18", "-"},
		{"102", "2024-03-01T12:02:00.000Z", "active", "upstream→gsm", "InfoBank", "12025550100", "0x00", "20", "2/3"},
		{"103", "2024-03-01T12:03:00.000Z", "stored", "chat→chat", "alice", "#lobby", "-", "20", "1/2"},
	}
	for i, w := range want {
		if got := strings.Fields(lines[i+1]); !reflect.DeepEqual(got, w) {
			t.Errorf("row %d:\n got %q\nwant %q", i, got, w)
		}
	}
}

func TestJSONFields(t *testing.T) {
	r := openFixture(t)
	rows := jsonRows(t, r, Options{Count: 1})
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	want := map[string]any{
		"position": 0.0, "index": 100.0, "kind": "sm", "entry": "2024-03-01T12:00:00.000Z",
		"state": "historical", "disposition": "delivered", "src_class": "local", "dst_class": "gsm",
		"src": "+12025550100", "src_ton": 1.0, "src_npi": 1.0, "dst": "6195550101", "dst_ton": 0.0, "dst_npi": 1.0,
		"pid": 0.0, "dcs": 0.0, "esm": 0.0, "mr": 0.0, "alphabet": "gsm7", "length": 12.0,
		"attempts": 1.0, "discharged": "2024-03-01T12:00:01.000Z", "imsi": "310150123456789",
	}
	if !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("row\n got %v\nwant %v", rows[0], want)
	}
}

func TestDecodeSMText(t *testing.T) {
	udl, ud := gsmUD(t, "hello")
	udh16 := []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01}
	udl16, ud16 := gsmUDWithUDH(t, udh16, "part one {braces}")
	ports := []byte{0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0} // application ports, 7 octets: fill 0
	udlP, udP := gsmUDWithUDH(t, ports, "@home")
	cases := []struct {
		name string
		rec  pms.Record
		want string
		hex  bool
	}{
		{"gsm7", pms.Record{DCS: 0x00, UDL: udl, UD: ud}, "hello", false},
		{"gsm7 class 1", pms.Record{DCS: 0xF1, UDL: udl, UD: ud}, "hello", false},
		{"gsm7 mwi", pms.Record{DCS: 0xC8, UDL: udl, UD: ud}, "hello", false},
		{"gsm7 16-bit concat", pms.Record{DCS: 0x00, ESM: 0x40, UDL: udl16, UD: ud16}, "part one {braces}", false},
		{"gsm7 no fill", pms.Record{DCS: 0x00, ESM: 0x43, UDL: udlP, UD: udP}, "@home", false},
		{"ucs2 class", pms.Record{DCS: 0x18, UD: ucs2("héllo 𝄞")}, "héllo 𝄞", false},
		{"ucs2 with udh", pms.Record{DCS: 0x08, ESM: 0x40, UD: append([]byte{0x05, 0x00, 0x03, 1, 2, 1}, ucs2("ok")...)}, "ok", false},
		{"ucs2 odd", pms.Record{DCS: 0x08, UD: []byte{0x00, 'a', 0x00}}, "a\uFFFD", false},
		{"ucs2 lone surrogate", pms.Record{DCS: 0x08, UD: []byte{0xD8, 0x00, 0x00, 'b'}}, "\uFFFDb", false},
		{"8bit", pms.Record{DCS: 0xF4, UD: []byte{1, 2}}, "0102", true},
		{"compressed", pms.Record{DCS: 0x20, UD: []byte{0xAB}}, "ab", true},
		{"reserved", pms.Record{DCS: 0x90, UD: []byte{0xAB}}, "ab", true},
		{"udh longer than ud", pms.Record{DCS: 0x00, ESM: 0x40, UDL: 3, UD: []byte{0x09, 1, 2}}, "090102", true},
		{"udl shorter than header", pms.Record{DCS: 0x00, ESM: 0x40, UDL: 2, UD: []byte{0x02, 0, 0, 0}}, "02000000", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeSM(&c.rec)
			if got.Text != c.want || got.Hex != c.hex {
				t.Fatalf("got %q hex=%v, want %q hex=%v", got.Text, got.Hex, c.want, c.hex)
			}
		})
	}
	// The 16-bit reference concatenation element gives the part.
	seq, total, ok := concatFromUDH(udh16)
	if !ok || seq != 1 || total != 2 {
		t.Fatalf("concatFromUDH = %d %d %v", seq, total, ok)
	}
}

func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+12025550100":  "2025550100",
		"12025550100":   "2025550100",
		"2025550100":    "2025550100",
		"+442079460000": "442079460000",
		"22025550100":   "22025550100",
		"1202555010":    "1202555010",
		"1202555010a":   "1202555010a",
		"":              "",
	} {
		if got := NormalizeNumber(in); got != want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmptyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pms.bin")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := pms.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, st := runDump(t, r, Options{Since: t0})
	if st != (Stats{}) || !strings.HasPrefix(out, "INDEX") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stats %+v output %q", st, out)
	}
}

// failWriter fails every write, as a closed pipe does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorStops(t *testing.T) {
	r := openFixture(t)
	if _, err := Run(failWriter{}, r, Options{}); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("err = %v", err)
	}
}

// A file truncated under the mapping (the server cutting a torn tail as it
// starts) is an error, not a crash.
func TestFileShrinksDuringDump(t *testing.T) {
	path := fixture(t)
	r, err := pms.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err = Run(&bytes.Buffer{}, r, Options{})
	if err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("err = %v", err)
	}
}
