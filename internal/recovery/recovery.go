// Package recovery contains panics at the edges of the process, so that one bad request or one failing worker
// cannot end it: Report logs a recovered panic with its stack and counts it in signpost_panics_total{edge};
// Handler does that for an http.Handler and answers 500; Loop restarts a background worker with backoff.
//
// Every edge recovers with these, so that a panic looks the same in the logs and in the metrics wherever it
// happened. The edge label names the place ("sml_soap", "sml_dns", "ops", "smp_http", ...).
package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// panics is one counter for the process: every registry that serves metrics registers it (Register).
var panics = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "signpost_panics_total",
	Help: "Panics recovered (a bug: see the log line with the stack), by the edge that contained them.",
}, []string{"edge"})

// Collector is the panic counter, for a fresh registry; Register adds it to one that may have it already.
func Collector() prometheus.Collector { return panics }

// Register adds the panic counter to reg; registering it again is not an error.
func Register(reg prometheus.Registerer) error {
	if err := reg.Register(panics); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return fmt.Errorf("recovery: register the panic counter: %w", err)
		}
	}
	return nil
}

// Count returns how many panics edge has recovered so far in this process (for tests and status pages).
func Count(edge string) float64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(panics)
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "edge" && l.GetValue() == edge {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Report logs the recovered panic value v with the stack of the goroutine and counts it under edge. Call it from
// the deferred function that recovered v (directly or through helpers), so that the stack still shows where the
// panic happened. log nil means slog.Default().
func Report(log *slog.Logger, edge string, v any) {
	panics.WithLabelValues(edge).Inc()
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic recovered; the process goes on (this is a bug: please report it with this stack)",
		"edge", edge, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
}

// Handler returns h with its panics contained: a panic is reported under edge and the client gets a plain 500.
func Handler(log *slog.Logger, edge string, h http.Handler) http.Handler {
	return HandlerWith(log, edge, h, nil)
}

// HandlerWith is Handler with the answer to a panic written by respond (nil: a plain 500 "internal error").
// When h had already begun its response, no answer can be sent any more: the connection (HTTP/1) or stream
// (HTTP/2) is aborted instead, so that the client never takes a cut response for a whole one.
// http.ErrAbortHandler, net/http's own way of aborting a response, passes through unreported.
func HandlerWith(log *slog.Logger, edge string, h http.Handler, respond func(http.ResponseWriter, *http.Request)) http.Handler {
	if respond == nil {
		respond = internalError
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // net/http's own abort: it recovers and closes quietly
				panic(v)
			}
			Report(log, edge, v)
			if tw.started {
				panic(http.ErrAbortHandler)
			}
			respond(w, r)
		}()
		h.ServeHTTP(tw, r)
	})
}

func internalError(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "internal error; the failure was logged, try again later or contact the operator", http.StatusInternalServerError)
}

// trackingWriter notes whether the response has begun.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that stream flush through the wrapper.
func (w *trackingWriter) Flush() {
	w.started = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer (deadlines, hijacking).
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Backoff bounds the pause before a worker that panicked runs again: it starts at Min, doubles with each panic
// in a row and stays at most Max. A worker that ran for Max without a panic starts again from Min.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is the backoff of Loop: 100ms doubling up to 30s.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second}

// Loop runs the background worker fn until it returns or ctx ends. When fn panics, the panic is reported under
// edge and fn runs again after the backoff (DefaultBackoff). fn must be written so that running it again is
// safe: state it needs after a restart lives outside it.
func Loop(ctx context.Context, log *slog.Logger, edge string, fn func(ctx context.Context)) {
	LoopWith(ctx, log, edge, DefaultBackoff, fn)
}

// LoopWith is Loop with the backoff b.
func LoopWith(ctx context.Context, log *slog.Logger, edge string, b Backoff, fn func(ctx context.Context)) {
	if b.Min <= 0 {
		b.Min = DefaultBackoff.Min
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	if log == nil {
		log = slog.Default()
	}
	wait := b.Min
	for {
		start := time.Now()
		if !runOnce(ctx, log, edge, fn) {
			return
		}
		if time.Since(start) >= b.Max {
			wait = b.Min
		}
		log.Warn("restarting a worker after a panic", "edge", edge, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, b.Max)
	}
}

// runOnce runs fn and reports whether it panicked.
func runOnce(ctx context.Context, log *slog.Logger, edge string, fn func(ctx context.Context)) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			Report(log, edge, v)
			panicked = true
		}
	}()
	fn(ctx)
	return false
}

// Call runs fn with its panic contained: the panic is reported under edge and returned as an error (nil when fn
// did not panic). For one piece of work whose failure the caller handles (one job of a batch, one callback).
func Call(log *slog.Logger, edge string, fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			Report(log, edge, v)
			err = fmt.Errorf("%s: recovered from a panic: %v", edge, v)
		}
	}()
	fn()
	return nil
}
