package ops_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/recovery"
)

// TestPanicContained: a readiness check that panics makes /readyz answer 500; the panic is counted and shown in
// /metrics, and the listener goes on answering.
func TestPanicContained(t *testing.T) {
	o := ops.New()
	o.Log = slog.New(slog.DiscardHandler)
	var broken atomic.Bool
	broken.Store(true)
	o.AddCheck("store", func(context.Context) error {
		if broken.Load() {
			panic("check exploded")
		}
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := o.Server(ln.Addr().String())
	srv.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	before := recovery.Count(ops.Edge)
	if code, _ := get("/readyz"); code != http.StatusInternalServerError {
		t.Fatalf("/readyz with a panicking check: %d, want 500", code)
	}
	if d := recovery.Count(ops.Edge) - before; d != 1 {
		t.Errorf("counted %v panics, want 1", d)
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz after the panic: %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, `signpost_panics_total{edge="ops"}`) {
		t.Fatalf("/metrics: %d, no signpost_panics_total{edge=\"ops\"}", code)
	}
	broken.Store(false)
	if code, body := get("/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz with the check mended: %d %q", code, body)
	}
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
