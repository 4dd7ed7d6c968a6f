package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"time"

	"switchboard/internal/cpt/cptload"
	"switchboard/internal/datadir"
	"switchboard/internal/pms/pmsload"
	"switchboard/internal/smpp/loadgen"
	"switchboard/internal/udpchat/udpload"
)

// cmdBench runs load generators: `bench smpp` against any SMSC, and
// `bench smpp-sink`, an SMSC that stores nothing, to receive relayed load;
// `bench cpt` (group fan-out) and `bench cpt-idle` (idle connections)
// against any CPT server; `bench udpchat` and `bench voice` against the
// other services; `bench store`, the disk and the message store.
func cmdBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errUsagef("bench smpp|smpp-sink|cpt|cpt-idle|udpchat|voice|store [options]")
	}
	switch args[0] {
	case "smpp":
		return benchSMPP(ctx, env, args[1:])
	case "smpp-sink":
		return benchSink(ctx, env, args[1:])
	case "cpt":
		return benchCPT(ctx, env, args[1:])
	case "cpt-idle":
		return benchCPTIdle(ctx, env, args[1:])
	case "udpchat":
		return benchUDPChat(ctx, env, args[1:])
	case "voice":
		return benchVoice(ctx, env, args[1:])
	case "store":
		return benchStore(ctx, env, args[1:])
	}
	return errUsagef("unknown benchmark %q (smpp, smpp-sink, cpt, cpt-idle, udpchat, voice, store)", args[0])
}

func benchCPT(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "bench cpt")
	var cfg cptload.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:39168", "CPT server address")
	fs.IntVar(&cfg.Receivers, "receivers", 1000, "connections that follow the group and read")
	fs.IntVar(&cfg.Senders, "senders", 1, "connections that send")
	fs.IntVar(&cfg.Window, "window", 1000, "SENDs each sender may have unanswered")
	fs.BoolVar(&cfg.Strict, "strict", false, "wait for each ACK before the next SEND (window 1)")
	fs.IntVar(&cfg.Size, "size", 32, "message text length in bytes")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send, warm-up included")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "start of the run left out of the rates (default a fifth of --duration, at most 2s; negative: none)")
	fs.IntVar(&cfg.Count, "count", 0, "stop each sender after this many SENDs (0: no limit)")
	fs.StringVar(&cfg.Group, "group", "bench", "group name (with --same-group=false, the prefix of one group per sender)")
	same := fs.Bool("same-group", true, "every sender posts to one group that every receiver follows; false: one group per sender, receivers divided among them")
	fs.StringVar(&cfg.Names, "names", "", "login name prefix (default random)")
	fs.DurationVar(&cfg.Drain, "drain", 15*time.Second, "how long to wait for the last ACKs and deliveries after sending stops")
	fs.StringVar(&cfg.Metrics, "metrics", "", "the server's /metrics URL, to report its CPU time (e.g. http://127.0.0.1:39180/metrics)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.Receivers < 0 || cfg.Senders < 1 || cfg.Window < 1 {
		return errUsagef("--receivers must be 0 or more, --senders and --window 1 or more")
	}
	if cfg.Receivers == 0 {
		cfg.Receivers = -1 // the library's "none"
	}
	cfg.SplitGroups = !*same
	res, err := cptload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	if !res.Complete() {
		fmt.Fprintln(env.Stdout, "warning: deliveries do not add up to ACKed messages × members (connections cut, or the drain timed out)")
	}
	return nil
}

func benchUDPChat(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "bench udpchat")
	var cfg udpload.Config
	fs.StringVar(&cfg.Addr, "addr", defaultUDPChatServer, "CHAT UDP server address")
	fs.StringVar(&cfg.Mode, "mode", udpload.Broadcast, "broadcast (senders to every client) or private (every client to random others)")
	fs.IntVar(&cfg.Clients, "clients", 1000, "registered clients, each on its own socket")
	fs.IntVar(&cfg.Senders, "senders", 1, "broadcast mode: clients that broadcast")
	fs.IntVar(&cfg.Window, "window", 32, "requests each sender has unanswered at most")
	fs.IntVar(&cfg.Size, "size", 32, "message text length in bytes")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send, warm-up included")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "start of the run left out of the rates (default a fifth of --duration, at most 2s; negative: none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	res, err := udpload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	return nil
}

