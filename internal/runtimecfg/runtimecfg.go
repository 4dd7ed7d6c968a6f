// Package runtimecfg applies the [runtime] section of the configuration to
// the process: the garbage collector's target and huge pages for the
// heap's growth (docs/operations.md, "Memory"). serve applies it at
// startup; benchmarks that stand for serve apply the default.
package runtimecfg

import (
	"errors"
	"log/slog"
	"os"
	"runtime/debug"

	"switchboard/internal/config"
	"switchboard/internal/hugepages"
)

// Apply sets the process up as cfg says. The GOGC environment variable, if
// set, wins over gc_percent: an operator who sets it means it.
func Apply(cfg config.Runtime, log *slog.Logger) {
	if cfg.GCPercent != 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if cfg.HeapHugePagesMB == 0 {
		return
	}
	switch err := hugepages.Reserve(cfg.HeapHugePagesMB); {
	case err == nil:
		log.Debug("heap growth marked for huge pages", "mb", cfg.HeapHugePagesMB)
	case errors.Is(err, hugepages.ErrUnsupported):
		log.Debug("heap huge pages not used", "reason", err)
	default:
		log.Warn("heap huge pages not used", "error", err)
	}
}
