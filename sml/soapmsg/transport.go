package soapmsg

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// TransportOptions configure the HTTP client an SMP reaches its SML with (conf: sml.timeout, sml.max_connections,
// sml.client_tls, sml.ca).
type TransportOptions struct {
	// Certificate is the SMP's certificate the SML knows it by (mutual TLS). Nil: none (the SML refuses the calls).
	Certificate *tls.Certificate
	// GetCertificate, when set, is asked for the client certificate at each handshake instead of Certificate (an
	// SMP that switches certificates at a scheduled time).
	GetCertificate func() *tls.Certificate
	// Roots verify the SML's server certificate. Nil: the system roots.
	Roots *x509.CertPool
	// Timeout bounds one call, connection and TLS handshake included. Default 30s.
	Timeout time.Duration
	// MaxConnections bounds the connections open to the SML at once; further calls wait for one. Default 4.
	MaxConnections int
	// IdleTimeout closes a pooled connection left unused this long. Default 90s.
	IdleTimeout time.Duration
}

// NewHTTPClient returns an HTTP client for Client.HTTP: mutual TLS (TLS 1.2 or later, HTTP/1.1 like the SMLs'
// SOAP stacks), a pool of at most MaxConnections connections kept alive for IdleTimeout, and Timeout per call.
func NewHTTPClient(o TransportOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 4
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.Roots}
	switch {
	case o.GetCertificate != nil:
		get := o.GetCertificate
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := get(); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil // none: the SML refuses the call
		}
	case o.Certificate != nil:
		c := *o.Certificate
		tc.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxConnsPerHost:       o.MaxConnections,
		MaxIdleConnsPerHost:   o.MaxConnections,
		MaxIdleConns:          o.MaxConnections,
		IdleConnTimeout:       o.IdleTimeout,
	}
	return &http.Client{Transport: tr, Timeout: o.Timeout}
}

// NewClient returns a Client for the SML at baseURL over NewHTTPClient(o).
func NewClient(baseURL string, o TransportOptions) *Client {
	return &Client{BaseURL: baseURL, HTTP: NewHTTPClient(o)}
}
