package main

import (
	"context"
	"errors"
	"fmt"

	"switchboard/internal/coresock"
)

// notifyNumberingChanged tells a running server to reload the numbering
// database after a change, so that numbers and peers take effect without a
// restart. With no server running there is nothing to tell: serve reads the
// database when it starts.
func notifyNumberingChanged(ctx context.Context, env *Env, dataDir string) error {
	peer, err := dialCore(ctx, dataDir, nil)
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	defer peer.Close()
	_, st, err := peer.Call(ctx, &coresock.NumberingReload{})
	if err != nil {
		return fmt.Errorf("tell the server to reload numbering: %w", err)
	}
	if st != coresock.StatusOK {
		return fmt.Errorf("the server did not reload numbering: %w", statusError(st))
	}
	return nil
}
