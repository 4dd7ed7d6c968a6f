package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"switchboard/internal/pager"
	"switchboard/internal/server"
)

// defaultPagerServer is where serve's pager listens by default.
const defaultPagerServer = "127.0.0.1:39171"

const pagerUsage = "usage: switchboard pager [--server HOST:PORT] (--secret-file F | --data DIR) add NUMBER | remove NUMBER | list | notify NUMBER --party N [--greeting TEXT] | call NUMBER | add-client ID | remove-client ID"

// cmdPager is the host tool (docs/pager.md): one request to the pager
// server, retransmitted until it is answered. It exits 0 only when the
// server acknowledged; a NACK prints its reason and exits 1.
func cmdPager(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "pager")
	srv := fs.String("server", defaultPagerServer, "pager server `HOST:PORT`")
	secretFile := fs.String("secret-file", "", "read the shared secret from `FILE` (its first line)")
	party := fs.Int("party", -1, "with notify: the party or table number `N` put into the greeting")
	greeting := fs.String("greeting", "", "with notify: the greeting `TEXT` (at most 64 bytes; \"{n}\" becomes the party number; default: the server's)")
	id := fs.Uint("id", 0, "client `ID` to speak as (0: the host tool; another must be registered with add-client)")
	timeout := fs.Duration("timeout", 0, "give up after this long without an answer (default 10s, 90s for call)")
	fs.Usage = func() { fmt.Fprintln(env.Stderr, pagerUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			dataSet = true
		}
	})
	if dataSet && *secretFile != "" {
		return errUsagef("--secret-file and --data are exclusive")
	}
	path := *secretFile
	if path == "" {
		path = filepath.Join(*data, server.PagerSecretFile)
	}
	if len(pos) == 0 {
		return errUsagef("no operation\n%s", pagerUsage)
	}
	op, rest := pos[0], pos[1:]
	want := map[string]int{"add": 1, "remove": 1, "list": 0, "notify": 1, "call": 1, "add-client": 1, "remove-client": 1}
	n, ok := want[op]
	if !ok {
		return errUsagef("unknown operation %q\n%s", op, pagerUsage)
	}
	if len(rest) != n {
		return errUsagef("%s takes %d argument(s)\n%s", op, n, pagerUsage)
	}
	if op != "notify" && (*party != -1 || *greeting != "") {
		return errUsagef("--party and --greeting go with notify")
	}
	if op == "notify" && (*party < 0 || *party > 65535) {
		return errUsagef("notify needs --party N (0 to 65535)")
	}
	var number uint64
	var clientID uint32
	switch op {
	case "add", "remove", "notify", "call":
		if number, err = pager.ParseNumber(rest[0]); err != nil {
			return errUsagef("%q is not a phone number (+ and 8 to 15 digits)", rest[0])
		}
	case "add-client", "remove-client":
		v, err := strconv.ParseUint(rest[0], 10, 32)
		if err != nil || v == 0 {
			return errUsagef("client id %q is not a whole number from 1 to 4294967295", rest[0])
		}
		clientID = uint32(v)
	}
	secret, err := server.ReadPagerSecret(path)
	if err != nil {
		return err
	}
	if *timeout <= 0 {
		*timeout = 10 * time.Second
		if op == "call" {
			*timeout = 90 * time.Second
		}
	}
	c, err := pager.Dial(pager.ClientConfig{Server: *srv, Secret: secret, ID: uint32(*id)})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	switch op {
	case "add":
		err = c.Add(ctx, number)
	case "remove":
		err = c.Remove(ctx, number)
	case "notify":
		err = c.Notify(ctx, number, uint16(*party), *greeting)
	case "call":
		err = c.Call(ctx, number)
	case "add-client":
		err = c.AddClient(ctx, clientID)
	case "remove-client":
		err = c.RemoveClient(ctx, clientID)
	case "list":
		var l []uint64
		if l, err = c.List(ctx); err == nil {
			for _, n := range l {
				fmt.Fprintf(env.Stdout, "+%d\n", n)
			}
			return nil
		}
	}
	var ne *pager.NackError
	if errors.As(err, &ne) {
		return fmt.Errorf("refused: %s", ne.Reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "ok")
	return nil
}
