package recovery_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/recovery"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func boom() { panic("boom in the handler") }

// TestHandler: a panicking request gets a 500 and is logged with its stack and counted; the server answers the
// next request; a panic after the response began aborts the connection instead of sending a cut response as
// whole; http.ErrAbortHandler passes through uncounted.
func TestHandler(t *testing.T) {
	const edge = "test_http"
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { boom() })
	mux.HandleFunc("/late", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("late")
	})
	mux.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewServer(recovery.Handler(log, edge, mux))
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	defer srv.Close()

	get := func(path string) (*http.Response, string, error) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	before := recovery.Count(edge)
	resp, body, err := get("/boom")
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "internal error") {
		t.Fatalf("/boom: %v %v %q", resp, err, body)
	}
	if got := recovery.Count(edge) - before; got != 1 {
		t.Errorf("counted %v panics, want 1", got)
	}
	l := logs.String()
	if !strings.Contains(l, "boom in the handler") || !strings.Contains(l, "recovery_test.boom") || !strings.Contains(l, "edge="+edge) {
		t.Errorf("log line lacks the panic, its stack or the edge:\n%s", l)
	}
	if resp, body, err := get("/ok"); err != nil || resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("/ok after a panic: %v %v %q", resp, err, body)
	}

	if _, body, err := get("/late"); err == nil {
		t.Fatalf("/late: a response cut by a panic arrived as whole: %q", body)
	}
	if got := recovery.Count(edge) - before; got != 2 {
		t.Errorf("counted %v panics after /late, want 2", got)
	}
	if _, _, err := get("/abort"); err == nil {
		t.Fatal("/abort: got a response")
	}
	if got := recovery.Count(edge) - before; got != 2 {
		t.Errorf("http.ErrAbortHandler was counted (%v)", got)
	}
	if resp, body, err := get("/ok"); err != nil || resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("/ok at the end: %v %v %q", resp, err, body)
	}
}

// TestHandlerWith: the edge's own answer to a panic.
func TestHandlerWith(t *testing.T) {
	h := recovery.HandlerWith(slog.New(slog.DiscardHandler), "test_http_with", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { boom() }),
		func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "mine")
		})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTeapot || string(b) != "mine" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
}

// TestLoop: a worker that panics runs again after the backoff until it returns; every panic is counted.
func TestLoop(t *testing.T) {
	const edge = "test_loop"
	before := recovery.Count(edge)
	var runs atomic.Int32
	recovery.LoopWith(context.Background(), slog.New(slog.DiscardHandler), edge, recovery.Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond},
		func(context.Context) {
			if runs.Add(1) <= 3 {
				panic("worker")
			}
		})
	if runs.Load() != 4 {
		t.Errorf("ran %d times, want 4 (three panics, then a normal return)", runs.Load())
	}
	if got := recovery.Count(edge) - before; got != 3 {
		t.Errorf("counted %v, want 3", got)
	}
}

// TestLoopStopsWithContext: the end of ctx ends the backoff wait.
func TestLoopStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runs atomic.Int32
	go func() {
		defer close(done)
		recovery.LoopWith(ctx, slog.New(slog.DiscardHandler), "test_loop_ctx", recovery.Backoff{Min: time.Hour, Max: time.Hour},
			func(context.Context) {
				runs.Add(1)
				panic("worker")
			})
	}()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if runs.Load() != 1 {
		t.Errorf("ran %d times", runs.Load())
	}
}

func TestCall(t *testing.T) {
	if err := recovery.Call(nil, "test_call", func() {}); err != nil {
		t.Fatal(err)
	}
	before := recovery.Count("test_call")
	err := recovery.Call(slog.New(slog.DiscardHandler), "test_call", boom)
	if err == nil || !strings.Contains(err.Error(), "boom in the handler") || recovery.Count("test_call")-before != 1 {
		t.Fatalf("err %v, count %v", err, recovery.Count("test_call")-before)
	}
}

func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if err := recovery.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	_ = recovery.Call(slog.New(slog.DiscardHandler), "test_register", boom)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "signpost_panics_total"
	}
	if !found {
		t.Fatal("signpost_panics_total not gathered")
	}
}
