package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"time"

	"switchboard/internal/smpp/loadgen"
)

// cmdBench runs load generators: `bench smpp` against any SMSC, and
// `bench smpp-sink`, an SMSC that stores nothing, to receive relayed load.
func cmdBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errUsagef("bench smpp|smpp-sink [options]")
	}
	switch args[0] {
	case "smpp":
		return benchSMPP(ctx, env, args[1:])
	case "smpp-sink":
		return benchSink(ctx, env, args[1:])
	}
	return errUsagef("unknown benchmark %q (smpp, smpp-sink)", args[0])
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
