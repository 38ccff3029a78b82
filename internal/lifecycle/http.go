package lifecycle

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// HTTP runs an *http.Server as a Server: Start binds the listener (so the port answers when Start returns) and
// serves in the background; a serving failure goes to OnFail.
type HTTP struct {
	N      string
	Server *http.Server
	// TLS, when set, serves HTTPS with this configuration.
	TLS    *tls.Config
	OnFail func(error)
	ln     net.Listener
}

func (h *HTTP) Name() string { return h.N }

// Addr returns the bound address once started.
func (h *HTTP) Addr() net.Addr {
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
	if h.TLS != nil {
		ln = tls.NewListener(ln, h.TLS)
	}
	h.ln = ln
	go func() {
		if err := h.Server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && h.OnFail != nil {
			h.OnFail(err)
		}
	}()
	return nil
}

func (h *HTTP) Shutdown(ctx context.Context) error { return h.Server.Shutdown(ctx) }
