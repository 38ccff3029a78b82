package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/signpost-project/signpost/lookup"
)

// checkTLS connects to this SMP's https URL (host and port) and verifies its certificate as a lookup does: against
// the system roots or Config.TLSRoots, for the URL's host name; then checks how long it stays valid.
func (r *run) checkTLS(ctx context.Context) Result {
	u := r.rep.SMPURL
	if u == "" {
		return skip(CheckTLS, needParticipant+", or give --smp-url", "no SMP URL to check")
	}
	p, err := url.Parse(u)
	if err != nil {
		return skip(CheckTLS, "", "the SMP URL %q does not parse", u)
	}
	if !strings.EqualFold(p.Scheme, "https") {
		return skip(CheckTLS, "", "%s is not https (see the https check)", u)
	}
	host, port := p.Hostname(), p.Port()
	if port == "" {
		port = "443"
	}
	addr := net.JoinHostPort(host, port)
	roots := "the system roots"
	if r.cfg.TLSRoots != nil {
		roots = "--tls-ca"
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: r.cfg.Timeout},
		Config:    &tls.Config{ServerName: host, RootCAs: r.cfg.TLSRoots, MinVersion: tls.VersionTLS12, Time: r.cfg.Now},
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var hn x509.HostnameError
		var ci x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &hn):
			return fail(CheckTLS, "install a certificate whose subject alternative names include "+host,
				"the certificate at %s does not name %s: %v", addr, host, err)
		case errors.As(err, &ci) && ci.Reason == x509.Expired:
			return fail(CheckTLS, "renew the certificate and install it (replace the files of http.tls, or the proxy's; the SMP reads them again on change); with http.acme, see the log and signpost_smp_acme_errors_total for why it did not renew",
				"the certificate at %s is expired or not yet valid: %v", addr, err)
		case errors.As(err, &ua):
			return fail(CheckTLS, "use a certificate from a public web CA (not the PEPPOL SMP CA), and serve its intermediate certificates too",
				"the certificate at %s does not chain to %s: %v", addr, roots, err)
		case lookup.IsTLSUntrusted(err):
			return fail(CheckTLS, "install a valid certificate from a public web CA for "+host, "the certificate at %s does not verify: %v", addr, err)
		}
		return fail(CheckTLS, "start the SMP (or its TLS proxy) on "+addr+" and open the port to the Internet",
			"no TLS connection to %s: %v", addr, err)
	}
	st := conn.(*tls.Conn).ConnectionState()
	_ = conn.Close()
	leaf := st.PeerCertificates[0]
	left := leaf.NotAfter.Sub(r.cfg.Now())
	if left < r.cfg.MinValidity {
		return fail(CheckTLS, "renew the certificate now and install it; if an ACME client renews it, see why it did not (its log, the account, the challenge)",
			"the certificate at %s (%s) expires on %s, in %s (less than %s)", addr, leaf.Subject, leaf.NotAfter.UTC().Format(time.DateOnly),
			days(left), days(r.cfg.MinValidity))
	}
	return pass(CheckTLS, "%s answers %s with %s issued by %s, valid until %s (%s), chaining to %s",
		addr, tls.VersionName(st.Version), leaf.Subject, leaf.Issuer, leaf.NotAfter.UTC().Format(time.DateOnly), days(left), roots)
}
