package lifecycle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// HTTP runs an *http.Server as a Server: Start binds the listener (so the port answers when Start returns) and
// serves in the background.
//
// A failed accept that can pass (too many open files, a connection reset before it was accepted, no buffer
// space) does not stop the listener: net/http backs off (5 ms doubling up to 1 s) and accepts again, and HTTP
// marks the accept errors of Linux's accept(2) that can pass as such for it. When Serve returns for any other
// reason than Shutdown, the listener is dead: Check reports it from then on (readiness turns red) and OnFail
// receives the error (a Group ends the process).
type HTTP struct {
	N      string
	Server *http.Server
	// TLS, when set, serves HTTPS with this configuration.
	TLS *tls.Config
	// Coalesce writes each HTTP/1.1 response with one syscall (coalesce.go). Not for handlers that stream.
	Coalesce bool
	// OnFail receives the error when the listener stops serving for good. A Group sets it to Group.Failed() when
	// it is nil.
	OnFail func(error)

	mu    sync.Mutex
	ln    net.Listener
	state httpState
	err   error
	done  chan struct{} // closed when Serve has returned and OnFail has run
}

type httpState int

const (
	httpIdle httpState = iota
	httpServing
	httpFailed
	httpStopped
)

func (h *HTTP) Name() string { return h.N }

// Addr returns the bound address once started.
func (h *HTTP) Addr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return nil
	}
	return h.ln.Addr()
}

func (h *HTTP) Start(context.Context) error {
	ln, err := net.Listen("tcp", h.Server.Addr)
	if err != nil {
		return err
	}
	var sl net.Listener = retryListener{ln}
	if h.Coalesce {
		sl = coalescingListener{sl}
		prev := h.Server.ConnState
		h.Server.ConnState = func(c net.Conn, s http.ConnState) {
			coalesceState(c, s)
			if prev != nil {
				prev(c, s)
			}
		}
	}
	if h.TLS != nil {
		sl = tls.NewListener(sl, h.TLS)
	}
	done := make(chan struct{})
	h.mu.Lock()
	h.ln, h.state, h.err, h.done = ln, httpServing, nil, done
	onFail := h.OnFail
	h.mu.Unlock()
	go func() {
		defer close(done)
		err := h.Server.Serve(sl)
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
		if err == nil {
			err = errors.New("serve returned without an error")
		}
		err = fmt.Errorf("%s on %s stopped serving: %w", h.N, ln.Addr(), err)
		h.mu.Lock()
		if h.state == httpServing {
			h.state, h.err = httpFailed, err
		}
		h.mu.Unlock()
		if onFail != nil {
			onFail(err)
		}
	}()
	return nil
}

// Shutdown stops accepting, waits for the requests in flight and for the serving goroutine, until ctx ends.
func (h *HTTP) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if h.state == httpServing {
		h.state = httpStopped
	}
	done := h.done
	h.mu.Unlock()
	if err := h.Server.Shutdown(ctx); err != nil {
		return err
	}
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Check reports whether the listener is serving: nil while it is, an error before Start, after Shutdown and
// after the listener died. Its signature is that of an ops readiness check.
func (h *HTTP) Check(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case httpServing:
		return nil
	case httpFailed:
		return h.err
	case httpStopped:
		return fmt.Errorf("%s is shut down", h.N)
	default:
		return fmt.Errorf("%s is not started", h.N)
	}
}

// retryListener marks as temporary the accept errors that concern one connection or a passing shortage, so
// that http.Server.Serve backs off and accepts again instead of returning. Linux's accept(2) passes pending
// network errors of the new connection on as its own (ENETDOWN, EPROTO, EHOSTUNREACH, ...), and ENOBUFS,
// ENOMEM or a firewall's EPERM pass too; net/http already retries EMFILE, ENFILE and ECONNRESET.
type retryListener struct{ net.Listener }

func (l retryListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && passing(err) {
		return nil, temporaryError{err}
	}
	return c, err
}

// passingAccept are the errnos after which a listener goes on accepting.
var passingAccept = []syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EPERM, syscall.EPROTO,
	syscall.ECONNABORTED, syscall.ECONNRESET, syscall.ETIMEDOUT, syscall.ENETDOWN, syscall.ENETUNREACH,
	syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.ENOPROTOOPT, syscall.EOPNOTSUPP,
}

func passing(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	for _, e := range passingAccept {
		if errno == e {
			return true
		}
	}
	return false
}

// temporaryError is an accept error that http.Server.Serve retries (it asks net.Error.Temporary).
type temporaryError struct{ err error }

func (e temporaryError) Error() string   { return e.err.Error() }
func (e temporaryError) Unwrap() error   { return e.err }
func (e temporaryError) Timeout() bool   { return false }
func (e temporaryError) Temporary() bool { return true }
