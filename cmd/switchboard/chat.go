package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"switchboard/internal/cpt"
)

// defaultChatServer is the spec's recommended CPT port on the loopback,
// where serve listens by default.
const defaultChatServer = "127.0.0.1:39168"

// The environment variables chat reads, so that scripts need not repeat
// the username and keep the password out of the process list.
const (
	envChatUser     = "SWITCHBOARD_CHAT_USER"
	envChatPassword = "SWITCHBOARD_CHAT_PASSWORD"
)

// maxChatInput bounds one line read from stdin. Longer than any line a
// server accepts, so the server, not chat, says what is too long.
const maxChatInput = 64 << 10

type chatOptions struct {
	server, user, password string
	useTLS, insecure       bool
	send, sync             string // the TARGET of --send, --sync
	sendSet, syncSet       bool   // given at all: --sync "" is the bare SYNC
	after                  int64
}

func cmdChat(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "chat")
	var o chatOptions
	fs.StringVar(&o.server, "server", defaultChatServer, "CPT server `HOST:PORT`")
	fs.StringVar(&o.user, "user", "", "username (default $"+envChatUser+", else the first argument)")
	fs.StringVar(&o.password, "password", "", "password, sent as CONNECT's second token (default $"+envChatPassword+")")
	fs.BoolVar(&o.useTLS, "tls", false, "connect with TLS")
	fs.BoolVar(&o.insecure, "tls-insecure", false, "connect with TLS without checking the server's certificate (tests only)")
	fs.StringVar(&o.send, "send", "", "send TEXT (the remaining arguments, or each line of stdin) to `TARGET` and exit")
	fs.StringVar(&o.sync, "sync", "", "print the messages of `TARGET` (\"\" or - for the messages sent to me) and exit")
	fs.Int64Var(&o.after, "after", 0, "with --sync, only messages after these UNIX `SECONDS`")
	usageLine := "usage: switchboard chat [--server HOST:PORT] [--user NAME | USERNAME] [--send TARGET TEXT... | --sync TARGET [--after SECONDS]]"
	pos, err := chatArgs(fs, args)
	if err != nil {
		return err
	}
	afterSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "send":
			o.sendSet = true
		case "sync":
			o.syncSet = true
		case "after":
			afterSet = true
		}
	})
	if o.user == "" {
		o.user = os.Getenv(envChatUser)
	}
	if o.user == "" && len(pos) > 0 {
		o.user, pos = pos[0], pos[1:]
	}
	if o.password == "" {
		o.password = os.Getenv(envChatPassword)
	}
	switch {
	case o.user == "":
		return errUsagef("no username: --user NAME, $%s or the first argument\n%s", envChatUser, usageLine)
	case o.sendSet && o.syncSet:
		return errUsagef("--send and --sync exclude each other")
	case o.sendSet && o.send == "":
		return errUsagef("--send needs a TARGET")
	case afterSet && !o.syncSet:
		return errUsagef("--after goes with --sync")
	case o.after < 0:
		return errUsagef("--after must be 0 or more")
	case !o.sendSet && len(pos) > 0:
		return errUsagef("unexpected arguments %q\n%s", pos, usageLine)
	}
	if o.sync == "-" {
		o.sync = ""
	}
	var texts []string
	if o.sendSet {
		if texts, err = chatTexts(env.Stdin, pos); err != nil {
			return err
		}
	}

	c, err := chatConnect(ctx, o)
	if err != nil {
		return err
	}
	switch {
	case o.sendSet:
		return chatSendAll(ctx, c, o.send, texts)
	case o.syncSet:
		return chatSyncOnce(ctx, c, env.Stdout, o.sync, o.after)
	}
	return chatInteractive(ctx, env, c, o)
}

// chatArgs parses flags among the arguments, like parseInterspersed, and
// takes everything after "--" as positional, so that a text may start with
// '-' ("chat --send g alice -- -5 degrees").
func chatArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	head, tail := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		head, tail = args[:i], args[i+1:]
	}
	pos, err := parseInterspersed(fs, head)
	return append(pos, tail...), err
}

