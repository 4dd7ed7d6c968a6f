package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"switchboard/internal/accounts"
	"switchboard/internal/datadir"
	"switchboard/internal/numbering"
)

// The accounts command manages the account registry (DATA/accounts.db,
// docs/accounts.md) shared by the chat front-ends, while the server runs:
// each change opens the file for the length of one transaction, then tells
// a running server to reload. The command forms are a contract other
// scripts rely on.

var accountsSubcommands = []verb{
	{"add", "NAME [--password PASS|--password-stdin] [--number NUMBER] [--allow-ip CIDR]...", "add an account (without --password it logs in with its name alone)", accountsAdd},
	{"remove", "NAME", "remove an account and release its number", accountsRemove},
	{"lock", "NAME", "refuse the account's logins (it keeps its password, number and addresses)", accountsLock},
	{"unlock", "NAME", "accept the account's logins again", accountsUnlock},
	{"passwd", "NAME --password PASS|--password-stdin|--clear", "set or remove (--clear, or --password '') the account's password", accountsPasswd},
	{"number", "NAME NUMBER|--clear", "give the account a locally owned number, or take it away", accountsNumber},
	{"allow-ip", "NAME CIDR...|--clear", "replace the addresses the account may log in from (--clear: any address)", accountsAllowIP},
	{"list", "", "list accounts (passwords are never shown)", accountsList},
}

// errNotLocal means an account was to own a number that is not a locally
// owned number in the numbering database.
var errNotLocal = errors.New("not a locally owned number (add it first with 'switchboard numbers add')")

// cmdAccounts manages the chat accounts.
func cmdAccounts(ctx context.Context, env *Env, args []string) error {
	return dispatchVerb(ctx, env, "accounts", accountsSubcommands, args)
}

