package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchboard/internal/voice"
)

// defaultVoiceServer is the KV control port on the loopback, where serve
// listens by default.
const defaultVoiceServer = "127.0.0.1:39170"

const voiceUsage = "voice [--server HOST:PORT] register|unregister|create|delete|join|leave|port|channels|admin-uid|public-key ..."

// cmdVoice is the KV client: one subcommand per control command, a join
// that streams 20 ms frames, and admin-uid / public-key that read the data
// directory.
func cmdVoice(ctx context.Context, env *Env, args []string) error {
	server := defaultVoiceServer
	// --server may come before the subcommand.
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		switch {
		case args[0] == "--server" || args[0] == "-server":
			if len(args) < 2 {
				return errUsagef("--server needs HOST:PORT")
			}
			server, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "--server="):
			server, args = strings.TrimPrefix(args[0], "--server="), args[1:]
		case args[0] == "-h" || args[0] == "--help":
			fmt.Fprintf(env.Stderr, "usage: switchboard %s\n", voiceUsage)
			return flag.ErrHelp
		default:
			return errUsagef("usage: switchboard %s", voiceUsage)
		}
	}
	if len(args) == 0 {
		return errUsagef("usage: switchboard %s", voiceUsage)
	}
	sub, args := args[0], args[1:]
	fs, data := newFlagSet(env, "voice "+sub)
	fs.StringVar(&server, "server", server, "KV control server `HOST:PORT`")
	uid := fs.String("uid", "", "the acting user's `UID`")
	perm := fs.String("perm", "0", "register: the new user's permission bits (with --uid of a user holding perm_register_user)")
	user := fs.String("user", "", "join/leave: the `UID` joining or leaving, when it is not --uid (needs perm_add_user / perm_kick_user)")
	wav := fs.String("wav", "", "join: stream this 16-bit PCM WAV `FILE` (looped, first channel, resampled to 8 kHz)")
	tone := fs.Float64("tone", 0, "join: stream a sine tone of `HZ`")
	dur := fs.Duration("duration", 0, "join: stop after this long (0: until interrupted)")
	stay := fs.Bool("stay", false, "join: do not LEAVE the channel on exit")
	pubkey := fs.String("public-key", "", "join: check the server's signed packets with this base64 Ed25519 key (see public-key)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	parseUID := func(s, what string) (uint64, error) {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return 0, errUsagef("%s %q is not a number", what, s)
		}
		return v, nil
	}
	actor := func() (uint64, error) {
		if *uid == "" {
			if env := os.Getenv("SWITCHBOARD_VOICE_UID"); env != "" {
				return parseUID(env, "$SWITCHBOARD_VOICE_UID")
			}
			return 0, errUsagef("%s needs --uid UID (or $SWITCHBOARD_VOICE_UID)", sub)
		}
		return parseUID(*uid, "--uid")
	}
	onePos := func(what string) (uint64, error) {
		if len(pos) != 1 {
			return 0, errUsagef("%s needs one %s", sub, what)
		}
		return parseUID(pos[0], what)
	}
	do := func(r voice.Request) (voice.Reply, error) {
		return voice.Do(ctx, server, r)
	}
	printResult := func(r voice.Request) error {
		rep, err := do(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, rep.Result)
		return nil
	}
	// membership reads what JOIN and LEAVE take: the acting uid, the uid
	// joined or removed (--user, default the actor) and the channel.
	membership := func() (a, target, chid uint64, err error) {
		if a, err = actor(); err != nil {
			return
		}
		if chid, err = onePos("CHID"); err != nil {
			return
		}
		target = a
		if *user != "" {
			target, err = parseUID(*user, "--user")
		}
		return
	}
	switch sub {
	case "register":
		a := uint64(0)
		if *uid != "" {
			if a, err = actor(); err != nil {
				return err
			}
		}
		p, err := parseUID(*perm, "--perm")
		if err != nil {
			return err
		}
		return printResult(voice.Request{Cmd: voice.CmdRegister, UID: a, Perm: p})
	case "unregister":
		a, err := actor()
		if err != nil {
			return err
		}
		target := a
		if len(pos) > 0 {
			if target, err = onePos("UID"); err != nil {
				return err
			}
		}
		return printResult(voice.Request{Cmd: voice.CmdUnregister, UID: a, Target: target})
	case "create":
		a, err := actor()
		if err != nil {
			return err
		}
		return printResult(voice.Request{Cmd: voice.CmdCreate, UID: a})
	case "delete":
		a, err := actor()
		if err != nil {
			return err
		}
		chid, err := onePos("CHID")
		if err != nil {
			return err
		}
		return printResult(voice.Request{Cmd: voice.CmdDelete, UID: a, Chid: chid})
	case "port":
		chid, err := onePos("CHID")
		if err != nil {
			return err
		}
		return printResult(voice.Request{Cmd: voice.CmdGetPort, Chid: chid})
	case "channels":
		rep, err := do(voice.Request{Cmd: voice.CmdGetChannels})
		if err != nil {
			return err
		}
		for _, id := range rep.Channels {
			fmt.Fprintln(env.Stdout, id)
		}
		return nil
	case "leave":
		a, target, chid, err := membership()
		if err != nil {
			return err
		}
		return printResult(voice.Request{Cmd: voice.CmdLeave, UID: a, Target: target, Chid: chid})
	case "join":
		a, target, chid, err := membership()
		if err != nil {
			return err
		}
		if *wav != "" && *tone != 0 {
			return errUsagef("--wav and --tone exclude each other")
		}
		rep, err := do(voice.Request{Cmd: voice.CmdJoin, UID: a, Target: target, Chid: chid})
		if err != nil {
			return err
		}
		if target != a {
			// Adding someone else: they stream themselves.
			fmt.Fprintln(env.Stdout, rep.Result)
			return nil
		}
		return voiceStream(ctx, env, server, a, chid, int(rep.Result), *wav, *tone, *dur, *pubkey, !*stay)
	case "admin-uid":
		u, err := voice.ReadAdminUID(*data)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, u)
		return nil
	case "public-key":
		k, err := voice.ReadKey(*data)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, voice.PublicKeyString(k.Public().(ed25519.PublicKey)))
		return nil
	}
	return errUsagef("unknown voice subcommand %q; usage: switchboard %s", sub, voiceUsage)
}