// chatTexts is what --send sends: the arguments joined by single spaces
// as one message, or else one message per non-empty line of stdin (a CPT
// message is one line, so a multi-line input cannot be one message).
func chatTexts(stdin io.Reader, args []string) ([]string, error) {
	if len(args) > 0 {
		return []string{strings.Join(args, " ")}, nil
	}
	var texts []string
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 4096), maxChatInput)
	for sc.Scan() {
		if t := strings.TrimSuffix(sc.Text(), "\r"); t != "" {
			texts = append(texts, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(texts) == 0 {
		return nil, errUsagef("--send: no text in the arguments or on stdin")
	}
	return texts, nil
}

// chatConnect dials and sends CONNECT. A DECLINE closes the connection,
// as the spec says a client should, and becomes "declined: REASON".
func chatConnect(ctx context.Context, o chatOptions) (*cpt.Client, error) {
	var tlsConfig *tls.Config
	if o.useTLS || o.insecure {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure}
	}
	c, err := cpt.Dial(ctx, o.server, tlsConfig)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx, o.user, o.password); err != nil {
		c.Close()
		return nil, declined(err)
	}
	return c, nil
}

// declined rewrites a DECLINE as the "declined: REASON" that scripts
// match; other errors pass unchanged.
func declined(err error) error {
	var d *cpt.DeclineError
	if errors.As(err, &d) {
		return fmt.Errorf("declined: %s", d.Reason)
	}
	return err
}

// drainPushes discards pushes in the script modes, which do not show
// them, so that they cannot fill the channel and stall the command (see
// cpt.Client.Messages). It returns when the client is closed.
func drainPushes(c *cpt.Client) {
	go func() {
		for range c.Messages() {
		}
	}()
}

func chatSendAll(ctx context.Context, c *cpt.Client, target string, texts []string) error {
	defer c.Close()
	drainPushes(c)
	for _, t := range texts {
		if err := c.Send(ctx, target, t); err != nil {
			return declined(err)
		}
	}
	return nil
}

// chatSyncOnce prints one SYNC as "TIME GROUP SENDER TEXT" lines, TIME in
// RFC 3339 UTC so that the output sorts and parses the same everywhere.
func chatSyncOnce(ctx context.Context, c *cpt.Client, out io.Writer, target string, after int64) error {
	defer c.Close()
	drainPushes(c)
	msgs, err := c.Sync(ctx, target, after)
	if err != nil {
		return declined(err)
	}
	w := bufio.NewWriter(out)
	for _, m := range msgs {
		fmt.Fprintf(w, "%s %s %s %s\n", time.Unix(m.Time, 0).UTC().Format(time.RFC3339),
			printable(m.Group), printable(m.Sender), printable(m.Text))
	}
	return w.Flush()
}

// printable replaces control characters other than TAB (C0, DEL, C1) with
// U+FFFD, so that a message cannot move the cursor, clear the screen or
// fake a line of its own on the reader's terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// lockedWriter serializes the lines of the push printer and the command
// loop, which both write to the terminal.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// chatSession is the state of the interactive mode.
type chatSession struct {
	c        *cpt.Client
	out, msg *lockedWriter    // notices (stderr) and scrollback (stdout)
	target   string           // where plain lines go
	lastSync map[string]int64 // per group ("" for mine): local time of the last ENDSYNC
}

const chatHelp = `commands:
  TEXT              send TEXT to the current target
  //TEXT            send "/TEXT"
  /join GROUP       make GROUP the current target and show its history
  /msg TARGET TEXT  send TEXT to TARGET (a user, a group or a phone number)
  /sync [GROUP]     show what GROUP got since the last /sync of it
                    (default the current target; - for messages to me)
  /help             this list
  /quit             leave (so does the end of input)
`

