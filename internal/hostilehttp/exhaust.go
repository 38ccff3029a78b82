package hostilehttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/ops"
)

// childEnv names the test that the re-executed test binary runs as the child of AcceptExhaustion.
const childEnv = "SIGNPOST_HOSTILEHTTP_CHILD"

// Exhaustion configures AcceptExhaustion.
type Exhaustion struct {
	// Handler builds the handler the child process serves. It runs in the child, before the file limit is
	// lowered (open a store in t.TempDir() here).
	Handler func(t testing.TB) http.Handler
	// Target: a valid GET of Target.Path must answer 200 after the storm.
	Target Target
	// Headroom is the number of descriptors the child may open beyond those it holds when it lowers its limit.
	// Default 16.
	Headroom int
	// Conns is the number of connections the parent holds open at once, far more than Headroom. Default 300.
	Conns int
	// ReadHeaderTimeout of the child's server. Default 10 s.
	ReadHeaderTimeout time.Duration
	// Timeout bounds each wait of the parent (the child's start, the accept error, the GET after). Default 60 s.
	Timeout time.Duration

	// fragile serves the handler through an accept loop that stops at the first error (what the SMP's old
	// hand-written listener did), to show that the test fails then.
	fragile bool
}

func (e Exhaustion) withDefaults() Exhaustion {
	e.Target = e.Target.withDefaults()
	if e.Headroom == 0 {
		e.Headroom = 16
	}
	if e.Conns == 0 {
		e.Conns = 300
	}
	if e.ReadHeaderTimeout == 0 {
		e.ReadHeaderTimeout = 10 * time.Second
	}
	if e.Timeout == 0 {
		e.Timeout = 60 * time.Second
	}
	return e
}

// AcceptExhaustion checks that a server outlives running out of file descriptors. The test binary re-runs the
// calling test as a child process, which builds e.Handler, serves it through lifecycle.HTTP on 127.0.0.1:0
// (with an ops listener whose /readyz checks the group), and lowers its own RLIMIT_NOFILE to what it holds plus
// e.Headroom. The parent opens e.Conns connections, waits until the child's accept fails with "too many open
// files", closes them, and then expects a valid GET to answer 200 and /readyz to be green. Call it at the top of
// a test of its own: in the child, it serves and returns, and the rest of the test must not run there. Linux
// only (it skips elsewhere).
func AcceptExhaustion(t *testing.T, e Exhaustion) {
	t.Helper()
	if name, ok := lookupChild(); ok && name == t.Name() {
		exhaustChild(t, e.withDefaults())
		t.SkipNow() // the rest of the calling test runs in the parent only
	}
	if err := exhaust(t, e.withDefaults()); err != nil {
		t.Fatal(err)
	}
}

func lookupChild() (string, bool) { return os.LookupEnv(childEnv) }

// runPattern is the -test.run pattern that selects exactly the test named name (subtests included).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// childLog collects the child's stdout lines and lets the parent wait for one.
type childLog struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on each line
	done  bool
}

func (l *childLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		close(l.more)
		l.more = make(chan struct{})
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.done = true
	close(l.more)
	l.mu.Unlock()
}

// wait returns the first line containing s, or an error when the output ends or the timeout passes.
func (l *childLog) wait(s string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for seen := 0; ; {
		l.mu.Lock()
		for ; seen < len(l.lines); seen++ {
			if strings.Contains(l.lines[seen], s) {
				line := l.lines[seen]
				l.mu.Unlock()
				return line, nil
			}
		}
		more, done := l.more, l.done
		l.mu.Unlock()
		if done {
			return "", fmt.Errorf("the child's output ended without %q", s)
		}
		select {
		case <-more:
		case <-deadline.C:
			return "", fmt.Errorf("no %q from the child within %v", s, timeout)
		}
	}
}

