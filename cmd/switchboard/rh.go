package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"switchboard/internal/coresock"
	"switchboard/internal/pms"
	"switchboard/internal/smstext"
)

// cmdRH runs a role handler as its own process against the core socket
// (seed 001 §2.3: the core stays up alone; handlers come and go). The GSM
// network interface is a later issue, so the two GSM roles here are
// stand-ins with the real protocol: an IMSI resolver from a table or a
// rule, and an MT "delivery" that reports each SM and discharges it.
func cmdRH(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errUsagef("usage: switchboard rh imsi-lookup|gsm-mt [options]")
	}
	switch args[0] {
	case "imsi-lookup":
		return rhIMSILookup(ctx, env, args[1:])
	case "gsm-mt":
		return rhGSMMT(ctx, env, args[1:])
	}
	return errUsagef("unknown role %q: imsi-lookup or gsm-mt", args[0])
}

// runRole connects, registers, declares service up and serves until ctx
// ends or the server goes away.
func runRole(ctx context.Context, env *Env, dataDir string, role coresock.Role, h coresock.Handler) error {
	peer, err := dialCore(ctx, dataDir, &coresock.Config{Handler: h})
	if err != nil {
		return err
	}
	defer peer.Close()
	if _, st, err := peer.Call(ctx, &coresock.RHRegister{Role: role}); err != nil {
		return fmt.Errorf("register: %w", err)
	} else if st != coresock.StatusOK {
		return fmt.Errorf("register as %s: %w", role, statusError(st))
	}
	if _, st, err := peer.Call(ctx, &coresock.RHServiceState{Up: true}); err != nil || st != coresock.StatusOK {
		return fmt.Errorf("declare service up: %v %v", st, err)
	}
	fmt.Fprintf(env.Stderr, "switchboard rh: registered as %s\n", role)
	select {
	case <-ctx.Done():
		return nil
	case <-peer.Done():
		return fmt.Errorf("core connection lost: %w", peer.Err())
	}
}

func rhIMSILookup(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "rh imsi-lookup")
	mapFile := fs.String("map", "", "file of \"MSISDN IMSI\" lines")
	prefix := fs.String("prefix", "", "answer every MSISDN with this IMSI prefix followed by the MSISDN's last digits (a test network)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	table := map[string]string{}
	if *mapFile != "" {
		f, err := os.Open(*mapFile)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if len(fields) != 2 {
				f.Close()
				return fmt.Errorf("%s:%d: want MSISDN IMSI", *mapFile, n)
			}
			table[strings.TrimPrefix(fields[0], "+")] = fields[1]
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	if len(*prefix) > 14 {
		return errUsagef("--prefix is longer than an IMSI")
	}
	h := coresock.HandlerFunc(func(p *coresock.Peer, h coresock.Header, body coresock.Body) {
		m, ok := body.(*coresock.FindIMSI)
		if !ok {
			p.Reply(h, coresock.StatusUnknownType, 0, nil)
			return
		}
		if imsi, ok := table[m.MSISDN]; ok {
			p.Reply(h, coresock.StatusOK, 0, &coresock.FindIMSIResp{IMSI: imsi})
			return
		}
		if *prefix != "" {
			n := 15 - len(*prefix)
			d := m.MSISDN
			if len(d) < n {
				d = strings.Repeat("0", n-len(d)) + d
			}
			p.Reply(h, coresock.StatusOK, 0, &coresock.FindIMSIResp{IMSI: *prefix + d[len(d)-n:]})
			return
		}
		// Not a subscriber of ours: a permanent failure (§2.6.1.2).
		p.Reply(h, coresock.StatusPermanentFailure, 0, nil)
	})
	return runRole(ctx, env, *data, coresock.RoleIMSILookup, h)
}

// mtReport is one line of `rh gsm-mt` output.
type mtReport struct {
	Event string `json:"event"`
	Index uint64 `json:"index"`
	IMSI  string `json:"imsi,omitempty"`
	DCS   uint8  `json:"dcs"`
	Parts string `json:"parts,omitempty"`
	Text  string `json:"text,omitempty"`
}

func rhGSMMT(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "rh gsm-mt")
	hold := fs.Bool("hold", false, "keep custody of every SM without discharging it (to exercise custody and retake)")
	showText := fs.Bool("show-text", false, "include message text in the report lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var mu sync.Mutex
	out := json.NewEncoder(env.Stdout)
	report := func(r mtReport) {
		mu.Lock()
		defer mu.Unlock()
		out.Encode(r)
		if f, ok := env.Stdout.(interface{ Sync() error }); ok {
			f.Sync()
		}
	}
	// Discharges in flight at once, within the core's bound per
	// connection (docs/core-socket.md), so that none is refused TOO_BUSY
	// and left in our custody.
	discharging := make(chan struct{}, 128)
	var h coresock.HandlerFunc = func(p *coresock.Peer, h coresock.Header, body coresock.Body) {
		switch m := body.(type) {
		case *coresock.MTTransfer:
			var r pms.Record
			if err := m.Record.Decode(&r); err != nil {
				p.Reply(h, coresock.StatusMalformed, 0, nil)
				return
			}
			p.Reply(h, coresock.StatusOK, 0, nil)
			rep := mtReport{Event: "transfer", Index: m.Index, IMSI: r.State.IMSI, DCS: r.DCS}
			if r.ConcatTotal > 1 {
				rep.Parts = fmt.Sprintf("%d/%d", r.ConcatSeq, r.ConcatTotal)
			}
			if *showText {
				rep.Text = displayText(&r)
			}
			report(rep)
			if *hold {
				return
			}
			// Discharge from another goroutine: this one is the reader.
			go func() {
				discharging <- struct{}{}
				defer func() { <-discharging }()
				_, st, err := p.Call(ctx, &coresock.MTDischarge{Index: m.Index, Disposition: pms.Delivered})
				if err == nil && st == coresock.StatusOK {
					report(mtReport{Event: "delivered", Index: m.Index})
				}
			}()
		case *coresock.MTCancel:
			p.Reply(h, coresock.StatusOK, 0, nil)
			report(mtReport{Event: "cancel", Index: m.Index})
		default:
			p.Reply(h, coresock.StatusUnknownType, 0, nil)
		}
	}
	err := runRole(ctx, env, *data, coresock.RoleGSMMTDelivery, h)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// displayText renders an SM's text, or its user data in hex when it is not
// text.
func displayText(r *pms.Record) string {
	text, _, err := smstext.Decode(r.DCS, r.ESM, r.UDL, r.UD)
	if err != nil {
		return fmt.Sprintf("%x", r.UD)
	}
	return text
}
