package lifecycle

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/ops"
)

func hello() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello\n") })
}

// get returns the status and body of a GET, failing the test on a transport error.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// serveOps serves o's handler outside any group, so that it still answers after a group shut down.
func serveOps(t *testing.T, o *ops.Ops) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestDeadListenerEndsGroupAndReadiness: a listener whose Serve returns for real (here: its socket closed under
// it) turns readiness red, and the group's Wait returns the failure, which ends `signpost ... serve`. The HTTP
// has no OnFail of its own: the group wires it.
func TestDeadListenerEndsGroupAndReadiness(t *testing.T) {
	app := &HTTP{N: "app", Server: &http.Server{Addr: "127.0.0.1:0", Handler: hello(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}}
	g := &Group{}
	g.Add(app)
	o := ops.New()
	o.AddCheck("servers", g.Check)
	opsURL := serveOps(t, o)

	if code, body := get(t, opsURL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "app is not started") {
		t.Fatalf("readyz before Start: %d %q", code, body)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "http://"+app.Addr().String()+"/"); code != http.StatusOK {
		t.Fatalf("GET: %d", code)
	}
	if code, body := get(t, opsURL+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz while serving: %d %q", code, body)
	}

	app.mu.Lock()
	ln := app.ln
	app.mu.Unlock()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := g.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "app on 127.0.0.1:") || !strings.Contains(err.Error(), "stopped serving") {
		t.Fatalf("Wait after the listener died: %v, want the listener's failure", err)
	}
	code, body := get(t, opsURL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "servers: app on 127.0.0.1:") {
		t.Fatalf("readyz after the listener died: %d %q", code, body)
	}
	if strings.Count(body, "stopped serving") != 1 {
		t.Errorf("the failure is reported more than once: %q", body)
	}
}

// TestDeadListenerReadinessWithOwnOnFail: with an OnFail of its own (the group is not told), readiness still
// turns red through the HTTP's own Check.
func TestDeadListenerReadinessWithOwnOnFail(t *testing.T) {
	failed := make(chan error, 1)
	app := &HTTP{N: "app", Server: &http.Server{Addr: "127.0.0.1:0", Handler: hello(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}, OnFail: func(err error) { failed <- err }}
	g := &Group{}
	g.Add(app)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown() })
	if err := g.Check(context.Background()); err != nil {
		t.Fatalf("Check while serving: %v", err)
	}
	app.mu.Lock()
	ln := app.ln
	app.mu.Unlock()
	ln.Close()
	select {
	case err := <-failed:
		if !strings.Contains(err.Error(), "stopped serving") {
			t.Errorf("OnFail: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnFail was not called after the listener died")
	}
	if err := g.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "app on 127.0.0.1:") {
		t.Fatalf("Check after the listener died: %v", err)
	}
}

// TestShutdownIsNotAFailure: Shutdown is not reported as a failure, and Check says the server is shut down.
func TestShutdownIsNotAFailure(t *testing.T) {
	var fails atomic.Int32
	app := &HTTP{N: "app", Server: &http.Server{Addr: "127.0.0.1:0", Handler: hello(), ReadHeaderTimeout: 5 * time.Second},
		OnFail: func(error) { fails.Add(1) }}
	g := &Group{}
	g.Add(app)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := app.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "shut down") {
		t.Fatalf("Check after Shutdown: %v", err)
	}
	// Shutdown returned after the serving goroutine ended, so a report of a failure would have been made.
	if n := fails.Load(); n != 0 {
		t.Fatalf("OnFail called %d times on Shutdown", n)
	}
}

// flakyListener fails its first n accepts with errno, as accept(2) does.
type flakyListener struct {
	net.Listener
	errno syscall.Errno
	n     atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", l.errno)}
	}
	return l.Listener.Accept()
}

// TestRetryListener: accept errors that concern one connection or a passing shortage do not stop the server.
// Bare net/http stops on ENOBUFS (the control); through retryListener it goes on and answers.
func TestRetryListener(t *testing.T) {
	serve := func(wrap bool, errno syscall.Errno) (chan error, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fl := &flakyListener{Listener: ln, errno: errno}
		fl.n.Store(3)
		var l net.Listener = fl
		if wrap {
			l = retryListener{fl}
		}
		srv := &http.Server{Handler: hello(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		return done, "http://" + ln.Addr().String() + "/"
	}

	done, _ := serve(false, syscall.ENOBUFS)
	select {
	case err := <-done:
		if !errors.Is(err, syscall.ENOBUFS) {
			t.Fatalf("bare net/http stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("control: bare net/http did not stop on ENOBUFS; the test no longer shows anything")
	}

	for _, errno := range []syscall.Errno{syscall.ENOBUFS, syscall.EMFILE, syscall.EPROTO, syscall.EHOSTUNREACH} {
		done, url := serve(true, errno)
		if code, _ := get(t, url); code != http.StatusOK {
			t.Fatalf("%v: GET %d", errno, code)
		}
		select {
		case err := <-done:
			t.Fatalf("%v: Serve returned %v", errno, err)
		default:
		}
	}
}

func TestPassing(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENETDOWN)}, true},
		{&net.OpError{Op: "accept", Err: net.ErrClosed}, false},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EBADF)}, false},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EINVAL)}, false},
		{errors.New("other"), false},
	} {
		if got := passing(tc.err); got != tc.want {
			t.Errorf("passing(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
