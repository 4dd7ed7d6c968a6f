package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"switchboard/internal/voice"
	"switchboard/internal/voice/voiceload"
)

// benchVoice is `bench voice`: channels of members sending frames through
// a running KV server (docs/benchmarks.md).
func benchVoice(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "bench voice")
	var cfg voiceload.Config
	fs.StringVar(&cfg.Control, "server", defaultVoiceServer, "KV control server `HOST:PORT`")
	admin := fs.String("admin-uid", "", "the admin `UID` (default: read from --data)")
	fs.IntVar(&cfg.Channels, "channels", 1, "channels")
	fs.IntVar(&cfg.Members, "members", 10, "members per channel")
	fs.Float64Var(&cfg.Rate, "rate", 50, "packets per second each member sends (0: as fast as possible)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send, warm-up included")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "start of the run left out (default a fifth of --duration, at most 2s)")
	fs.StringVar(&cfg.Metrics, "metrics", "", "the server's /metrics URL, to report its CPU time")
	fs.IntVar(&cfg.Senders, "senders", 2, "sending goroutines")
	fs.BoolVar(&cfg.NoRead, "no-read", false, "do not read the members' sockets (measures the server's capacity through its --metrics only)")
	fs.BoolVar(&cfg.GRO, "gro", false, "turn UDP_GRO on at the members' sockets, so that the relay's GSO sends arrive coalesced (less client CPU; not what every client does)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *admin != "" {
		v, err := strconv.ParseUint(*admin, 0, 64)
		if err != nil {
			return errUsagef("--admin-uid %q is not a number", *admin)
		}
		cfg.AdminUID = v
	} else {
		v, err := voice.ReadAdminUID(*data)
		if err != nil {
			return err
		}
		cfg.AdminUID = v
	}
	if cfg.Channels < 1 || cfg.Members < 2 {
		return errUsagef("--channels must be 1 or more and --members 2 or more")
	}
	res, err := voiceload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "voice: %d channels x %d members at %g packets/s each: %s\n", cfg.Channels, cfg.Members, cfg.Rate, res)
	return nil
}
