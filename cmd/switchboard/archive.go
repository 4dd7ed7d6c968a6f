package main

import (
	"context"
	"errors"
	"fmt"

	"switchboard/internal/datadir"
	"switchboard/internal/pms"
)

// cmdArchive moves historical megabytes from the front of pms.bin into an
// archive file (seed 001 §2.2.2). It takes the data-directory lock, so it
// refuses to run while serve does: the store must not append while the file
// is being replaced.
func cmdArchive(ctx context.Context, env *Env, args []string) error {
	fs, data := newFlagSet(env, "archive")
	mb := fs.Uint64("mb", 0, "how many megabytes (4096 records each) to move; at most the historical-mb count (required)")
	out := fs.String("out", "", "archive file to create (default DIR/pms-archive-FIRST-LAST.bin); never overwritten")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsagef("unexpected argument %q", fs.Arg(0))
	}
	if *mb == 0 {
		return errUsagef("--mb N is required (N >= 1)")
	}
	lock, err := datadir.Acquire(*data)
	if err != nil {
		if errors.Is(err, datadir.ErrLocked) {
			return fmt.Errorf("serve is running (stop it first; archive needs the store to itself): %w", err)
		}
		return err
	}
	defer lock.Release()
	res, err := pms.Archive(*data, *mb, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "archived %d records (index %d to %d) to %s; pms.bin now starts at index %d\n",
		res.Records, res.FirstIndex, res.LastIndex, res.File, res.LastIndex+1)
	return nil
}
