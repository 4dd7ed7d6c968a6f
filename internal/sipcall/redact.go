package sipcall

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// redactHandler is the slog handler given to the SIP library. Some of its
// log lines carry whole SIP messages or Request-URIs as attributes (for
// example a packet it could not parse), and those hold phone numbers, which
// must never reach a log. So only the constant message text passes, always
// at debug level, with the library's attributes and groups dropped.
//
// The library reports what it drops (malformed datagrams, read errors)
// only by logging it at warning or error level, so those records are
// also counted in problems.
type redactHandler struct {
	next     slog.Handler
	problems prometheus.Counter
}

func (h redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn || h.next.Enabled(ctx, slog.LevelDebug)
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.problems.Inc()
	}
	if !h.next.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	out := slog.NewRecord(r.Time, slog.LevelDebug, "sipgo: "+r.Message, r.PC)
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h redactHandler) WithGroup(string) slog.Handler { return h }