// withDB opens a database, hands it to use and closes it, so that the file
// lock is held for exactly one use. A Close error is reported when use
// itself succeeded: it can mean the change did not reach the disk.
func withDB[D interface{ Close() error }](open func(string) (D, error), path string, use func(D) error) error {
	db, err := open(path)
	if err != nil {
		return err
	}
	err = use(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// reloadAfterChange tells a running server that a database changed. If the
// change was saved but the server could not be told, the command fails,
// saying so: the operator must know that the change is not yet in effect.
// With no server running it does nothing: serve reads the files when it
// starts.
func reloadAfterChange(ctx context.Context, env *Env, dataDir string) error {
	if err := notifyNumberingChanged(ctx, env, dataDir); err != nil {
		return fmt.Errorf("change saved, but the running server was not told to reload (it takes effect at its next reload or restart): %w", err)
	}
	return nil
}

// changeAccounts applies one change to the accounts database and tells a
// running server to reload (NUMBERING_RELOAD reloads the accounts too).
func changeAccounts(ctx context.Context, env *Env, dataDir string, change func(*accounts.DB) error) error {
	if err := datadir.Ensure(dataDir); err != nil {
		return err
	}
	if err := withDB(accounts.Open, accounts.Path(dataDir), change); err != nil {
		return err
	}
	return reloadAfterChange(ctx, env, dataDir)
}

// accountName takes the NAME argument, checked before any file is opened.
// want is the number of positional arguments the verb takes in all.
func accountName(pos []string, want int) (string, error) {
	if len(pos) == 0 {
		return "", errUsagef("missing NAME")
	}
	if len(pos) > want {
		return "", errUsagef("unexpected argument %q", pos[want])
	}
	if err := accounts.ValidName(pos[0]); err != nil {
		return "", usageErr(err)
	}
	return pos[0], nil
}

// parseNameOnly parses the options and exactly one positional argument,
// NAME.
func parseNameOnly(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	return accountName(pos, 1)
}

// accountNumber resolves a NUMBER argument to the stored form
// "1NPANXXXXXX". It must be a NANP number (specials and short codes cannot
// receive SMS from outside and have no E.164 form to send from) and a
// locally owned one: SMS to it must be routed here for the account to get
// them. The numbering database is read with a shared lock. Errors do not
// repeat the digits, so that they can go to a log: the operator typed them.
func accountNumber(dataDir, s string) (string, error) {
	n, err := numbering.ParseNumberArg(s)
	if err != nil {
		return "", usageErr(err)
	}
	if n.Kind != numbering.NANP {
		return "", errUsagef("an account's number is a NANP number (+1NPANXXXXXX, 1NPANXXXXXX or NPANXXXXXX), not a %s number", n.Kind)
	}
	tab, err := numbering.LoadTable(numbering.Path(dataDir))
	if err != nil {
		return "", err
	}
	if _, ok := tab.LookupLocal(n.E164); !ok {
		return "", errNotLocal
	}
	return n.E164, nil
}

// passwordOptions are --password and --password-stdin.
type passwordOptions struct {
	fs    *flag.FlagSet
	value *string
	stdin *bool
}

func addPasswordOptions(fs *flag.FlagSet) passwordOptions {
	return passwordOptions{
		fs:    fs,
		value: fs.String("password", "", "the password (1-64 bytes, no spaces; stored hashed); visible in the process list, so prefer --password-stdin"),
		stdin: fs.Bool("password-stdin", false, "read the password from the first line of standard input"),
	}
}

// get returns the password and whether either option was given at all, so
// that --password "" (remove) differs from no option.
func (o passwordOptions) get(env *Env) (pass string, given bool, err error) {
	o.fs.Visit(func(f *flag.Flag) { given = given || f.Name == "password" })
	if !*o.stdin {
		return *o.value, given, nil
	}
	if given {
		return "", true, errUsagef("--password and --password-stdin exclude each other")
	}
	// An empty line is refused rather than read as "remove": an empty
	// pipe must not silently open an account.
	pass, err = readPasswordLine(env.Stdin)
	return pass, true, err
}

func accountsAdd(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pw := addPasswordOptions(fs)
	number := fs.String("number", "", "a locally owned NANP number the account owns (+1NPANXXXXXX, 1NPANXXXXXX or NPANXXXXXX)")
	var allow repeatedFlag
	fs.Var(&allow, "allow-ip", "address or CIDR prefix logins are accepted from; repeatable, or comma-separated (default: any address)")
	name, err := parseNameOnly(fs, args)
	if err != nil {
		return err
	}
	a := accounts.Account{Name: name}
	if a.AllowIPs, err = parseAllowIPs(allow); err != nil {
		return err
	}
	pass, _, err := pw.get(env)
	if err != nil {
		return err
	}
	if pass != "" {
		if a.PasswordHash, err = accounts.HashPassword(pass); err != nil {
			return usageErr(err)
		}
	}
	if *number != "" {
		if a.Number, err = accountNumber(*data, *number); err != nil {
			return err
		}
	}
	return changeAccounts(ctx, env, *data, func(db *accounts.DB) error { return db.Add(a) })
}

func parseAllowIPs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		pfx, err := parseAllowIP(s)
		if err != nil {
			return nil, err
		}
		out = append(out, pfx)
	}
	return out, nil
}

func accountsRemove(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return accountsSimple(ctx, env, fs, data, args, (*accounts.DB).Remove)
}

func accountsLock(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return accountsSimple(ctx, env, fs, data, args, func(db *accounts.DB, name string) error { return db.SetLocked(name, true) })
}

func accountsUnlock(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	return accountsSimple(ctx, env, fs, data, args, func(db *accounts.DB, name string) error { return db.SetLocked(name, false) })
}

// accountsSimple is a verb that takes NAME alone.
func accountsSimple(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string,
	apply func(*accounts.DB, string) error) error {
	name, err := parseNameOnly(fs, args)
	if err != nil {
		return err
	}
	return changeAccounts(ctx, env, *data, func(db *accounts.DB) error { return apply(db, name) })
}

