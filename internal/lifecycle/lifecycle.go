// Package lifecycle runs a process's servers until SIGINT or SIGTERM and shuts them down in order within a
// deadline.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Server is anything that serves until stopped.
type Server interface {
	// Start begins serving and returns once the server accepts work (its listeners are bound), or with an error.
	// A failure while serving later is reported on the channel returned by Group.Run.
	Start(ctx context.Context) error
	// Shutdown stops accepting work and waits for work in flight, until ctx ends.
	Shutdown(ctx context.Context) error
	// Name says what the server is, for logs.
	Name() string
}

// Checker is a Server that can say whether it is serving (HTTP does); Group.Check asks it.
type Checker interface {
	Check(ctx context.Context) error
}

// Group starts servers in order and shuts them down in reverse order.
type Group struct {
	Log             *slog.Logger
	ShutdownTimeout time.Duration // default 10s

	once     sync.Once
	mu       sync.Mutex
	servers  []Server
	failures []error
	failed   chan error
}

// Add appends servers to start, in order.
func (g *Group) Add(s ...Server) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.servers = append(g.servers, s...)
}

// Failed returns a function a server calls when it fails while serving: Check reports the failure from then on
// and Wait shuts everything down and returns it.
func (g *Group) Failed() func(error) {
	g.init()
	return func(err error) {
		g.mu.Lock()
		g.failures = append(g.failures, err)
		g.mu.Unlock()
		select {
		case g.failed <- err:
		default:
		}
	}
}

// Check is the group's readiness check (its signature is that of an ops check): it fails when a server has
// reported a failure through Failed, or when a server that is a Checker (HTTP) says it is not serving, which
// is also the case before Start and after Shutdown.
func (g *Group) Check(ctx context.Context) error {
	g.mu.Lock()
	errs := append([]error(nil), g.failures...)
	servers := append([]Server(nil), g.servers...)
	g.mu.Unlock()
	for _, s := range servers {
		if c, ok := s.(Checker); ok {
			if err := c.Check(ctx); err != nil && !reported(errs, err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func reported(errs []error, err error) bool {
	for _, e := range errs {
		if e == err {
			return true
		}
	}
	return false
}

func (g *Group) init() {
	g.once.Do(func() {
		g.failed = make(chan error, 1)
		if g.Log == nil {
			g.Log = slog.New(slog.DiscardHandler)
		}
		if g.ShutdownTimeout == 0 {
			g.ShutdownTimeout = 10 * time.Second
		}
	})
}

// Start starts every server in order; if one fails, those already started are shut down. An HTTP server
// without an OnFail of its own reports to Failed.
func (g *Group) Start(ctx context.Context) error {
	g.init()
	g.mu.Lock()
	servers := append([]Server(nil), g.servers...)
	g.mu.Unlock()
	for i, s := range servers {
		if h, ok := s.(*HTTP); ok && h.OnFail == nil {
			h.OnFail = g.Failed()
		}
		if err := s.Start(ctx); err != nil {
			g.shutdown(servers[:i])
			return fmt.Errorf("start %s: %w", s.Name(), err)
		}
		g.Log.Debug("started", "server", s.Name())
	}
	return nil
}

// Wait blocks until ctx ends, SIGINT or SIGTERM arrives, or a server fails; then it shuts every server down in
// reverse order within ShutdownTimeout. It returns the failure, if any.
func (g *Group) Wait(ctx context.Context) error {
	g.init()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cause error
	select {
	case <-ctx.Done():
		g.Log.Info("shutting down")
	case cause = <-g.failed:
		g.Log.Error("server failed; shutting down", "err", cause)
	}
	if err := g.shutdown(g.list()); err != nil && cause == nil {
		cause = err
	}
	return cause
}

// Shutdown shuts every server down in reverse order within ShutdownTimeout, without waiting for a signal.
func (g *Group) Shutdown() error {
	g.init()
	return g.shutdown(g.list())
}

func (g *Group) list() []Server {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Server(nil), g.servers...)
}

func (g *Group) shutdown(servers []Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.ShutdownTimeout)
	defer cancel()
	var errs []error
	for i := len(servers) - 1; i >= 0; i-- {
		if err := servers[i].Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", servers[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Func adapts start and shutdown functions to a Server.
type Func struct {
	N    string
	Up   func(ctx context.Context) error
	Down func(ctx context.Context) error
}

func (f Func) Name() string { return f.N }

func (f Func) Start(ctx context.Context) error {
	if f.Up == nil {
		return nil
	}
	return f.Up(ctx)
}

func (f Func) Shutdown(ctx context.Context) error {
	if f.Down == nil {
		return nil
	}
	return f.Down(ctx)
}
