package conf

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// SMP is the configuration of `signpost smp serve`.
type SMP struct {
	Store Store `yaml:"store"`
	Log   Log   `yaml:"log"`
	Ops   Ops   `yaml:"ops"`
	HTTP  HTTP  `yaml:"http"`
	// Admin is the admin listener (JSON admin and token API); the SMP's admin token is any administrator's token,
	// and the server writes one to admin.token_file when that file does not exist.
	Admin Admin `yaml:"admin"`
	// SMPID is this SMP's identifier in the SML, e.g. SMP-EXAMPLE.
	SMPID string `yaml:"smp_id"`
	// PublicURL is the base URL clients reach this SMP at (behind any proxy, with any path prefix); hrefs are built
	// from it. Example: http://smp.example.org or https://example.org/smp.
	PublicURL string `yaml:"public_url"`
	// Flavour of the root paths: peppol (PEPPOL SMP 1.x) or oasis-bdxr-1 (OASIS BDXR SMP 1.0). Default peppol.
	Flavour string `yaml:"flavour"`
	// SMP2 serves the OASIS SMP 2.0 binding under /bdxr-smp-2/. Default true.
	SMP2 *bool `yaml:"smp2"`
	// Identifiers is peppol (PEPPOL policy) or oasis (any scheme). Default: peppol for flavour peppol, else oasis.
	Identifiers string `yaml:"identifiers"`
	// Signing is the key and certificate responses are signed with (the network's SMP certificate).
	Signing TLSFiles `yaml:"signing"`
	// SML is the locator this SMP registers its participants in.
	SML SMLClient `yaml:"sml"`
	// Write configures the management API.
	Write Write `yaml:"write"`
	file  string
}

// File returns the path the configuration was loaded from.
func (c *SMP) File() string { return c.file }

// Serve2 reports whether the SMP 2.0 binding is served.
func (c *SMP) Serve2() bool { return c.SMP2 == nil || *c.SMP2 }

// Policy returns the identifier policy.
func (c *SMP) Policy() identifier.Policy {
	if c.Identifiers == "oasis" {
		return identifier.OASIS
	}
	return identifier.PEPPOL
}

