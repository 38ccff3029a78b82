package soap

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
)

// Config is what NewServer needs besides the Service.
type Config struct {
	// Management is the validated (defaulted) management section of the SML configuration.
	Management conf.Management
	// Log receives audit lines and errors. Default: discard.
	Log *slog.Logger
	// Now is the clock of certificate validity checks. Default time.Now.
	Now func() time.Time
	// OnFail receives a serving failure (lifecycle.Group.Failed()).
	OnFail func(error)
	// Registry receives the CRL metrics (signpost_sml_crl_*). Nil: not registered.
	Registry prometheus.Registerer
}

// NewServer assembles the management listener of svc from the configuration: the TLS certificate (PEM or
// PKCS#12), the per-domain trusted issuers, the handler with its limits and the HTTP timeouts. Start it with the
// returned lifecycle server; its Addr is the bound address once started. With management.proxy and without
// management.tls the listener is plain HTTP (the proxy terminates TLS; the configuration allows it on loopback and
// private addresses only).
func NewServer(svc *sml.Service, c Config) (*lifecycle.HTTP, error) {
	m := c.Management
	var kp *pki.KeyPair
	if m.TLS.Set() || len(m.Proxy.Addresses) == 0 {
		var err error
		if kp, err = loadKeyPair(m.TLS); err != nil {
			return nil, fmt.Errorf("soap: management.tls: %w", err)
		}
	}
	alarm, err := NewCRLAlarm(c.Log, c.Registry)
	if err != nil {
		return nil, err
	}
	cert, err := NewCertAuthenticatorCRL(svc.Domains(), c.Now, alarm)
	if err != nil {
		return nil, err
	}
	var auth Authenticator = cert
	if len(m.Proxy.Addresses) > 0 {
		if auth, err = NewProxyAuthenticator(cert, m.Proxy, c.Log); err != nil {
			return nil, err
		}
	}
	fs, err := ParseFaultStatus(m.FaultStatus)
	if err != nil {
		return nil, err
	}
	h := NewHandler(svc, auth, Options{Log: c.Log, FaultStatus: fs, MaxBodyBytes: m.MaxBodyBytes,
		ListParticipantsMax: m.ListParticipantsMax})
	return NewHTTP(m.Listen, kp, h, Timeouts{Read: m.ReadTimeout, Write: m.WriteTimeout}, c.Log, c.OnFail), nil
}

func loadKeyPair(t conf.TLSFiles) (*pki.KeyPair, error) {
	if t.PKCS12 != "" {
		pw := ""
		if t.PasswordFile != "" {
			b, err := os.ReadFile(t.PasswordFile)
			if err != nil {
				return nil, err
			}
			pw, _, _ = strings.Cut(string(b), "\n")
			pw = strings.TrimRight(pw, "\r")
		}
		return pki.LoadPKCS12(t.PKCS12, pw)
	}
	if t.Cert == "" {
		return nil, fmt.Errorf("missing: the HTTPS listener needs a certificate and key")
	}
	return pki.LoadKeyPair(t.Cert, t.Key)
}

// Timeouts bound a connection of the management listener.
type Timeouts struct {
	// Read bounds reading a whole request, headers and body (slow clients). Default 30s.
	Read time.Duration
	// Write bounds handling a request and writing its response. Default 30s.
	Write time.Duration
	// Idle closes a kept-alive connection without requests. Default 60s.
	Idle time.Duration
}

// NewHTTP returns the HTTPS listener serving h on addr with the server certificate kp, asking clients for
// certificates (TLSConfig), with the timeouts and a 64 KiB header limit. kp nil: plain HTTP (behind a proxy).
func NewHTTP(addr string, kp *pki.KeyPair, h http.Handler, t Timeouts, log *slog.Logger, onFail func(error)) *lifecycle.HTTP {
	if t.Read <= 0 {
		t.Read = 30 * time.Second
	}
	if t.Write <= 0 {
		t.Write = 30 * time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 60 * time.Second
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: min(t.Read, 10*time.Second),
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug) // TLS handshake noise from scanners
	}
	hs := &lifecycle.HTTP{N: "sml-soap", Server: srv, OnFail: onFail}
	if kp != nil {
		hs.TLS = TLSConfig(kp.TLSCertificate())
	}
	return hs
}
