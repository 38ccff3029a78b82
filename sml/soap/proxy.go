package soap

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/sml"
)

// Proxy header formats.
const (
	FormatEscapedPEM = "escaped-pem" // URL-escaped PEM, nginx's $ssl_client_escaped_cert
	FormatRFC9440    = "rfc9440"     // RFC 9440 Client-Cert: a structured-field byte sequence, :base64-DER:
)

// ProxyAuthenticator reads the client certificate from a header set by a TLS-terminating proxy, and only when
// the request's TCP peer is one of Proxies; the certificate is then verified by Cert exactly like a TLS client
// certificate. From a proxy without the header the request has no certificate (the proxy's own TLS client
// certificate, if any, is never the caller). From any other peer the header is ignored (logged) and the TLS
// client certificate is used.
type ProxyAuthenticator struct {
	Cert    *CertAuthenticator
	Proxies []netip.Prefix
	Header  string
	Format  string // FormatEscapedPEM or FormatRFC9440
	Log     *slog.Logger
}

// NewProxyAuthenticator returns the proxy authenticator of the configuration (management.proxy).
func NewProxyAuthenticator(cert *CertAuthenticator, p conf.Proxy, log *slog.Logger) (*ProxyAuthenticator, error) {
	a := &ProxyAuthenticator{Cert: cert, Header: p.Header, Format: p.Format, Log: log}
	for _, s := range p.Addresses {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			ip, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return nil, fmt.Errorf("soap: management.proxy.addresses: %q is neither an address nor a prefix", s)
			}
			pfx = netip.PrefixFrom(ip, ip.BitLen())
		}
		a.Proxies = append(a.Proxies, pfx.Masked())
	}
	if a.Format != FormatEscapedPEM && a.Format != FormatRFC9440 {
		return nil, fmt.Errorf("soap: management.proxy.format %q is not %s or %s", a.Format, FormatEscapedPEM, FormatRFC9440)
	}
	if a.Header == "" {
		return nil, fmt.Errorf("soap: management.proxy.header is missing")
	}
	return a, nil
}

// Authenticate implements Authenticator.
func (a *ProxyAuthenticator) Authenticate(r *http.Request) (sml.Caller, error) {
	values := r.Header.Values(a.Header)
	if !a.fromProxy(r.RemoteAddr) {
		if len(values) > 0 && a.Log != nil {
			a.Log.Warn("soap: certificate header from an address that is not a configured proxy ignored",
				"remote", r.RemoteAddr, "header", a.Header)
		}
		return a.Cert.Authenticate(r)
	}
	if len(values) == 0 || (len(values) == 1 && strings.TrimSpace(values[0]) == "") {
		return sml.Caller{}, ErrNoCertificate
	}
	if len(values) > 1 {
		return sml.Caller{}, fmt.Errorf("the proxy sent the header %s %d times; it must carry one certificate", a.Header, len(values))
	}
	leaf, chain, err := a.decode(values[0], r.Header.Values("Client-Cert-Chain"))
	if err != nil {
		return sml.Caller{}, fmt.Errorf("the client certificate in the proxy's header %s could not be read: %v", a.Header, err)
	}
	return a.Cert.Verify(leaf, chain)
}

func (a *ProxyAuthenticator) fromProxy(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.Proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// decode reads the header value in the configured format; for RFC 9440, chain holds the Client-Cert-Chain
// header values (intermediates, comma-separated byte sequences).
func (a *ProxyAuthenticator) decode(v string, chainValues []string) (*x509.Certificate, []*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	if a.Format == FormatEscapedPEM {
		s, err := url.PathUnescape(v) // '+' is base64, never a space
		if err != nil {
			return nil, nil, fmt.Errorf("not URL-escaped PEM: %v", err)
		}
		b, _ := pem.Decode([]byte(s))
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("not a PEM certificate")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		return c, nil, err
	}
	leaf, err := sfBinaryCert(v)
	if err != nil {
		return nil, nil, err
	}
	var chain []*x509.Certificate
	for _, cv := range chainValues {
		for _, item := range strings.Split(cv, ",") {
			c, err := sfBinaryCert(strings.TrimSpace(item))
			if err != nil {
				return nil, nil, fmt.Errorf("Client-Cert-Chain: %v", err)
			}
			chain = append(chain, c)
		}
	}
	return leaf, chain, nil
}

func sfBinaryCert(v string) (*x509.Certificate, error) {
	if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
		return nil, fmt.Errorf("not an RFC 9440 byte sequence (:base64-DER:)")
	}
	der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return x509.ParseCertificate(der)
}
