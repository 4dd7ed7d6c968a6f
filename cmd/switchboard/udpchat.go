package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"switchboard/internal/udpchat"
)

// defaultUDPChatServer is where serve listens for CHAT UDP by default.
const defaultUDPChatServer = "127.0.0.1:39169"

const udpchatUsage = `usage: switchboard udpchat [--server HOST:PORT] [--script] [--keepalive D] NAME [COMMAND ARGS...]

Registers NAME, runs COMMAND, logs out. Commands:
  broadcast TEXT...   send TEXT to every user (the lobby)
  send USER TEXT...   send TEXT to USER
  list                print the users online, one per line
  info                print the server's date and version
  listen [--for D] [--count N]
                      print what arrives (for D, or until N messages)
Without a COMMAND, lines from stdin are commands, as in a chat:
  TEXT                broadcast TEXT       //TEXT  broadcast "/TEXT"
  /msg USER TEXT      private message      /list   /info   /quit
--script prints everything in a fixed form for programs:
  OK | ERROR <text> | PUBLIC <sender> <text> | DIRECT <sender> <text> |
  LIST <name>... | INFO <text>
The exit status is 0 only when every request was answered OK.
`

type udpchatOptions struct {
	server    string
	script    bool
	keepalive time.Duration
}

func cmdUDPChat(ctx context.Context, env *Env, args []string) error {
	fs, _ := newFlagSet(env, "udpchat")
	var o udpchatOptions
	fs.StringVar(&o.server, "server", defaultUDPChatServer, "CHAT UDP server `HOST:PORT`")
	fs.BoolVar(&o.script, "script", false, "fixed output for programs (see -h)")
	fs.DurationVar(&o.keepalive, "keepalive", 30*time.Second, "ask for the server info this often while running, so that the session does not expire (0: off)")
	fs.Usage = func() { fmt.Fprint(env.Stderr, udpchatUsage); fs.PrintDefaults() }
	// Flags come before NAME; everything after it belongs to the command.
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) == 0 {
		return errUsagef("udpchat needs a NAME\n%s", udpchatUsage)
	}
	name, pos := pos[0], pos[1:]
	c, err := udpchat.Dial(o.server, udpchat.ClientConfig{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Register(ctx, name); err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	// Whatever happens next, give the name back.
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = c.Logout(lctx)
	}()
	p := &udpchatPrinter{out: &lockedWriter{w: env.Stdout}, script: o.script}
	// The keepalive runs beside whatever the command does: a session that
	// only listens would otherwise expire. 0 (or less) turns it off, and
	// time.NewTicker would panic on it.
	if o.keepalive > 0 {
		kctx, stopKeepalive := context.WithCancel(ctx)
		defer stopKeepalive()
		go func() {
			t := time.NewTicker(o.keepalive)
			defer t.Stop()
			for {
				select {
				case <-kctx.Done():
					return
				case <-t.C:
					_, _ = c.Info(kctx)
				}
			}
		}()
	}
	if len(pos) == 0 {
		return udpchatInteractive(ctx, env, c, p)
	}
	return udpchatOnce(ctx, c, p, pos)
}

// udpchatOnce runs one command.
func udpchatOnce(ctx context.Context, c *udpchat.Client, p *udpchatPrinter, pos []string) error {
	cmd, rest := pos[0], pos[1:]
	switch cmd {
	case "broadcast":
		if len(rest) == 0 {
			return errUsagef("broadcast needs a TEXT")
		}
		return p.result(c.Broadcast(ctx, strings.Join(rest, " ")))
	case "send":
		if len(rest) < 2 {
			return errUsagef("send needs USER and TEXT")
		}
		return p.result(c.Send(ctx, rest[0], strings.Join(rest[1:], " ")))
	case "list":
		return p.showList(c.List(ctx))
	case "info":
		return p.showInfo(c.Info(ctx))
	case "listen":
		fs := flag.NewFlagSet("listen", flag.ContinueOnError)
		d := fs.Duration("for", 0, "stop after this long (0: until interrupted or --count)")
		n := fs.Int("count", 0, "stop after this many messages (0: no limit)")
		if err := fs.Parse(rest); err != nil {
			return errUsagef("listen: %v", err)
		}
		if *d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *d)
			defer cancel()
		}
		got := 0
		for {
			select {
			case <-ctx.Done():
				return nil
			case pkt, ok := <-c.Events():
				if !ok {
					return nil
				}
				if p.event(pkt) {
					got++
					if *n > 0 && got >= *n {
						return nil
					}
				}
			}
		}
	}
	return errUsagef("unknown udpchat command %q\n%s", cmd, udpchatUsage)
}

