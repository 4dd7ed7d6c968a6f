package numbering

import (
	"errors"
	"testing"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		name   string
		ton    uint8
		digits string
		want   Number
		err    error
	}{
		// NANP in each of its three forms, including the fictional
		// 555-01XX numbers the tests use everywhere.
		{"intl nanp", 1, "16195550100", Number{NANP, "16195550100", "16195550100"}, nil},
		{"10 digits", 0, "6195550100", Number{NANP, "16195550100", "6195550100"}, nil},
		{"11 digits", 0, "16195550100", Number{NANP, "16195550100", "16195550100"}, nil},
		{"national ton is national rules", 2, "6195550100", Number{NANP, "16195550100", "6195550100"}, nil},
		{"9XX npa other than 911", 0, "9095550100", Number{NANP, "19095550100", "9095550100"}, nil},
		{"X9X npa allowed", 0, "2995550100", Number{NANP, "12995550100", "2995550100"}, nil},
		{"37X npa allowed", 0, "3725550100", Number{NANP, "13725550100", "3725550100"}, nil},
		{"NXX 555", 1, "12025550199", Number{NANP, "12025550199", "12025550199"}, nil},
		{"N1X npa allowed", 0, "2125550100", Number{NANP, "12125550100", "2125550100"}, nil},
		{"NX1 nxx allowed", 0, "6192215555", Number{NANP, "16192215555", "6192215555"}, nil},

		// International.
		{"uk", 1, "447700900123", Number{International, "447700900123", "447700900123"}, nil},
		{"one digit", 1, "7", Number{International, "7", "7"}, nil},
		{"15 digits", 1, "491234567890123", Number{International, "491234567890123", "491234567890123"}, nil},
		{"16 digits", 1, "4912345678901234", Number{}, ErrInvalidNumber},
		{"country code 0", 1, "0441234", Number{}, ErrInvalidNumber},
		{"+1 too short", 1, "1619555010", Number{}, ErrInvalidNANP},
		{"+1 too long", 1, "161955501000", Number{}, ErrInvalidNANP},

		// Short codes and specials.
		{"5-digit short code", 0, "24273", Number{Kind: ShortCode, Digits: "24273"}, nil},
		{"6-digit short code", 0, "898211", Number{Kind: ShortCode, Digits: "898211"}, nil},
		{"short code starting 1", 0, "12345", Number{}, ErrInvalidNumber},
		{"short code starting 0", 0, "012345", Number{}, ErrInvalidNumber},
		{"special", 0, "4242", Number{Kind: Special, Digits: "4242"}, nil},
		{"special starting 0", 0, "0123", Number{Kind: Special, Digits: "0123"}, nil},

		// Outright-invalid NANP numbers.
		{"npa starts 0", 0, "0195550100", Number{}, ErrInvalidNANP},
		{"npa starts 1 (11 digits)", 0, "11195550100", Number{}, ErrInvalidNANP},
		{"npa N11", 0, "9115550100", Number{}, ErrInvalidNANP},
		{"npa 211", 1, "12115550100", Number{}, ErrInvalidNANP},
		{"nxx starts 0", 0, "6190550100", Number{}, ErrInvalidNANP},
		{"nxx starts 1", 1, "16191550100", Number{}, ErrInvalidNANP},
		{"nxx N11", 0, "6194110100", Number{}, ErrInvalidNANP},
		{"nxx 911", 1, "16199110100", Number{}, ErrInvalidNANP},

		// Not numbers at all.
		{"empty", 0, "", Number{}, ErrInvalidNumber},
		{"letters", 0, "61955501OO", Number{}, ErrInvalidNumber},
		{"plus inside", 0, "+6195550100", Number{}, ErrInvalidNumber},
		{"11 digits not 1", 0, "26195550100", Number{}, ErrInvalidNumber},
		{"3 digits", 0, "911", Number{}, ErrInvalidNumber},
		{"7 digits", 0, "5550100", Number{}, ErrInvalidNumber},
		{"12 digits", 0, "161955501000", Number{}, ErrInvalidNumber},
		{"alphanumeric ton", 5, "Bank", Number{}, ErrInvalidNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDestination(tt.ton, tt.digits)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The two invalid sentinels stay distinct: routing maps them to different
// rejection reasons.
func TestInvalidSentinelsDistinct(t *testing.T) {
	_, err := ParseDestination(0, "0195550100")
	if errors.Is(err, ErrInvalidNumber) {
		t.Fatalf("invalid NANP also matches ErrInvalidNumber: %v", err)
	}
	_, err = ParseDestination(0, "123")
	if errors.Is(err, ErrInvalidNANP) {
		t.Fatalf("invalid number also matches ErrInvalidNANP: %v", err)
	}
}

// Errors never carry the digits they were given.
func TestErrorsDoNotLeakDigits(t *testing.T) {
	for _, d := range []string{"0195550100", "6194110100", "4912345678901234", "26195550100", "61955501OO"} {
		for _, ton := range []uint8{0, 1} {
			_, err := ParseDestination(ton, d)
			if err == nil {
				continue
			}
			if containsRun(err.Error(), d) {
				t.Errorf("error %q contains the number", err)
			}
		}
	}
}

func containsRun(s, digits string) bool {
	// Any 4 consecutive digits of the number in the message counts as a
	// leak.
	for i := 0; i+4 <= len(digits); i++ {
		for j := 0; j+4 <= len(s); j++ {
			if s[j:j+4] == digits[i:i+4] {
				return true
			}
		}
	}
	return false
}

func TestParseNumberArg(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		key  string
		err  error
	}{
		{"+16195550100", NANP, "16195550100", nil},
		{"16195550100", NANP, "16195550100", nil},
		{"6195550100", NANP, "16195550100", nil},
		{"4242", Special, "4242", nil},
		{"+447700900123", International, "447700900123", nil},
		{"24273", ShortCode, "24273", nil},
		{"+1619555010", NANP, "", ErrInvalidNANP},
		{"+", 0, "", ErrInvalidNumber},
		{"", 0, "", ErrInvalidNumber},
		{"619-555-0100", 0, "", ErrInvalidNumber},
		{"1619555", 0, "", ErrInvalidNumber},
	}
	for _, tt := range tests {
		n, err := ParseNumberArg(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: err = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || n.Kind != tt.kind || n.Key() != tt.key {
			t.Errorf("%q: got %+v, %v; want %v %s", tt.in, n, err, tt.kind, tt.key)
		}
	}
	n, _ := ParseNumberArg("6195550100")
	if n.String() != "+16195550100" {
		t.Errorf("String() = %q", n.String())
	}
}

func TestValidateNANP(t *testing.T) {
	if err := ValidateNANP("16195550100"); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]error{
		"6195550100":   ErrInvalidNumber,
		"26195550100":  ErrInvalidNumber,
		"1619555010a":  ErrInvalidNumber,
		"16191550100":  ErrInvalidNANP,
		"19115550100":  ErrInvalidNANP,
		"161955501000": ErrInvalidNumber,
	} {
		if err := ValidateNANP(in); !errors.Is(err, want) {
			t.Errorf("%q: err = %v, want %v", in, err, want)
		}
	}
}

func TestParsePoolEntry(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"1619555", "1619555", nil},
		{"+1619555", "1619555", nil},
		{"16", "16", nil},
		{"1619", "1619", nil},
		{"16195550100", "16195550100", nil},
		{"+16195550100", "16195550100", nil},
		{"6195550100", "16195550100", nil},
		{"161955501", "161955501", nil},
		{"1619555010", "1619555010", nil}, // 9 digits after 1: a prefix of 10 numbers
		{"1", "", ErrInvalidNumber},
		{"", "", ErrInvalidNumber},
		{"+", "", ErrInvalidNumber},
		{"619555", "", ErrInvalidNumber},
		{"161955501000", "", ErrInvalidNumber},
		{"1619a", "", ErrInvalidNumber},
		{"+6195550100", "", ErrInvalidNumber},
		{"10", "", ErrInvalidNANP},
		{"11", "", ErrInvalidNANP},
		{"1911", "", ErrInvalidNANP},
		{"16191", "", ErrInvalidNANP},
		{"1619411", "", ErrInvalidNANP},
		{"161941", "161941", nil}, // "41" alone is no N11: 410-419 but 411 are fine
	}
	for _, tt := range tests {
		got, err := ParsePoolEntry(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: err = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseType(t *testing.T) {
	for _, ty := range []Type{Local, GSM, None} {
		got, err := ParseType(ty.String())
		if err != nil || got != ty {
			t.Errorf("%v: got %v, %v", ty, got, err)
		}
	}
	if _, err := ParseType("sms"); err == nil {
		t.Error("ParseType(sms) succeeded")
	}
}

func TestValidatePeerName(t *testing.T) {
	for _, ok := range []string{"a", "peer-1", "Fief_dom.2", "abcdefghijklmnop"} {
		if err := ValidatePeerName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "abcdefghijklmnopq", "-x", ".x", "..", "a b", "a/b", "ä"} {
		if err := ValidatePeerName(bad); !errors.Is(err, ErrInvalidPeer) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
