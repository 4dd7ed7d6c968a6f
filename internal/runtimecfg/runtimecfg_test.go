package runtimecfg

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"switchboard/internal/config"
)

func TestApplyGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOGC", "")
	Apply(config.Runtime{GCPercent: 150}, log)
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("gc_percent 150 left the target at %d", got)
	}
	// 0 leaves it alone.
	Apply(config.Runtime{}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("gc_percent 0 changed the target to %d", got)
	}
	// GOGC in the environment wins.
	t.Setenv("GOGC", "300")
	Apply(config.Runtime{GCPercent: 150}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("gc_percent overrode GOGC: target %d", got)
	}
}
