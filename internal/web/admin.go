// Package web is the admin HTTP server: health, Prometheus metrics and,
// when enabled, the Go profiler. Later issues add the API and pages here.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the admin server.
type Config struct {
	// Listener is already bound, so that an occupied port is reported by
	// the caller at startup with the address in the error.
	Listener net.Listener
	Gatherer prometheus.Gatherer
	// Health returns nil when the server is fully up, else the reason.
	Health func() error
	PProf  bool
	Logger *slog.Logger
	// Handlers are further endpoints by mux pattern ("GET /api/..."),
	// added by the services that own them.
	Handlers map[string]http.Handler
	// Hosts are the host names requests may carry in Host besides IP
	// addresses and localhost (DNS rebinding protection).
	Hosts []string
}

// hostAllowed reports whether a request's Host names this server: an IP
// address, localhost, or one of the configured names. A browser on the
// machine that visits a page whose name was rebound to 127.0.0.1 sends
// that name, which is refused, so the page cannot read or drive the
// admin endpoints (the host-stand page holds guests' numbers).
func hostAllowed(host string, names []string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	for _, n := range names {
		if strings.EqualFold(h, n) {
			return true
		}
	}
	return false
}

// Admin is a running admin HTTP server.
type Admin struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Start serves the admin endpoints on cfg.Listener until Shutdown.
func Start(cfg Config) *Admin {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := cfg.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unavailable: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	for pattern, h := range cfg.Handlers {
		mux.Handle(pattern, h)
	}
	if cfg.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// Requests see a context that Shutdown cancels, so that long-lived
	// ones (server-sent events) end instead of holding Shutdown up.
	base, cancel := context.WithCancel(context.Background())
	a := &Admin{
		srv: &http.Server{
			BaseContext: func(net.Listener) context.Context { return base },
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !hostAllowed(r.Host, cfg.Hosts) {
					http.Error(w, "unknown host name (see admin.hosts)", http.StatusMisdirectedRequest)
					return
				}
				mux.ServeHTTP(w, r)
			}),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		ln:   cfg.Listener,
		done: make(chan error, 1),
	}
	a.srv.RegisterOnShutdown(cancel)
	go func() {
		err := a.srv.Serve(cfg.Listener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	return a
}

// Addr is the address the server listens on.
func (a *Admin) Addr() net.Addr { return a.ln.Addr() }

// Shutdown stops accepting, waits for requests in progress until ctx ends,
// and returns once the serving goroutine has exited.
func (a *Admin) Shutdown(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if err != nil {
		a.srv.Close()
	}
	if serr := <-a.done; serr != nil && err == nil {
		err = serr
	}
	return err
}