func accountsPasswd(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pw := addPasswordOptions(fs)
	clearOpt := fs.Bool("clear", false, "remove the password: the account logs in with its name alone")
	name, err := parseNameOnly(fs, args)
	if err != nil {
		return err
	}
	pass, given, err := pw.get(env)
	if err != nil {
		return err
	}
	switch {
	case *clearOpt && given:
		return errUsagef("--clear excludes --password and --password-stdin")
	case !*clearOpt && !given:
		// Without an option, "passwd NAME" would have to guess between
		// prompting and removing; removing by accident opens the account.
		return errUsagef("want --password PASS, --password-stdin or --clear")
	}
	if pass != "" {
		if err := accounts.CheckPassword(pass); err != nil {
			return usageErr(err)
		}
	}
	return changeAccounts(ctx, env, *data, func(db *accounts.DB) error { return db.SetPassword(name, pass) })
}

// parseClearable parses "NAME VALUE..." or "NAME --clear", the forms of
// the verbs that replace or clear one field. It returns no values for
// --clear; maxValues > 0 bounds their number.
func parseClearable(fs *flag.FlagSet, args []string, what, clearUsage string, maxValues int) (string, []string, error) {
	clearOpt := fs.Bool("clear", false, clearUsage)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", nil, err
	}
	name, err := accountName(pos, len(pos)) // the values are checked below
	if err != nil {
		return "", nil, err
	}
	values := pos[1:]
	switch {
	case *clearOpt && len(values) > 0:
		return "", nil, errUsagef("--clear excludes %s", what)
	case !*clearOpt && len(values) == 0:
		return "", nil, errUsagef("want %s or --clear", what)
	case maxValues > 0 && len(values) > maxValues:
		return "", nil, errUsagef("unexpected argument %q", values[maxValues])
	}
	return name, values, nil
}

func accountsNumber(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	name, values, err := parseClearable(fs, args, "NUMBER", "take the account's number away", 1)
	if err != nil {
		return err
	}
	e164 := ""
	if len(values) > 0 {
		if e164, err = accountNumber(*data, values[0]); err != nil {
			return err
		}
	}
	return changeAccounts(ctx, env, *data, func(db *accounts.DB) error { return db.SetNumber(name, e164) })
}

func accountsAllowIP(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	name, values, err := parseClearable(fs, args, "CIDR...", "accept logins from any address", 0)
	if err != nil {
		return err
	}
	var list repeatedFlag
	for _, s := range values {
		_ = list.Set(s) // each argument may also be a comma-separated list
	}
	if len(values) > 0 && len(list) == 0 {
		// Only commas: clearing must be asked for by name.
		return errUsagef("want CIDR... or --clear")
	}
	allow, err := parseAllowIPs(list)
	if err != nil {
		return err
	}
	return changeAccounts(ctx, env, *data, func(db *accounts.DB) error { return db.SetAllowIPs(name, allow) })
}

// accountsList prints NAME LOCKED PASSWORD NUMBER ALLOW-IP CREATED.
// Passwords and their hashes are never printed; numbers are printed as
// +1NPANXXXXXX, which every NUMBER argument accepts back.
func accountsList(ctx context.Context, env *Env, fs *flag.FlagSet, data *string, args []string) error {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsagef("unexpected argument %q", pos[0])
	}
	tab, err := accounts.Load(accounts.Path(*data))
	if err != nil {
		return err
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tLOCKED\tPASSWORD\tNUMBER\tALLOW-IP\tCREATED")
	for _, a := range tab.Accounts() {
		number, ips := "-", "-"
		if a.Number != "" {
			number = "+" + a.Number
		}
		if len(a.AllowIPs) > 0 {
			s := make([]string, len(a.AllowIPs))
			for i, pfx := range a.AllowIPs {
				s[i] = pfx.String()
			}
			ips = strings.Join(s, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, yesNo(a.Locked), yesNo(a.HasPassword()), number, ips, a.Created.Format(time.RFC3339))
	}
	return w.Flush()
}
