package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"switchboard/internal/datadir"
	"switchboard/internal/dump"
	"switchboard/internal/pms"
)

// cmdShell is SMS access by ssh for one subscriber (seed 001 §3, §3.2). An
// administrator puts it in authorized_keys as the forced command of a
// user's key, fixing the number:
//
//	command="switchboard shell --data /var/lib/switchboard --number +16195550100",restrict ssh-ed25519 AAAA...
//
// What the user typed after `ssh host` arrives in SSH_ORIGINAL_COMMAND and
// may only be one of:
//
//	send DST [--srr] [--ucs2]      the body on stdin, sent from the fixed number
//	read [--since T] [--until T] [--count N] [--json]
//	                               the messages to and from the fixed number
//	help
//
// Everything else is refused; the user's words are never handed to a shell.
func cmdShell(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "shell")
	number := fs.String("number", "", "the subscriber's own number (+1NPANXXXXXX); fixed by the administrator")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	own, err := parseAddressArg(*number)
	if err != nil || own.TON == pms.TONAlphanumeric {
		return errUsagef("--number must be the subscriber's phone number")
	}
	// The administrator's own arguments end with --number; anything the
	// user asked for comes from ssh, never from argv.
	if fs.NArg() > 0 {
		return errUsagef("the user's command comes from SSH_ORIGINAL_COMMAND, not from arguments")
	}
	words := strings.Fields(os.Getenv("SSH_ORIGINAL_COMMAND"))
	if len(words) == 0 {
		words = []string{"help"}
	}
	switch words[0] {
	case "send":
		return shellSend(ctx, env, *data, own, words[1:])
	case "read":
		return shellRead(ctx, env, *data, *number, words[1:])
	case "help":
		fmt.Fprintf(env.Stdout, "SMS access for %s. Commands:\n"+
			"  send DST [--srr] [--ucs2]   send the text on stdin to DST\n"+
			"  read [--since TIME] [--until TIME] [--count N] [--json]\n"+
			"                              list messages to and from %s\n", *number, *number)
		return nil
	}
	return fmt.Errorf("%w: %q is not allowed here (try help)", errUsage, words[0])
}

// shellFlags is a flag set for user-supplied words: errors go to the user,
// and -data and friends do not exist.
func shellFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

func shellSend(ctx context.Context, env *Env, dataDir string, own pms.Address, words []string) error {
	fs := shellFlags(env, "send")
	var o submitOptions
	fs.BoolVar(&o.srr, "srr", false, "request a status report")
	fs.BoolVar(&o.ucs2, "ucs2", false, "send as UCS-2")
	pos, err := parseInterspersed(fs, words)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsagef("send DST (the text on stdin)")
	}
	if o.dst, err = parseAddressArg(pos[0]); err != nil || o.dst.TON == pms.TONAlphanumeric {
		return errUsagef("DST must be a phone number")
	}
	o.src = own
	ids, err := submitBody(ctx, dataDir, env.Stdin, o)
	for _, id := range ids {
		fmt.Fprintln(env.Stdout, id)
	}
	return err
}

func shellRead(ctx context.Context, env *Env, dataDir, number string, words []string) error {
	fs := shellFlags(env, "read")
	since := fs.String("since", "", "first entry time (RFC 3339, YYYY-MM-DD or unix seconds)")
	until := fs.String("until", "", "stop before this entry time")
	count := fs.Int("count", 0, "show at most N messages")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parseFlags(fs, words); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsagef("read takes only --since, --until, --count and --json")
	}
	o := dump.Options{Number: number, Count: *count, JSON: *asJSON, ShowText: true}
	var err error
	if o.Since, err = parseTime(*since); err != nil {
		return errUsagef("--since: %v", err)
	}
	if o.Until, err = parseTime(*until); err != nil {
		return errUsagef("--until: %v", err)
	}
	r, err := pms.OpenReader(filepath.Join(dataDir, datadir.PMSFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	defer r.Close()
	_, err = dump.RunContext(ctx, env.Stdout, r, o)
	return err
}
