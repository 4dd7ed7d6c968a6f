// Command switchboard is the message switch: one binary whose subcommands
// run the server and the tools that work beside it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Env is what a subcommand may touch besides its arguments, so that tests
// can run commands in-process with their own streams.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// command is one entry of the command table.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the command table; each subcommand lives in its own file.
var commands = []command{
	{"serve", "run the server", cmdServe},
	{"dump", "print records of the message store (read-only; works while serve runs)", cmdDump},
	{"archive", "move historical megabytes of the store into an archive file (server stopped)", cmdArchive},
	{"numbers", "manage locally owned numbers", cmdNumbers},
	{"peers", "manage downstream peers and their number pools", cmdPeers},
	{"submit", "submit an SM (body on stdin) to the running server", cmdSubmit},
	{"accounts", "manage chat accounts (the account registry shared by CPT, UDP chat and voice)", cmdAccounts},
	{"chat", "a CPT chat client (interactive, or --send / --sync for scripts)", cmdChat},
	{"udpchat", "a CHAT UDP client (interactive, or one command; --script for programs)", cmdUDPChat},
	{"voice", "a KV voice-channel client: control commands, and join to stream and measure loss and jitter", cmdVoice},
	{"pager", "the restaurant pager's host tool: waitlist numbers, table-ready SMS and calls, stations", cmdPager},
	{"shell", "restricted SMS access for one number (an OpenSSH ForceCommand)", cmdShell},
	{"bench", "load generators: smpp (against any SMSC), smpp-sink (an SMSC that stores nothing), cpt (chat fan-out), cpt-idle (idle connections), udpchat (CHAT UDP fan-out), voice (channel relays), store (the disk and the message store)", cmdBench},
	{"rh", "run a role handler against the core socket (imsi-lookup, gsm-mt)", cmdRH},
	{"defaultconfig", "print the built-in default configuration", cmdDefaultConfig},
	{"check-config", "validate a configuration file", cmdCheckConfig},
	{"version", "print the version", cmdVersion},
}

// errUsage marks an error caused by the command line; it exits with status 2.
var errUsage = errors.New("usage error")

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: switchboard COMMAND [options]\n\ncommands:\n")
	sorted := append([]command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'switchboard COMMAND -h' for a command's options.\n")
}

func main() {
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(env.Stderr, "switchboard %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(env.Stderr, "switchboard %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "switchboard: unknown command %q\n", args[0])
	usage(env.Stderr)
	return 2
}

// newFlagSet returns a flag set that reports errors instead of exiting, with
// --data DIR, which every command takes.
func newFlagSet(env *Env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	data := fs.String("data", "./data", "data directory")
	return fs, data
}

// parseFlags parses args and wraps parse failures as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// errUsagef builds a usage error.
func errUsagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parseInterspersed parses flags wherever they are among the positional
// arguments, so that "numbers add +16195550100 --type gsm" and "numbers add
// --type gsm +16195550100" mean the same: the flag package alone stops at
// the first non-flag argument. It returns the positional arguments in order.
// Numbers never start with '-', and peer names may not, so nothing
// positional is mistaken for a flag.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
