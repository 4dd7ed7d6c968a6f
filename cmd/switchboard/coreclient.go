package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"switchboard/internal/coresock"
	"switchboard/internal/datadir"
)

// errNotRunning means no server answers on the data directory's core
// socket.
var errNotRunning = errors.New("switchboard serve is not running on this data directory")

// dialCore connects to the running server's core socket in dataDir.
func dialCore(ctx context.Context, dataDir string, cfg *coresock.Config) (*coresock.Peer, error) {
	path := filepath.Join(dataDir, datadir.CoreSocket)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w (no %s)", errNotRunning, path)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := coresock.Dial(dctx, path, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errNotRunning, path, err)
	}
	return p, nil
}

// statusError turns a non-OK core status into the error a command prints.
func statusError(st coresock.Status) error {
	return fmt.Errorf("rejected: %s (%d): %s", st.String(), uint16(st), st.Description())
}