// HTTP is the public listener of the SMP.
type HTTP struct {
	// Listen is HOST:PORT. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLS, when set, serves HTTPS with this certificate (PEM cert with its chain and key, or PKCS#12). The files
	// are read again when they change on disk (checked every TLSCheckInterval) and on SIGHUP; a bad new file
	// keeps the certificate in use. Exclusive with ACME. PEPPOL requires HTTPS on port 443 since 2026-02-01.
	TLS TLSFiles `yaml:"tls"`
	// TLSCheckInterval is how often the http.tls files are checked for a change (size or modification time).
	// Default 10s.
	TLSCheckInterval time.Duration `yaml:"tls_check_interval"`
	// ACME, when domains are set, obtains and renews the HTTPS certificate from an ACME CA (Let's Encrypt by
	// default). Exclusive with TLS.
	ACME ACME `yaml:"acme"`
	// RedirectListen, when set with TLS or ACME, is a plain-HTTP listener (HOST:PORT, usually :80) that only
	// redirects GET and HEAD to public_url's https origin and answers ACME HTTP-01 challenges. Default: none.
	RedirectListen string `yaml:"redirect_listen"`
	// ReadTimeout, WriteTimeout and IdleTimeout of connections. Defaults 30s, 30s, 120s.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// ReadHeaderTimeout bounds the head of a request (slow clients). Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose X-Forwarded-For / Forwarded header names
	// the client (for the limit on failed logins and the log). From any other peer those headers are ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// ACME configures certificates from an ACME CA (RFC 8555) for the public listener.
type ACME struct {
	// Domains are the host names of the certificate (one certificate per name); the first is public_url's host.
	// Empty: ACME off.
	Domains []string `yaml:"domains"`
	// Email is the contact address registered with the CA (expiry and incident notices). Optional.
	Email string `yaml:"email"`
	// Directory is the CA's ACME directory URL. Default: Let's Encrypt's production directory.
	Directory string `yaml:"directory"`
	// CA is a PEM bundle that verifies the directory's HTTPS certificate instead of the system roots (a private
	// or test CA such as Pebble). Optional.
	CA string `yaml:"ca"`
	// CacheDir keeps the account key and the certificates across restarts. Default: acme/ beside store.path.
	CacheDir string `yaml:"cache_dir"`
	// RenewBefore is how long before expiry a certificate is renewed. Default 0: a third of its validity, at most
	// 30 days (30 days for Let's Encrypt's 90-day certificates).
	RenewBefore time.Duration `yaml:"renew_before"`
}

// LetsEncryptDirectory is the default http.acme.directory.
const LetsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// Enabled reports whether ACME is configured.
func (a ACME) Enabled() bool { return len(a.Domains) > 0 }

// HTTPS reports whether the public listener serves HTTPS (http.tls or http.acme).
func (h HTTP) HTTPS() bool { return h.TLS.Set() || h.ACME.Enabled() }

// Write configures the write (management) API.
type Write struct {
	// Enabled turns PUT and DELETE on. Default true.
	Enabled *bool `yaml:"enabled"`
	// MaxBodyBytes limits a PUT body; more is answered 413. Default 4194304.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ExpiredCertificates is refuse (default) or warn: what to do with an endpoint certificate that has expired.
	ExpiredCertificates string `yaml:"expired_certificates"`
	// MaxNSPerElement bounds the namespace declarations on one element of a body (default 64), MaxNSPerDocument
	// those of a whole body (default 1024); real documents carry a handful. More is answered 400.
	MaxNSPerElement  int `yaml:"max_ns_per_element"`
	MaxNSPerDocument int `yaml:"max_ns_per_document"`
	// AuthFailuresPerMinute is how many failed authentications one client address may make per minute before it
	// is answered 429 with Retry-After (default 10).
	AuthFailuresPerMinute int `yaml:"auth_failures_per_minute"`
}

// SMLClient is how the SMP reaches its SML.
type SMLClient struct {
	// Network is peppol-prod or peppol-test (OpenPeppol's SML: the preset gives URL and zone) or custom (URL and
	// Zone below). Default custom. See docs/smp-sml.md.
	Network string `yaml:"network"`
	// URL is the SML management base URL, e.g. https://sml.example.org/edelivery-sml; empty: no SML registration.
	// Only with network custom.
	URL string `yaml:"url"`
	// Zone is the SML's DNS zone, e.g. sml.example.org. Only with network custom; optional.
	Zone string `yaml:"zone"`
	// ClientTLS is the SMP certificate the SML knows this SMP by. Default: the signing key and certificate.
	ClientTLS TLSFiles `yaml:"client_tls"`
	// CA is a PEM bundle that verifies the SML's server certificate. Default: the system roots.
	CA string `yaml:"ca"`
	// LogicalAddress registered for this SMP. Default: public_url.
	LogicalAddress string `yaml:"logical_address"`
	// PhysicalAddress registered for this SMP (an IPv4 address). Default 127.0.0.1.
	PhysicalAddress string `yaml:"physical_address"`
	// Timeout of one SML call. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConnections bounds the connections open to the SML at once (the client's pool). Default 4.
	MaxConnections int `yaml:"max_connections"`
	// RetryMin and RetryMax bound the wait before an undelivered registration is tried again: it doubles from
	// RetryMin after each failed attempt up to RetryMax, with ±20% jitter. Defaults 1s and 5m.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// Batch is the most participants sent in one CreateList or DeleteList. Default 100.
	Batch int `yaml:"batch"`
}

// LoadSMP reads, defaults and validates an SMP configuration file.
func LoadSMP(path string) (*SMP, error) { return load[SMP](path) }

// ParseSMP is LoadSMP on bytes; name is used in messages.
func ParseSMP(name string, data []byte) (*SMP, error) { return parse[SMP](name, data) }

func (c *SMP) setFile(name string) { c.file = name }

// Defaults fills in every value left out.
func (c *SMP) Defaults() {
	c.Store.defaults("smp")
	c.Log.defaults()
	if c.Ops.Addr == "" {
		c.Ops.Addr = "127.0.0.1:9091"
	}
	h := &c.HTTP
	if h.Listen == "" {
		h.Listen = "127.0.0.1:8080"
	}
	if h.ReadTimeout == 0 {
		h.ReadTimeout = 30 * time.Second
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = 30 * time.Second
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = 120 * time.Second
	}
	if h.ReadHeaderTimeout == 0 {
		h.ReadHeaderTimeout = 10 * time.Second
	}
	if h.TLSCheckInterval == 0 {
		h.TLSCheckInterval = 10 * time.Second
	}
	if h.ACME.Enabled() {
		if h.ACME.Directory == "" {
			h.ACME.Directory = LetsEncryptDirectory
		}
		if h.ACME.CacheDir == "" {
			h.ACME.CacheDir = filepath.Join(filepath.Dir(c.Store.Path), "acme")
		}
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:8081"
	}
	if c.Admin.TokenFile == "" {
		c.Admin.TokenFile = filepath.Join(filepath.Dir(c.Store.Path), "smp-admin.token")
	}
	if c.Flavour == "" {
		c.Flavour = "peppol"
	}
	if c.Identifiers == "" {
		if c.Flavour == "peppol" {
			c.Identifiers = "peppol"
		} else {
			c.Identifiers = "oasis"
		}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Write.MaxBodyBytes == 0 {
		c.Write.MaxBodyBytes = 4 << 20
	}
	if c.Write.ExpiredCertificates == "" {
		c.Write.ExpiredCertificates = "refuse"
	}
	if c.Write.MaxNSPerElement == 0 {
		c.Write.MaxNSPerElement = 64
	}
	if c.Write.MaxNSPerDocument == 0 {
		c.Write.MaxNSPerDocument = 1024
	}
	if c.Write.AuthFailuresPerMinute == 0 {
		c.Write.AuthFailuresPerMinute = 10
	}
	s := &c.SML
	if !s.ClientTLS.Set() {
		s.ClientTLS = c.Signing
	}
	if s.LogicalAddress == "" {
		s.LogicalAddress = c.PublicURL
	}
	if s.PhysicalAddress == "" {
		s.PhysicalAddress = "127.0.0.1"
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	if s.MaxConnections == 0 {
		s.MaxConnections = 4
	}
	if s.RetryMin == 0 {
		s.RetryMin = time.Second
	}
	if s.RetryMax == 0 {
		s.RetryMax = 5 * time.Minute
	}
	if s.Batch == 0 {
		s.Batch = 100
	}
}

// WriteEnabled reports whether PUT and DELETE are served.
func (c *SMP) WriteEnabled() bool { return c.Write.Enabled == nil || *c.Write.Enabled }

// Validate reports every problem of the configuration at once.
func (c *SMP) Validate() error {
	p := &problems{}
	c.Store.validate(p)
	c.Log.validate(p)
	validateAddr(p, "ops.addr", c.Ops.Addr, true)
	validateAddr(p, "http.listen", c.HTTP.Listen, false)
	c.HTTP.TLS.validate(p, "http.tls", false)
	c.HTTP.validateHTTPS(p, c.PublicURL)
	validatePositive(p, "http.read_timeout", c.HTTP.ReadTimeout)
	validatePositive(p, "http.write_timeout", c.HTTP.WriteTimeout)
	validatePositive(p, "http.idle_timeout", c.HTTP.IdleTimeout)
	validatePositive(p, "http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	for i, tp := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(tp); err != nil {
			if _, err := netip.ParseAddr(tp); err != nil {
				p.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q is not an IP address or CIDR", tp)
			}
		}
	}
	validateLoopback(p, "admin.listen", c.Admin.Listen)
	for _, a := range []struct{ key, v string }{{"http.listen", c.HTTP.Listen}, {"ops.addr", c.Ops.Addr}} {
		if a.v != "" && a.v == c.Admin.Listen && !strings.HasSuffix(a.v, ":0") { // port 0: any free port, never the same
			p.add("admin.listen", "%q is also %s; the admin API needs a listener of its own", a.v, a.key)
		}
	}
	if c.Write.MaxNSPerElement < 1 || c.Write.MaxNSPerDocument < c.Write.MaxNSPerElement {
		p.add("write.max_ns_per_document", "limits %d per element and %d per document: each at least 1, per document at least per element", c.Write.MaxNSPerElement, c.Write.MaxNSPerDocument)
	}
	if c.Write.AuthFailuresPerMinute < 1 {
		p.add("write.auth_failures_per_minute", "%d: at least 1", c.Write.AuthFailuresPerMinute)
	}
	if c.SMPID == "" {
		p.add("smp_id", "missing: the SMP's identifier in the SML, e.g. SMP-EXAMPLE")
	} else if strings.ContainsAny(c.SMPID, " \t\r\n/") {
		p.add("smp_id", "%q must not contain spaces or slashes", c.SMPID)
	}
	validateURL(p, "public_url", c.PublicURL, true)
	switch c.Flavour {
	case "peppol", "oasis-bdxr-1":
	default:
		p.add("flavour", "%q is not a flavour; use peppol or oasis-bdxr-1", c.Flavour)
	}
	if c.Identifiers != "peppol" && c.Identifiers != "oasis" {
		p.add("identifiers", "%q is not an identifier policy; use peppol or oasis", c.Identifiers)
	}
	c.Signing.validate(p, "signing", true)
	if c.Write.MaxBodyBytes < 1024 {
		p.add("write.max_body_bytes", "%d is too small; at least 1024", c.Write.MaxBodyBytes)
	}
	if c.Write.ExpiredCertificates != "refuse" && c.Write.ExpiredCertificates != "warn" {
		p.add("write.expired_certificates", "%q is not refuse or warn", c.Write.ExpiredCertificates)
	}
	c.SML.validate(p)
	return p.err(c.file)
}

// validateHTTPS checks http.tls, http.acme, http.redirect_listen and their agreement with public_url.
func (h *HTTP) validateHTTPS(p *problems, publicURL string) {
	validatePositive(p, "http.tls_check_interval", h.TLSCheckInterval)
	a := &h.ACME
	if h.TLS.Set() && a.Enabled() {
		p.add("http.acme", "http.tls and http.acme are exclusive: give certificate files (http.tls) or let ACME obtain them (http.acme.domains), not both")
	}
	if !a.Enabled() && (a.Email != "" || a.Directory != "" || a.CA != "" || a.CacheDir != "" || a.RenewBefore != 0) {
		p.add("http.acme.domains", "missing: the other http.acme keys need the host names to obtain certificates for")
	}
	for i, d := range a.Domains {
		if msg := hostNameProblem(d); msg != "" {
			p.add(fmt.Sprintf("http.acme.domains[%d]", i), "%q %s", d, msg)
		}
	}
	if a.Email != "" && (!strings.Contains(a.Email, "@") || strings.ContainsAny(a.Email, " \t\r\n")) {
		p.add("http.acme.email", "%q is not an email address", a.Email)
	}
	if a.Enabled() {
		if u, err := url.Parse(a.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
			p.add("http.acme.directory", "%q is not an https URL of an ACME directory, like %s", a.Directory, LetsEncryptDirectory)
		}
	}
	if a.RenewBefore < 0 {
		p.add("http.acme.renew_before", "must not be negative (0: a third of the certificate's validity)")
	}
	if h.RedirectListen != "" {
		validateAddr(p, "http.redirect_listen", h.RedirectListen, false)
		if !h.HTTPS() {
			p.add("http.redirect_listen", "only with HTTPS: it redirects to https, so set http.tls or http.acme too (or leave it out)")
		}
		if h.RedirectListen == h.Listen && !strings.HasSuffix(h.Listen, ":0") {
			p.add("http.redirect_listen", "%q is also http.listen; the redirect needs a port of its own (usually :80 beside :443)", h.RedirectListen)
		}
	}
	if !h.HTTPS() || publicURL == "" {
		return
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return // reported by public_url's own check
	}
	if u.Scheme != "https" {
		p.add("public_url", "%q is http but this SMP serves HTTPS (http.tls or http.acme): the SML registration announces public_url, so give its https:// form", publicURL)
	}
	if a.Enabled() && !slices.Contains(lowered(a.Domains), strings.ToLower(u.Hostname())) {
		p.add("http.acme.domains", "%v does not name public_url's host %q: clients reaching public_url would get no certificate", a.Domains, u.Hostname())
	}
}

func lowered(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}

// hostNameProblem says what is wrong with an ACME domain, or "" when it is a DNS host name.
func hostNameProblem(d string) string {
	switch {
	case d == "":
		return "is empty"
	case isIP(d):
		return "is an IP address; ACME here obtains certificates for DNS names"
	case strings.Contains(d, "*"):
		return "is a wildcard; the HTTP-01 and TLS-ALPN-01 challenges cannot prove one (name each host)"
	case strings.HasSuffix(d, "."):
		return "ends with a dot; leave it out"
	case !strings.Contains(d, "."):
		return "is not a fully qualified name (like smp.example.org)"
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "is not a valid host name"
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return "is not a valid host name (letters, digits, hyphens and dots; IDNs in their xn-- form)"
			}
		}
	}
	return ""
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func validateURL(p *problems, path, s string, required bool) {
	if s == "" {
		if required {
			p.add(path, "missing: give an absolute http or https URL")
		}
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(path, "%q is not an absolute http or https URL", s)
		return
	}
	if u.RawQuery != "" || u.Fragment != "" {
		p.add(path, "%q must not have a query or fragment", s)
	}
}

// String renders a one-line summary for logs.
func (c *SMP) String() string {
	return fmt.Sprintf("smp %s at %s (%s)", c.SMPID, c.PublicURL, c.Flavour)
}