// voiceStream runs join's streaming and prints the loss and jitter of
// every sender heard.
func voiceStream(ctx context.Context, env *Env, server string, uid, chid uint64, port int, wav string, tone float64, dur time.Duration, pubkey string, leave bool) error {
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return errUsagef("--server %q is not HOST:PORT", server)
	}
	cfg := voice.StreamConfig{Host: host, Port: port, UID: uid, Chid: chid, Events: env.Stderr}
	switch {
	case wav != "":
		f, err := os.Open(wav)
		if err != nil {
			return err
		}
		w, err := voice.ReadWAV(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", wav, err)
		}
		cfg.Source = w
	case tone != 0:
		cfg.Source = &voice.Tone{Hz: tone}
	}
	if pubkey != "" {
		if cfg.PublicKey, err = voice.ParsePublicKey(pubkey); err != nil {
			return errUsagef("--public-key: %v", err)
		}
	}
	sctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if dur > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, dur)
		defer cancel()
	}
	fmt.Fprintf(env.Stderr, "joined channel %d on port %d\n", chid, port)
	t0 := time.Now()
	rep, err := voice.Stream(sctx, cfg)
	if leave {
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, lerr := voice.Do(lctx, server, voice.Request{Cmd: voice.CmdLeave, UID: uid, Target: uid, Chid: chid})
		cancel()
		if lerr != nil && err == nil && !errors.Is(lerr, voice.ErrRefused) {
			err = lerr
		}
	}
	if rep != nil {
		printStreamReport(env, rep, time.Since(t0))
	}
	return err
}

func printStreamReport(env *Env, rep *voice.StreamReport, d time.Duration) {
	fmt.Fprintf(env.Stdout, "sent %d frames in %s\n", rep.Sent, d.Round(time.Millisecond))
	uids := make([]uint64, 0, len(rep.Stats.Senders))
	for u := range rep.Stats.Senders {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	for _, u := range uids {
		s := rep.Stats.Senders[u]
		fmt.Fprintf(env.Stdout, "from %d: received %d lost %d (%.2f%%) late %d jitter %.2f ms latency %.2f ms\n",
			u, s.Received, s.Lost, 100*s.LossRatio(), s.Late, float64(s.Jitter)/1e6, float64(s.Latency)/1e6)
	}
	if rep.BadSigs > 0 {
		fmt.Fprintf(env.Stdout, "bad signatures %d\n", rep.BadSigs)
	}
}