func benchCPTIdle(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "bench cpt-idle")
	var cfg cptload.IdleConfig
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:39168", "CPT server address")
	fs.IntVar(&cfg.Conns, "conns", 10000, "connections to log in and hold idle")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Second, "how long to hold them after the second reading")
	fs.StringVar(&cfg.Metrics, "metrics", "http://127.0.0.1:39180/metrics", "the server's /metrics URL (empty: measure nothing)")
	fs.BoolVar(&cfg.GC, "gc", true, "force a GC on the server before each reading (needs [admin] pprof = true)")
	fs.StringVar(&cfg.Names, "names", "", "login name prefix (default random)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Held = func(r cptload.IdleResult) {
		fmt.Fprintf(env.Stdout, "%d connections logged in in %v; holding %v\n", r.Conns, r.Setup.Round(time.Millisecond), cfg.Hold)
	}
	res, err := cptload.RunIdle(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	return nil
}

// benchStore measures the disk under the data directory and a scratch
// message store on it. It neither takes the data directory's lock nor
// touches pms.bin, so it may run beside serve (whose figures it then
// disturbs, and the other way round).
func benchStore(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "bench store")
	var cfg pmsload.Config
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the scratch store, removed afterwards (default: the data directory)")
	fs.IntVar(&cfg.Appenders, "appenders", 64, "concurrent appenders, each waiting for its acknowledgement")
	fs.IntVar(&cfg.PerCall, "per-call", 1, "records each append carries")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long the store runs, warm-up included")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "start of the run left out of the figures (default a fifth of --duration, at most 2s; negative: none)")
	fs.DurationVar(&cfg.Probe, "probe", time.Second, "how long to measure the disk alone first (negative: skip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.Appenders < 1 || cfg.PerCall < 1 {
		return errUsagef("--appenders and --per-call must be 1 or more")
	}
	if cfg.Warmup >= cfg.Duration {
		return errUsagef("--warmup must be shorter than --duration")
	}
	if cfg.Dir == "" {
		if err := datadir.Ensure(*data); err != nil {
			return err
		}
		cfg.Dir = *data
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	res, err := pmsload.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	return nil
}

func benchSMPP(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "bench smpp")
	var cfg loadgen.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:2775", "SMSC address")
	fs.StringVar(&cfg.SystemID, "system-id", "", "bind system_id")
	fs.StringVar(&cfg.Password, "password", "", "bind password")
	fs.BoolVar(&cfg.Transmitter, "tx", false, "bind as transmitter (default transceiver)")
	fs.IntVar(&cfg.Binds, "binds", 4, "sessions")
	fs.IntVar(&cfg.Window, "window", 100, "submit_sm outstanding per session")
	fs.IntVar(&cfg.Rate, "rate", 0, "submits per second in total (0: as fast as the windows allow)")
	fs.IntVar(&cfg.Size, "size", 20, "message length in GSM characters")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	fs.IntVar(&cfg.Count, "count", 0, "stop after this many submits (0: no limit)")
	fs.StringVar(&cfg.Src, "src", "", "source_addr")
	fs.StringVar(&cfg.Dst, "dst", "", "destination_addr; trailing x characters take the sequence number")
	fs.BoolVar(&cfg.RegDelivery, "receipts", false, "set registered_delivery")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.Src == "" || cfg.Dst == "" {
		return errUsagef("--src and --dst are required")
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	return nil
}

func benchSink(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "bench smpp-sink")
	listen := fs.String("listen", "127.0.0.1:2776", "address to accept binds on")
	sink := &loadgen.Sink{}
	fs.StringVar(&sink.SystemID, "system-id", "", "accept only this system_id (default: any)")
	fs.StringVar(&sink.Password, "password", "", "with --system-id, the password")
	dur := fs.Duration("duration", 0, "stop after this long (default: until interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	fmt.Fprintf(env.Stdout, "sink listening on %s\n", ln.Addr())
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	go sink.Serve(ln)
	sink.Report(ctx, env.Stdout)
	sink.Close()
	fmt.Fprintln(env.Stdout, sink.Result().String())
	return nil
}
