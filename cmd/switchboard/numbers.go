package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"switchboard/internal/datadir"
	"switchboard/internal/numbering"
)

// The numbers and peers commands manage the numbering database
// (DATA/numbering.db, docs/numbering.md) while the server runs: each change
// opens the file for the length of one transaction, then tells a running
// server to reload. The command forms are a contract other scripts rely on.

// verb is one verb of a command group such as "numbers add".
type verb struct {
	name     string
	synopsis string // arguments, for usage text
	summary  string
	// run gets a flag set that already has --data and this verb's usage
	// text; it adds its own options.
	run func(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error
}

var numbersSubcommands = []verb{
	{"add", "NUMBER --type local|gsm|none [--smsprov]", "add a locally owned number (NANP or 4-digit special)", numbersAdd},
	{"change", "NUMBER --type local|gsm|none [--smsprov]", "change a number's type and SMS-provisioned flag in place", numbersChange},
	{"remove", "NUMBER", "remove a locally owned number", numbersRemove},
	{"list", "", "list locally owned numbers", numbersList},
}

var peersSubcommands = []verb{
	{"add", "NAME [--pool PREFIX]... [--system-id ID --password PASS|--password-stdin] [--allow-ip CIDR]...", "add a downstream peer", peersAdd},
	{"remove", "NAME", "remove a peer and release its pool", peersRemove},
	{"list", "", "list peers and their pools (passwords are never shown)", peersList},
	{"add-pool", "NAME ENTRY...", "add entries (numbers or prefixes) to a peer's pool", peersAddPool},
	{"remove-pool", "NAME ENTRY...", "remove entries from a peer's pool", peersRemovePool},
}

// cmdNumbers manages locally owned numbers (seed 001 §1.1, §2.4.2).
func cmdNumbers(ctx context.Context, env *Env, args []string) error {
	return dispatchVerb(ctx, env, "numbers", numbersSubcommands, args)
}

// cmdPeers manages downstream peers and their number pools (seed 001 §1.2).
func cmdPeers(ctx context.Context, env *Env, args []string) error {
	return dispatchVerb(ctx, env, "peers", peersSubcommands, args)
}

func dispatchVerb(ctx context.Context, env *Env, group string, subs []verb, args []string) error {
	if len(args) == 0 {
		verbUsage(env.Stderr, group, subs)
		return errUsagef("missing subcommand")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		verbUsage(env.Stderr, group, subs)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			fs, data := verbFlagSet(env, group, s)
			return s.run(ctx, env, fs, data, args[1:])
		}
	}
	verbUsage(env.Stderr, group, subs)
	return errUsagef("unknown subcommand %q", args[0])
}

func verbUsage(w io.Writer, group string, subs []verb) {
	fmt.Fprintf(w, "usage:\n")
	for _, s := range subs {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace("switchboard "+group+" "+s.name+" "+s.synopsis))
	}
	fmt.Fprintf(w, "\nEvery form takes --data DIR (default ./data).\n")
}

// verbFlagSet is newFlagSet with a usage line for "group verb".
func verbFlagSet(env *Env, group string, sub verb) (*flag.FlagSet, *string) {
	fs, data := newFlagSet(env, group+" "+sub.name)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n  %s\n\noptions:\n", strings.TrimSpace("switchboard "+group+" "+sub.name+" "+sub.synopsis), sub.summary)
		fs.PrintDefaults()
	}
	return fs, data
}

// repeatedFlag collects a repeatable option; each use may also hold a
// comma-separated list.
type repeatedFlag []string

func (l *repeatedFlag) String() string { return strings.Join(*l, ",") }

func (l *repeatedFlag) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// usageErr turns a validation error of the numbering package into a usage
// error (exit status 2) that keeps the package's sentinel for errors.Is.
func usageErr(err error) error {
	return fmt.Errorf("%w: %w", errUsage, err)
}