// udpchatInteractive reads commands from stdin and prints what arrives.
func udpchatInteractive(ctx context.Context, env *Env, c *udpchat.Client, p *udpchatPrinter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for pkt := range c.Events() {
			p.event(pkt)
		}
	}()
	var failed error
	sc := bufio.NewScanner(env.Stdin)
	sc.Buffer(make([]byte, 64<<10), maxChatInput)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		quit, err := udpchatLine(ctx, c, p, line)
		if err != nil {
			failed = err
		}
		if quit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return failed
}

// udpchatLine runs one interactive line.
func udpchatLine(ctx context.Context, c *udpchat.Client, p *udpchatPrinter, line string) (quit bool, err error) {
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		text := strings.TrimPrefix(line, "/")
		return false, p.result(c.Broadcast(ctx, text))
	}
	cmd, rest, _ := strings.Cut(line, " ")
	switch cmd {
	case "/quit":
		return true, nil
	case "/list":
		return false, p.showList(c.List(ctx))
	case "/info":
		return false, p.showInfo(c.Info(ctx))
	case "/msg":
		to, text, ok := strings.Cut(rest, " ")
		if !ok || to == "" || text == "" {
			return false, p.result(errors.New("usage: /msg USER TEXT"))
		}
		return false, p.result(c.Send(ctx, to, text))
	default:
		return false, p.result(fmt.Errorf("unknown command %s (try /msg, /list, /info, /quit)", cmd))
	}
}

// udpchatPrinter prints answers and pushes, for people or for scripts.
type udpchatPrinter struct {
	out    *lockedWriter
	script bool
}

// result prints a request's outcome and returns err for the exit status.
func (p *udpchatPrinter) result(err error) error {
	var se *udpchat.ServerError
	switch {
	case err == nil:
		if p.script {
			p.out.printf("OK\n")
		}
	case errors.As(err, &se):
		if p.script {
			p.out.printf("ERROR %s\n", printable(se.Text))
		} else {
			p.out.printf("error: %s\n", printable(se.Text))
		}
	default:
		if p.script {
			p.out.printf("ERROR %s\n", printable(err.Error()))
		} else {
			p.out.printf("error: %v\n", err)
		}
	}
	return err
}

// showList prints a List answer, or its error, which it returns for the
// exit status.
func (p *udpchatPrinter) showList(names []string, err error) error {
	if err != nil {
		return p.result(err)
	}
	p.list(names)
	return nil
}

// showInfo prints an Info answer, or its error, which it returns for the
// exit status.
func (p *udpchatPrinter) showInfo(info string, err error) error {
	if err != nil {
		return p.result(err)
	}
	p.info(info)
	return nil
}

func (p *udpchatPrinter) list(names []string) {
	for i := range names {
		names[i] = printable(names[i])
	}
	if p.script {
		p.out.printf("LIST %s\n", strings.Join(names, " "))
		return
	}
	p.out.printf("users: %s\n", strings.Join(names, ", "))
}

func (p *udpchatPrinter) info(s string) {
	if p.script {
		p.out.printf("INFO %s\n", printable(s))
		return
	}
	p.out.printf("server: %s\n", printable(s))
}

// event prints a pushed packet; it reports whether it was a message.
func (p *udpchatPrinter) event(pkt udpchat.Packet) bool {
	switch pkt.Op {
	case udpchat.OpPublic, udpchat.OpDirect:
		from, text, err := udpchat.SplitNameText(pkt.Data)
		if err != nil {
			return false
		}
		f, t := printable(string(from)), printable(string(text))
		switch {
		case p.script && pkt.Op == udpchat.OpPublic:
			p.out.printf("PUBLIC %s %s\n", f, t)
		case p.script:
			p.out.printf("DIRECT %s %s\n", f, t)
		case pkt.Op == udpchat.OpPublic:
			p.out.printf("<%s> %s\n", f, t)
		default:
			p.out.printf("*%s* %s\n", f, t)
		}
		return true
	case udpchat.OpListReply:
		if !p.script {
			return false // the periodic list would flood a person's screen
		}
		p.list(udpchat.SplitList(pkt.Data))
	case udpchat.OpError:
		_ = p.result(&udpchat.ServerError{Text: string(pkt.Data)})
	}
	return false
}
