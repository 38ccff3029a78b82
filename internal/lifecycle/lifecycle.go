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

// Group starts servers in order and shuts them down in reverse order.
type Group struct {
	Log             *slog.Logger
	ShutdownTimeout time.Duration // default 10s
	servers         []Server
	failed          chan error
}

// Add appends servers to start, in order.
func (g *Group) Add(s ...Server) { g.servers = append(g.servers, s...) }

// Failed returns a function a server calls when it fails while serving; Run then shuts everything down.
func (g *Group) Failed() func(error) {
	g.init()
	return func(err error) {
		select {
		case g.failed <- err:
		default:
		}
	}
}

func (g *Group) init() {
	if g.failed == nil {
		g.failed = make(chan error, 1)
	}
	if g.Log == nil {
		g.Log = slog.New(slog.DiscardHandler)
	}
	if g.ShutdownTimeout == 0 {
		g.ShutdownTimeout = 10 * time.Second
	}
}

// Start starts every server in order; if one fails, those already started are shut down.
func (g *Group) Start(ctx context.Context) error {
	g.init()
	for i, s := range g.servers {
		if err := s.Start(ctx); err != nil {
			g.shutdown(g.servers[:i])
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
	if err := g.shutdown(g.servers); err != nil && cause == nil {
		cause = err
	}
	return cause
}

// Shutdown shuts every server down in reverse order within ShutdownTimeout, without waiting for a signal.
func (g *Group) Shutdown() error {
	g.init()
	return g.shutdown(g.servers)
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