// parseOwnedNumber parses a NUMBER argument that must be locally ownable.
// Error messages do not repeat the number: the operator typed it.
func parseOwnedNumber(s string) (numbering.Number, error) {
	n, err := numbering.ParseNumberArg(s)
	if err != nil {
		return numbering.Number{}, usageErr(err)
	}
	if n.Kind != numbering.NANP && n.Kind != numbering.Special {
		return numbering.Number{}, errUsagef("only NANP numbers (+1NPANXXXXXX, 1NPANXXXXXX, NPANXXXXXX) and 4-digit special numbers can be locally owned, not a %s number", n.Kind)
	}
	return n, nil
}

// changeDB applies one change to the database and tells a running server
// to reload. The database is held only while change runs, so the server
// is never kept from reloading for long. If the change was saved but the
// server could not be told, the command fails, saying so: the operator
// must know that the change is not yet in effect.
func changeDB(ctx context.Context, env *Env, dataDir string, change func(*numbering.DB) error) error {
	if err := datadir.Ensure(dataDir); err != nil {
		return err
	}
	db, err := numbering.Open(numbering.Path(dataDir))
	if err != nil {
		return err
	}
	err = change(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := notifyNumberingChanged(ctx, env, dataDir); err != nil {
		return fmt.Errorf("change saved, but the running server was not told to reload (it takes effect at its next reload or restart): %w", err)
	}
	return nil
}

func numbersAdd(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return numbersSet(ctx, env, fs, data, args, (*numbering.DB).AddNumber)
}

func numbersChange(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return numbersSet(ctx, env, fs, data, args, (*numbering.DB).ChangeNumber)
}

// numbersSet is add and change, which take the same arguments.
func numbersSet(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string,
	apply func(*numbering.DB, numbering.Number, numbering.Type, bool) error) error {
	typ := fs.String("type", "", "how the number takes SMS: local (store-only), gsm, or none (not SMS-capable) (required)")
	smsprov := fs.Bool("smsprov", false, "the number is provisioned for outside SMS and may send upstream (NANP numbers only)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsagef("want exactly one NUMBER, got %d arguments", len(pos))
	}
	n, err := parseOwnedNumber(pos[0])
	if err != nil {
		return err
	}
	if *typ == "" {
		return errUsagef("--type local|gsm|none is required")
	}
	t, err := numbering.ParseType(*typ)
	if err != nil {
		return usageErr(err)
	}
	if *smsprov && n.Kind == numbering.Special {
		return errUsagef("--smsprov applies to NANP numbers only: a special number cannot send upstream")
	}
	return changeDB(ctx, env, *data, func(db *numbering.DB) error { return apply(db, n, t, *smsprov) })
}

func numbersRemove(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsagef("want exactly one NUMBER, got %d arguments", len(pos))
	}
	n, err := parseOwnedNumber(pos[0])
	if err != nil {
		return err
	}
	return changeDB(ctx, env, *data, func(db *numbering.DB) error { return db.RemoveNumber(n) })
}

// numbersList prints NUMBER TYPE SMSPROV, NANP numbers as +1NPANXXXXXX
// (which every NUMBER argument accepts back), then the specials.
func numbersList(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsagef("unexpected argument %q", pos[0])
	}
	tab, err := numbering.LoadTable(numbering.Path(*data))
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NUMBER\tTYPE\tSMSPROV")
	for _, e := range tab.Numbers() {
		prov := "no"
		if e.SMSProv {
			prov = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", e, e.Type, prov)
	}
	return w.Flush()
}

// peerName takes the NAME argument, checked before the database is opened.
func peerName(pos []string, more bool) (string, error) {
	if len(pos) == 0 {
		return "", errUsagef("missing NAME")
	}
	if !more && len(pos) > 1 {
		return "", errUsagef("unexpected argument %q", pos[1])
	}
	if err := numbering.ValidatePeerName(pos[0]); err != nil {
		return "", usageErr(err)
	}
	return pos[0], nil
}

