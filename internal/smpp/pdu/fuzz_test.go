package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every failure is an
// *Error with a status and one of the sentinels, and that whatever decodes
// re-encodes and decodes again to an equal value, with re-encoding stable
// from then on. It also checks that the result does not alias the input.
// Since almost every mutation breaks command_length, and Decode rejects
// those at once, each input is also tried with command_length set to its
// real size, which lets the fuzzer reach the body decoders. Seeds live in
// testdata/fuzz/FuzzDecode, one per PDU type and per error class (see
// TestSeedCorpus).
func FuzzDecode(f *testing.F) {
	f.Add(unhex(f, "00000010 00000015 00000000 00000001"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		if len(data) >= 4 && int64(binary.BigEndian.Uint32(data)) != int64(len(data)) {
			fixed := bytes.Clone(data)
			binary.BigEndian.PutUint32(fixed, uint32(len(fixed)))
			checkDecode(t, fixed)
		}
	})
}

func checkDecode(t *testing.T, data []byte) {
	in := bytes.Clone(data)
	p, err := Decode(in)
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("Decode error %v is not an *Error", err)
		}
		if de.Status == StatusOK {
			t.Fatalf("Decode error %v has status ESME_ROK", err)
		}
		if !errors.Is(err, ErrBadLength) && !errors.Is(err, ErrUnknownCommand) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode error %v wraps no sentinel", err)
		}
		if p.Body != nil {
			t.Fatalf("failed Decode returned a body")
		}
		return
	}
	if p.Body.CommandID() != p.Header.Command {
		t.Fatalf("body %T for %s", p.Body, p.Header.Command)
	}
	if int(p.Header.Length) != len(data) {
		t.Fatalf("Header.Length %d for %d octets", p.Header.Length, len(data))
	}
	// Wipe the input: the decoded PDU must not change.
	snapshot := fmt.Sprintf("%#v", p.Body)
	for i := range in {
		in[i] = ^in[i]
	}
	if again := fmt.Sprintf("%#v", p.Body); again != snapshot {
		t.Fatalf("decoded PDU aliases its input:\n%s\n%s", snapshot, again)
	}

	enc, err := Append(nil, p)
	if err != nil {
		t.Fatalf("Append(Decode(% X)) = %v", data, err)
	}
	q, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(Append(Decode(% X))) = %v\nre-encoded: % X", data, err, enc)
	}
	p.Header.Length, q.Header.Length = 0, 0
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip changed the PDU:\n%#v\n%#v", p.Body, q.Body)
	}
	enc2, err := Append(nil, q)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding is not stable:\n% X\n% X (%v)", enc, enc2, err)
	}
	// Bytes that were not an empty-bodied response encode back to
	// themselves: the codec loses nothing.
	if len(data) > HeaderLen && !bytes.Equal(enc, data) {
		t.Fatalf("Append(Decode(b)) != b:\n% X\n% X", data, enc)
	}
}

// FuzzFrame checks Frame's contract on any buffer and limit.
func FuzzFrame(f *testing.F) {
	f.Add(unhex(f, "00000010 00000015 00000000 00000001"), 0)
	f.Add(unhex(f, "00000400"), 1024)
	f.Fuzz(func(t *testing.T, buf []byte, max int) {
		n, err := Frame(buf, max)
		lim := max
		if lim <= 0 {
			lim = DefaultMaxPDU
		}
		if len(buf) < 4 {
			if n != 0 || err != nil {
				t.Fatalf("Frame of %d octets = %d, %v", len(buf), n, err)
			}
			return
		}
		l := int64(binary.BigEndian.Uint32(buf))
		switch {
		case l < HeaderLen || l > int64(lim):
			var de *Error
			if n != 0 || !errors.As(err, &de) || de.Status != StatusInvCmdLen || !errors.Is(err, ErrBadLength) {
				t.Fatalf("Frame(length %d, max %d) = %d, %v; want ESME_RINVCMDLEN", l, lim, n, err)
			}
		case int64(len(buf)) < l:
			if n != 0 || err != nil {
				t.Fatalf("Frame(length %d, have %d) = %d, %v; want 0, nil", l, len(buf), n, err)
			}
		default:
			if int64(n) != l || err != nil {
				t.Fatalf("Frame(length %d, have %d) = %d, %v", l, len(buf), n, err)
			}
		}
	})
}

// TestSeedCorpus checks that the committed FuzzDecode seeds parse and
// cover every command, so plain `go test` exercises each PDU type through
// the fuzz target's round-trip checks.
func TestSeedCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("%d seed files, want at least 15", len(files))
	}
	seen := map[CommandID]bool{}
	for _, name := range files {
		b, err := readSeed(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p, err := Decode(b); err == nil {
			seen[p.Header.Command] = true
		}
	}
	for _, v := range vectors {
		if c := v.want.Header.Command; !seen[c] {
			t.Errorf("no seed decodes as %s", c)
		}
	}
}

// readSeed reads a corpus file holding one []byte value.
func readSeed(name string) ([]byte, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, errors.New("not a go test fuzz v1 file")
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "[]byte(")
	if !ok || !strings.HasSuffix(lit, ")") {
		return nil, errors.New("not a []byte value")
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	return []byte(s), err
}

// TestWriteSeedCorpus regenerates the vector seeds when
// PDU_WRITE_SEEDS=1, so seeds follow the vectors when they change. Seeds
// for malformed input and fuzzer finds are written by hand and kept.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("PDU_WRITE_SEEDS") != "1" {
		t.Skip("set PDU_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecode/vector-*")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for _, v := range vectors {
		name := "vector-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
				return r
			}
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return '-'
		}, v.name)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", unhex(t, v.hex...))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
