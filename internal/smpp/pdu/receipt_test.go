package pdu

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestFormatReceipt(t *testing.T) {
	sub := time.Date(2026, 12, 1, 18, 30, 59, 0, time.UTC)
	done := time.Date(2026, 12, 1, 19, 31, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		r    Receipt
		want string
	}{
		{
			Receipt{ID: "0123456789", Sub: 1, Dlvrd: 1, SubmitDate: sub, DoneDate: done, Stat: StatDelivered, Text: "hello"},
			"id:0123456789 sub:001 dlvrd:001 submit date:2612011830 done date:2612011831 stat:DELIVRD err:000 text:hello",
		},
		{
			Receipt{ID: "abc", Sub: 1, Dlvrd: 0, SubmitDate: sub, DoneDate: sub, Stat: StatUndeliverable, Err: 11,
				Text: "The quick brown fox jumps over the lazy dog"},
			"id:abc sub:001 dlvrd:000 submit date:2612011830 done date:2612011830 stat:UNDELIV err:011 text:The quick brown fox ",
		},
		{
			// Twenty characters, not octets: the cut keeps UTF-8 whole.
			Receipt{ID: "x", Sub: 1234, Stat: StatExpired, Err: -5, Text: "Grüße aus Köln, schön hier"},
			"id:x sub:1234 dlvrd:000 submit date:0000000000 done date:0000000000 stat:EXPIRED err:000 text:Grüße aus Köln, schö",
		},
	}
	for _, tt := range tests {
		if got := FormatReceipt(tt.r); got != tt.want {
			t.Errorf("FormatReceipt(%+v) =\n %q\nwant\n %q", tt.r, got, tt.want)
		}
		if got := string(AppendReceipt([]byte("x"), tt.r)); got != "x"+tt.want {
			t.Errorf("AppendReceipt = %q", got)
		}
	}
}