func peersAdd(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	var pool, allow repeatedFlag
	fs.Var(&pool, "pool", "pool entry: a number (+1NPANXXXXXX, 1NPANXXXXXX, NPANXXXXXX) or a prefix such as 1619555; repeatable, or comma-separated")
	systemID := fs.String("system-id", "", "SMPP system_id the peer binds with (1-15 characters)")
	password := fs.String("password", "", "SMPP password (stored hashed); visible in the process list, so prefer --password-stdin")
	passwordStdin := fs.Bool("password-stdin", false, "read the SMPP password from the first line of standard input")
	fs.Var(&allow, "allow-ip", "address or CIDR prefix binds are accepted from; repeatable (default: any address)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	name, err := peerName(pos, false)
	if err != nil {
		return err
	}
	p := numbering.Peer{Name: name, Pool: pool}
	for _, s := range allow {
		pfx, err := parseAllowIP(s)
		if err != nil {
			return err
		}
		p.AllowIPs = append(p.AllowIPs, pfx)
	}
	for _, e := range pool {
		if _, err := numbering.ParsePoolEntry(e); err != nil {
			return usageErr(err)
		}
	}
	pass := *password
	if *passwordStdin {
		if pass != "" {
			return errUsagef("--password and --password-stdin exclude each other")
		}
		if pass, err = readPasswordLine(env.Stdin); err != nil {
			return err
		}
	}
	if (*systemID == "") != (pass == "") {
		return errUsagef("--system-id and a password go together")
	}
	if *systemID != "" {
		if err := numbering.ValidateSystemID(*systemID); err != nil {
			return usageErr(err)
		}
		p.SystemID = *systemID
		if p.PasswordHash, err = numbering.HashPassword(pass); err != nil {
			return usageErr(err)
		}
	}
	return changeDB(ctx, env, *data, func(db *numbering.DB) error { return db.AddPeer(p) })
}

// parseAllowIP accepts a CIDR prefix or a bare address (one host).
func parseAllowIP(s string) (netip.Prefix, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx, nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errUsagef("--allow-ip %q is neither an address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(addr.WithZone(""), addr.BitLen()), nil
}

func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errUsagef("--password-stdin: empty password")
	}
	return line, nil
}

func peersRemove(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	name, err := peerName(pos, false)
	if err != nil {
		return err
	}
	return changeDB(ctx, env, *data, func(db *numbering.DB) error { return db.RemovePeer(name) })
}

func peersAddPool(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return peersPool(ctx, env, fs, data, args, (*numbering.DB).AddPoolEntry)
}

func peersRemovePool(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return peersPool(ctx, env, fs, data, args, (*numbering.DB).RemovePoolEntry)
}

// peersPool is add-pool and remove-pool: NAME then one or more entries,
// applied all or none.
func peersPool(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string,
	apply func(*numbering.DB, string, ...string) error) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	name, err := peerName(pos, true)
	if err != nil {
		return err
	}
	entries := pos[1:]
	if len(entries) == 0 {
		return errUsagef("missing ENTRY")
	}
	for _, e := range entries {
		if _, err := numbering.ParsePoolEntry(e); err != nil {
			return usageErr(err)
		}
	}
	return changeDB(ctx, env, *data, func(db *numbering.DB) error { return apply(db, name, entries...) })
}

// peersList prints NAME SYSTEM-ID ALLOW-IP POOL. Passwords and their
// hashes are never printed.
func peersList(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsagef("unexpected argument %q", pos[0])
	}
	tab, err := numbering.LoadTable(numbering.Path(*data))
	if err != nil {
		return err
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSYSTEM-ID\tALLOW-IP\tPOOL")
	for _, p := range tab.Peers() {
		ips := make([]string, len(p.AllowIPs))
		for i, pfx := range p.AllowIPs {
			ips[i] = pfx.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, dash(p.SystemID), dash(strings.Join(ips, ",")), dash(strings.Join(p.Pool, ",")))
	}
	return w.Flush()
}
