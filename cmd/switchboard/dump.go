package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"switchboard/internal/datadir"
	"switchboard/internal/dump"
	"switchboard/internal/pms"
)

// cmdDump prints records of the message store. It opens the file read-only
// and takes no lock, so it runs beside serve; what it shows is the store as
// it was when it started.
func cmdDump(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "dump")
	file := fs.String("file", "", "read this store file (an archive) instead of DIR/pms.bin")
	since := fs.String("since", "", "first entry time to show (inclusive): RFC 3339, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC) or unix seconds")
	until := fs.String("until", "", "entry time to stop at (exclusive), same formats as --since")
	count := fs.Int("count", 0, "print at most N rows after filtering (0: no limit)")
	number := fs.String("number", "", "only SMs whose source or destination is this number")
	src := fs.String("src", "", "only SMs from this number (or alphanumeric sender)")
	dst := fs.String("dst", "", "only SMs to this number")
	user := fs.String("user", "", "only chat messages from or to this chat user or group")
	class := fs.String("class", "", "only records whose source or destination class is this: local, gsm, upstream, downstream, chat")
	state := fs.String("state", "", "only records in this state: active or historical")
	showText := fs.Bool("show-text", false, "print message text (private: only when troubleshooting needs it)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsagef("unexpected argument %q", fs.Arg(0))
	}

	o := dump.Options{
		Count:    *count,
		Number:   *number,
		Src:      *src,
		Dst:      *dst,
		User:     *user,
		State:    *state,
		ShowText: *showText,
		JSON:     *asJSON,
	}
	var err error
	if o.Since, err = parseTime(*since); err != nil {
		return errUsagef("--since: %v", err)
	}
	if o.Until, err = parseTime(*until); err != nil {
		return errUsagef("--until: %v", err)
	}
	if *count < 0 {
		return errUsagef("--count must not be negative")
	}
	if *class != "" {
		c, err := pms.ParseClass(*class)
		if err != nil {
			return errUsagef("--class: %v", err)
		}
		o.Class = &c
	}
	switch *state {
	case "", dump.StateActive, dump.StateHistorical:
	default:
		return errUsagef("--state: want %s or %s, not %q", dump.StateActive, dump.StateHistorical, *state)
	}

	path := *file
	if path == "" {
		path = filepath.Join(*data, datadir.PMSFile)
	}
	r, err := pms.OpenReader(path)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := dump.RunContext(ctx, env.Stdout, r, o)
	if err != nil {
		return err
	}
	if st.Bad > 0 {
		fmt.Fprintf(env.Stderr, "switchboard dump: warning: %d of %d records examined failed a CRC check or did not decode\n", st.Bad, st.Scanned)
	}
	return nil
}

// parseTime accepts the time formats of --since and --until: RFC 3339 (with
// any offset and optional fractional seconds), a date (midnight UTC), a date
// and time without offset (UTC), or unix seconds. Empty is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse time %q: want RFC 3339, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC) or unix seconds", s)
}
