package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

// maxBodyBytes bounds what submit reads from stdin: 255 UCS-2 parts of 67
// characters is far below it.
const maxBodyBytes = 64 << 10

// submitOptions is one submission, shared with the restricted shell.
type submitOptions struct {
	src, dst   pms.Address
	encodeText bool
	ucs2       bool
	imsi       string
	vp         time.Duration
	srr        bool
	pid        int
}

func cmdSubmit(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "submit")
	var o submitOptions
	fs.BoolVar(&o.encodeText, "encode-text", false, "stdin is in the sms-encode-text intermediate format, not plain text")
	fs.BoolVar(&o.ucs2, "ucs2", false, "send plain text as UCS-2 even if GSM 7-bit would do")
	fs.StringVar(&o.imsi, "imsi", "", "deliver to this IMSI on the local GSM network, skipping routing (DST may be omitted)")
	fs.DurationVar(&o.vp, "vp", 0, "validity period (default: the server's default)")
	fs.BoolVar(&o.srr, "srr", false, "request a status report")
	fs.IntVar(&o.pid, "pid", 0, "TP-PID octet")
	usageLine := "usage: switchboard submit [options] SRC DST  (body on stdin)"
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	want := 2
	if o.imsi != "" {
		want = 1
	}
	if len(pos) < want || len(pos) > 2 {
		return errUsagef("%s", usageLine)
	}
	if o.src, err = parseAddressArg(pos[0]); err != nil {
		return errUsagef("SRC: %v", err)
	}
	if len(pos) == 2 {
		if o.dst, err = parseAddressArg(pos[1]); err != nil {
			return errUsagef("DST: %v", err)
		}
	}
	if o.pid < 0 || o.pid > 255 {
		return errUsagef("--pid must be 0..255")
	}
	ids, err := submitBody(ctx, *data, env.Stdin, o)
	for _, id := range ids {
		fmt.Fprintln(env.Stdout, id)
	}
	return err
}

// parseAddressArg reads a number as a user writes it: +E.164 is
// international, digits are as dialled, anything with letters is an
// alphanumeric sender.
func parseAddressArg(s string) (pms.Address, error) {
	switch {
	case s == "":
		return pms.Address{}, errors.New("empty address")
	case strings.HasPrefix(s, "+"):
		d := s[1:]
		if d == "" || len(d) > pms.MaxAddrDigits || strings.Trim(d, "0123456789") != "" {
			return pms.Address{}, fmt.Errorf("%q is not an international number", s)
		}
		return pms.Address{TON: 1, NPI: 1, Digits: d}, nil
	case strings.Trim(s, "0123456789") == "":
		if len(s) > pms.MaxAddrDigits {
			return pms.Address{}, fmt.Errorf("%q has more than %d digits", s, pms.MaxAddrDigits)
		}
		return pms.Address{TON: 0, NPI: 1, Digits: s}, nil
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return pms.Address{}, errors.New("control character in address")
		}
	}
	return pms.Address{TON: pms.TONAlphanumeric, Digits: s}, nil
}

// submitBody encodes the body read from r and submits every part. It
// returns the ids of the parts accepted so far even when a later one fails.
func submitBody(ctx context.Context, dataDir string, r io.Reader, o submitOptions) ([]uint64, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read message body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("message body longer than %d bytes", maxBodyBytes)
	}
	var parts []smstext.Part
	if o.encodeText {
		parts, err = smstext.ParseEncodeText(strings.NewReader(string(body)))
	} else {
		// "echo TEXT |" ends the text with a newline nobody meant to send.
		text := strings.TrimSuffix(strings.TrimSuffix(string(body), "\n"), "\r")
		parts, err = smstext.Encode(text, uint16(rand.IntN(256)), smstext.Options{ForceUCS2: o.ucs2})
	}
	if err != nil {
		return nil, err
	}
	recs := make([]*pms.Record, len(parts))
	for i, p := range parts {
		recs[i] = &pms.Record{
			Kind: pms.KindSM, SrcClass: pms.ClassLocal, Src: o.src, Dst: o.dst,
			PID: uint8(o.pid), DCS: p.DCS, ESM: p.ESM, UDL: p.UDL, UD: p.UD,
			ConcatRef: p.Ref, ConcatTotal: p.Total, ConcatSeq: p.Seq,
			Validity: uint32(o.vp / time.Second),
			State:    pms.State{SRR: o.srr},
		}
		if o.imsi != "" {
			recs[i].State.IMSI = o.imsi
			recs[i].DstClass = pms.ClassGSM
		}
	}
	peer, err := dialCore(ctx, dataDir, nil)
	if err != nil {
		return nil, err
	}
	defer peer.Close()
	var ids []uint64
	for _, rec := range recs {
		var req coresock.Submit
		if o.imsi != "" {
			req.Flags = coresock.SubmitIMSIAddressed
		}
		if err := req.Record.Encode(rec); err != nil {
			return ids, fmt.Errorf("encode message: %w", err)
		}
		resp, st, err := peer.Call(ctx, &req)
		if err != nil {
			return ids, fmt.Errorf("submit: %w", err)
		}
		if st != coresock.StatusOK {
			return ids, statusError(st)
		}
		ids = append(ids, resp.(*coresock.SubmitResp).Index)
	}
	return ids, nil
}