// chatInteractive reads commands and texts from stdin, one per line, and
// prints pushes as they arrive. It works the same whether stdin is a
// terminal or a pipe, which is how the tests drive it.
func chatInteractive(ctx context.Context, env *Env, c *cpt.Client, o chatOptions) error {
	s := &chatSession{
		c:        c,
		out:      &lockedWriter{w: env.Stderr},
		msg:      &lockedWriter{w: env.Stdout},
		lastSync: map[string]int64{},
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for m := range c.Messages() {
			s.show(m)
		}
	}()
	defer func() {
		c.Close()
		<-gone // every push received is printed before chat returns
	}()

	stop := make(chan struct{})
	defer close(stop)
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		// Reading stdin cannot be interrupted; on a signal this
		// goroutine stays blocked until the process exits, which is
		// at once.
		sc := bufio.NewScanner(env.Stdin)
		sc.Buffer(make([]byte, 0, 4096), maxChatInput)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
		readErr <- sc.Err()
		close(lines)
	}()

	s.out.printf("connected to %s as %s; /help for commands\n", o.server, o.user)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gone:
			return errors.New("the server closed the connection")
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return fmt.Errorf("reading stdin: %w", err)
				}
				return nil
			}
			quit, err := s.handle(ctx, strings.TrimSuffix(line, "\r"))
			if err != nil || quit {
				return err
			}
		}
	}
}

// handle runs one input line. Declines and bad input are reported and the
// session goes on; only a dead connection ends it with an error.
func (s *chatSession) handle(ctx context.Context, line string) (quit bool, err error) {
	if line == "" {
		return false, nil
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		if strings.HasPrefix(line, "//") {
			line = line[1:]
		}
		if s.target == "" {
			s.out.printf("no target: /join GROUP, or /msg TARGET TEXT\n")
			return false, nil
		}
		return false, s.report(s.c.Send(ctx, s.target, line))
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	switch cmd {
	case "quit", "exit":
		return true, nil
	case "help":
		s.out.printf("%s", chatHelp)
	case "join":
		if arg == "" || strings.Contains(arg, " ") {
			s.out.printf("usage: /join GROUP\n")
			return false, nil
		}
		if err := cpt.ValidName([]byte(arg)); err != nil {
			return false, s.report(err)
		}
		s.target = arg
		s.out.printf("now talking to %s\n", printable(arg))
		return false, s.sync(ctx, arg, 0)
	case "msg":
		target, text, ok := strings.Cut(arg, " ")
		if !ok || target == "" || text == "" {
			s.out.printf("usage: /msg TARGET TEXT\n")
			return false, nil
		}
		return false, s.report(s.c.Send(ctx, target, text))
	case "sync":
		group := arg
		if group == "" {
			group = s.target
		}
		if group == "-" {
			group = ""
		}
		return false, s.sync(ctx, group, s.lastSync[group])
	default:
		s.out.printf("unknown command /%s; /help lists them\n", printable(cmd))
	}
	return false, nil
}

// sync prints a group's messages after the given time and remembers when
// it did, as the reference client does: the next /sync of the group asks
// for what came after this one's ENDSYNC, by the local clock.
func (s *chatSession) sync(ctx context.Context, group string, after int64) error {
	msgs, err := s.c.Sync(ctx, group, after)
	if err != nil {
		return s.report(err)
	}
	s.lastSync[group] = time.Now().Unix()
	for _, m := range msgs {
		s.show(m)
	}
	if len(msgs) == 0 {
		s.out.printf("no new messages\n")
	}
	return nil
}

// report prints an error that leaves the session usable (a DECLINE, or
// input the client refused to send) and returns any other.
func (s *chatSession) report(err error) error {
	var d *cpt.DeclineError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &d):
		s.out.printf("declined: %s\n", printable(d.Reason))
		return nil
	case errors.Is(err, cpt.ErrBadFormat):
		s.out.printf("not sent: %v\n", err)
		return nil
	}
	return err
}

// show prints a message as a scrollback line "[15:04:05] group <sender>
// text", in local time; a timeless message (timestamp 0) shows dashes.
func (s *chatSession) show(m cpt.Message) {
	clock := "--:--:--"
	if m.Time != 0 {
		clock = time.Unix(m.Time, 0).Format("15:04:05")
	}
	s.msg.printf("[%s] %s <%s> %s\n", clock, printable(m.Group), printable(m.Sender), printable(m.Text))
}
