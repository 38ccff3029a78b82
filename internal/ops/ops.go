// Package ops is the operations listener every server registers with: /healthz (the process is alive),
// /readyz (every registered check passes) and /metrics (Prometheus). A panic in a handler or a check is contained
// (internal/recovery): 500, logged and counted in signpost_panics_total{edge="ops"}.
package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signpost-project/signpost/internal/recovery"
)

// Check reports whether a part of the process is ready; nil means ready.
type Check func(ctx context.Context) error

// Ops holds the metrics registry and readiness checks of one process.
type Ops struct {
	Registry *prometheus.Registry
	// Log receives the panics the listener contains. Default: slog.Default(). Set it before Handler or Server.
	Log    *slog.Logger
	mu     sync.Mutex
	checks map[string]Check
}

// New returns an Ops with Go runtime and process collectors and the panic counter (signpost_panics_total)
// registered.
func New() *Ops {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), recovery.Collector())
	return &Ops{Registry: r, checks: map[string]Check{}}
}

// AddCheck registers a readiness check under name.
func (o *Ops) AddCheck(name string, c Check) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = c
}

// Ready runs every check and returns the failures by name.
func (o *Ops) Ready(ctx context.Context) map[string]error {
	o.mu.Lock()
	names := make([]string, 0, len(o.checks))
	for n := range o.checks {
		names = append(names, n)
	}
	checks := o.checks
	o.mu.Unlock()
	failed := map[string]error{}
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			failed[n] = err
		}
	}
	return failed
}

// Edge is the edge label of the listener's contained panics.
const Edge = "ops"

// Handler serves /healthz, /readyz and /metrics, with panics contained.
func (o *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		failed := o.Ready(ctx)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(failed) == 0 {
			fmt.Fprintln(w, "ready")
			return
		}
		lines := make([]string, 0, len(failed))
		for n, err := range failed {
			lines = append(lines, n+": "+err.Error())
		}
		sort.Strings(lines)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	return recovery.Handler(o.Log, Edge, mux)
}

// Server returns the listener's *http.Server with fixed timeouts.
func (o *Ops) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           o.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}