func (l *childLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func exhaust(t *testing.T, e Exhaustion) (err error) {
	t.Helper()
	if !fdLimitSupported {
		t.Skip("hostilehttp: AcceptExhaustion needs Linux (/proc/self/fd and RLIMIT_NOFILE)")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	out := &childLog{more: make(chan struct{})}
	read := make(chan struct{})
	go func() { out.read(stdout); close(read) }()
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-read
			_ = cmd.Wait()
		}
		if err != nil {
			err = fmt.Errorf("%w\nchild output:\n%s", err, out)
		}
	}()

	line, err := out.wait("hostilehttp-child ready", e.Timeout)
	if err != nil {
		return err
	}
	t.Logf("%s; %d connections", strings.TrimPrefix(line, "hostilehttp-child "), e.Conns)
	var app, opsAddr string
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "app="); ok {
			app = v
		}
		if v, ok := strings.CutPrefix(f, "ops="); ok {
			opsAddr = v
		}
	}
	if err := readyz(opsAddr, e.Timeout); err != nil {
		return fmt.Errorf("before the storm: %w", err)
	}

	conns := make([]net.Conn, 0, e.Conns)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	for range e.Conns {
		c, err := net.DialTimeout("tcp", app, e.Timeout)
		if err != nil {
			return fmt.Errorf("connection %d of %d: %w", len(conns)+1, e.Conns, err)
		}
		conns = append(conns, c)
	}
	if _, err := out.wait("too many open files", e.Timeout); err != nil {
		return fmt.Errorf("the child did not run out of descriptors with %d connections open (raise Conns): %w", e.Conns, err)
	}
	closeAll()

	res, err := Send(app, e.Target, Cases(e.Target)[0], e.Timeout)
	if err != nil {
		return fmt.Errorf("GET after the storm: %w", err)
	}
	if len(res.Statuses) == 0 || res.Statuses[0] != http.StatusOK {
		return fmt.Errorf("GET %s after the storm: %v, want 200: the listener stopped accepting", e.Target.Path, res)
	}
	if err := readyz(opsAddr, e.Timeout); err != nil {
		return fmt.Errorf("after the storm: %w", err)
	}

	if err := stdin.Close(); err != nil {
		return err
	}
	<-read
	waited = true
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("child: %w", err)
	}
	return nil
}

func readyz(addr string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// exhaustChild is the child's side: it serves until its stdin closes.
func exhaustChild(t *testing.T, e Exhaustion) {
	t.Helper()
	h := e.Handler(t)
	o := ops.New()
	g := &lifecycle.Group{}
	opsHTTP := &lifecycle.HTTP{N: "ops", Server: o.Server("127.0.0.1:0")}
	g.Add(opsHTTP)
	errLog := log.New(os.Stdout, "hostilehttp-child server: ", 0)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: e.ReadHeaderTimeout, ErrorLog: errLog}
	var appAddr func() string
	if e.fragile {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		appAddr = ln.Addr().String
		g.Add(lifecycle.Func{N: "fragile", Up: func(context.Context) error {
			go fragileServe(ln, srv, errLog)
			return nil
		}, Down: func(ctx context.Context) error { ln.Close(); return srv.Shutdown(ctx) }})
	} else {
		app := &lifecycle.HTTP{N: "app", Server: srv}
		appAddr = func() string { return app.Addr().String() }
		g.Add(app)
	}
	o.AddCheck("servers", g.Check)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Shutdown(); err != nil {
			t.Error(err)
		}
	}()
	open, limit, err := lowerFDLimit(e.Headroom)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("hostilehttp-child ready app=%s ops=%s open=%d limit=%d\n", appAddr(), opsHTTP.Addr(), open, limit)
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := g.Check(context.Background()); err != nil {
		t.Errorf("readiness at the end: %v", err)
	}
}

// fragileServe is an accept loop that gives up at the first error.
func fragileServe(ln net.Listener, srv *http.Server, errLog *log.Logger) {
	one := make(chan net.Conn)
	go func() { _ = srv.Serve(&chanListener{ln: ln, conns: one}) }()
	for {
		c, err := ln.Accept()
		if err != nil {
			errLog.Printf("fragile: accept: %v; giving up", err)
			return
		}
		one <- c
	}
}

// chanListener hands srv the connections that fragileServe accepted.
type chanListener struct {
	ln    net.Listener
	conns chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return l.ln.Addr() }