func TestParseReceipt(t *testing.T) {
	d := func(y int, mo time.Month, day, h, mi, s int) time.Time {
		return time.Date(y, mo, day, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		name string
		in   string
		want Receipt
	}{
		{
			"ours, round trip",
			FormatReceipt(Receipt{ID: "0123456789", Sub: 1, Dlvrd: 1, SubmitDate: d(2026, 12, 1, 18, 30, 0),
				DoneDate: d(2026, 12, 1, 18, 31, 0), Stat: StatDelivered, Text: "hello world"}),
			Receipt{ID: "0123456789", Sub: 1, Dlvrd: 1, SubmitDate: d(2026, 12, 1, 18, 30, 0),
				DoneDate: d(2026, 12, 1, 18, 31, 0), Stat: StatDelivered, Text: "hello world"},
		},
		{
			"Kannel style, 10-digit dates",
			"id:0610191018 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Test message",
			Receipt{ID: "0610191018", Sub: 1, Dlvrd: 1, SubmitDate: d(2006, 10, 19, 10, 18, 0),
				DoneDate: d(2006, 10, 19, 10, 18, 0), Stat: StatDelivered, Text: "Test message"},
		},
		{
			// onlinecity/php-smpp#70: a four-digit err and an escape in the text.
			"four-digit err",
			"id:117062714244798261 sub:001 dlvrd:001 submit date:1706271624 done date:1706271624 stat:DELIVRD err:0000 text:H\x1bello world",
			Receipt{ID: "117062714244798261", Sub: 1, Dlvrd: 1, SubmitDate: d(2017, 6, 27, 16, 24, 0),
				DoneDate: d(2017, 6, 27, 16, 24, 0), Stat: StatDelivered, Text: "H\x1bello world"},
		},
		{
			// opentelecoms-org/jsmpp#62: no sub, no dlvrd.
			"sub and dlvrd missing",
			"id:1526758174 submit date:1701240904 done date:1701240904 stat:DELIVRD err:000 text:hellow",
			Receipt{ID: "1526758174", SubmitDate: d(2017, 1, 24, 9, 4, 0), DoneDate: d(2017, 1, 24, 9, 4, 0),
				Stat: StatDelivered, Text: "hellow"},
		},
		{
			// jookies/jasmin#70 (Clickatell): 12-digit dates, a long hex id, empty text.
			"12-digit dates",
			"id:a29f6845555647139e5c8f3b817f2c9a sub:001 dlvrd:001 submit date:141023215253 done date:141023215259 stat:DELIVRD err:000 text:",
			Receipt{ID: "a29f6845555647139e5c8f3b817f2c9a", Sub: 1, Dlvrd: 1, SubmitDate: d(2014, 10, 23, 21, 52, 53),
				DoneDate: d(2014, 10, 23, 21, 52, 59), Stat: StatDelivered},
		},
		{
			// kneodev/ksmppd#108: a stat with no key, capital "Text:".
			"stat without its key",
			"id:ce5bc5a9-4f7d-4282-9244-2e1022a9335c sub:000 dlvrd:000 submit date:180903120815 done date:180903120816 DELIVRD err:000 Text:",
			Receipt{ID: "ce5bc5a9-4f7d-4282-9244-2e1022a9335c", SubmitDate: d(2018, 9, 3, 12, 8, 15),
				DoneDate: d(2018, 9, 3, 12, 8, 16), Stat: StatDelivered},
		},
		{
			// funbox/smppex#46: dates in the 16-character SMPP form, no text.
			"SMPP time format dates",
			"id:rdwjwxns18krxr9936ey96ymcw sub:000 dlvrd:000 submit date:180711070003912+ done date:180711070000012+ stat:UNDELIV err:000",
			Receipt{ID: "rdwjwxns18krxr9936ey96ymcw", SubmitDate: time.Date(2018, 7, 11, 4, 0, 3, 9e8, time.UTC),
				DoneDate: d(2018, 7, 11, 4, 0, 0), Stat: StatUndeliverable},
		},
		{
			// jookies/jasmin#760: no sub, dlvrd or text.
			"uuid id, no text",
			"id:fa9542be-3c16-44bb-9a8c-d277ea1851ef submit date:1911211739 done date:1911211741 stat:DELIVRD err:002",
			Receipt{ID: "fa9542be-3c16-44bb-9a8c-d277ea1851ef", SubmitDate: d(2019, 11, 21, 17, 39, 0),
				DoneDate: d(2019, 11, 21, 17, 41, 0), Stat: StatDelivered, Err: 2},
		},
		{
			"upper-case keys, any order, spelled-out stat, hex err",
			"STAT:delivered ERR:00B DONE DATE:2612011831 ID:77 Submit_Date:2612011830 DLVRD:1 SUB:1 TEXT:Stat: in the text id:99",
			Receipt{ID: "77", Sub: 1, Dlvrd: 1, SubmitDate: d(2026, 12, 1, 18, 30, 0), DoneDate: d(2026, 12, 1, 18, 31, 0),
				Stat: StatDelivered, Err: 11, Text: "Stat: in the text id:99"},
		},
		{
			"spaces after colons, unreadable date left zero",
			"id: 42 sub: 1 dlvrd: 1 submit date:soon done date:2613011830 stat: REJECTD err: 0",
			Receipt{ID: "42", Sub: 1, Dlvrd: 1, Stat: StatRejected},
		},
		{
			"only an id",
			"id:12345",
			Receipt{ID: "12345"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReceipt(tt.in)
			if err != nil {
				t.Fatalf("ParseReceipt: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReceipt(%q) =\n %+v\nwant\n %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseReceiptNotReceipt(t *testing.T) {
	for _, in := range []string{"", "hello there", "identity:5 substance:3", "valid:3"} {
		if r, err := ParseReceipt(in); !errors.Is(err, ErrNotReceipt) {
			t.Errorf("ParseReceipt(%q) = %+v, %v; want ErrNotReceipt", in, r, err)
		}
	}
}

func TestStates(t *testing.T) {
	want := map[uint8]string{
		StateEnroute: "ENROUTE", StateDelivered: "DELIVRD", StateExpired: "EXPIRED", StateDeleted: "DELETED",
		StateUndeliverable: "UNDELIV", StateAccepted: "ACCEPTD", StateUnknown: "UNKNOWN", StateRejected: "REJECTD",
	}
	for st := 0; st < 256; st++ {
		w, ok := want[uint8(st)]
		if !ok {
			w = "UNKNOWN"
		}
		if got := StatForState(uint8(st)); got != w {
			t.Errorf("StatForState(%d) = %q, want %q", st, got, w)
		}
		if ok {
			if back, found := StateForStat(w); !found || back != uint8(st) {
				t.Errorf("StateForStat(%q) = %d, %v", w, back, found)
			}
		}
	}
	if st, ok := StateForStat("undeliverable"); !ok || st != StateUndeliverable {
		t.Errorf("StateForStat(undeliverable) = %d, %v", st, ok)
	}
	if _, ok := StateForStat("BOGUS"); ok {
		t.Error("StateForStat(BOGUS) found a state")
	}
}
