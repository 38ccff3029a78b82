package lookup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/xmldsig"
)

// Defaults of [Config].
const (
	DefaultDNSTimeout   = 2 * time.Second
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxBody      = 4 << 20
	DefaultNegativeTTL  = 60 * time.Second
	DefaultCacheEntries = 10000
)

// Config configures a [Client]. Only Zone and Verifier are required.
type Config struct {
	// Zone is the SML zone, e.g. "participant.sml.prod.tech.peppol.org" (PEPPOL production since 2026) or
	// "sml.test".
	Zone string
	// RequireHTTPS refuses a plain-http SMP URL (from the NAPTR record, the CNAME fallback or a Redirect) with
	// HTTPRefused. Set it for the PEPPOL networks, where SMPs are served over HTTPS only since 2026-02-01.
	RequireHTTPS bool
	// TLSRoots verifies the SMPs' HTTPS certificates (nil: the system roots). It is the web PKI of the
	// transport, separate from Verifier's trust anchors of the signature, and applies to the default
	// Transport only.
	TLSRoots *x509.CertPool
	// HashMode is how the participant becomes a DNS name (default identifier.SchemeLabel).
	HashMode identifier.HashMode
	// CNAMEFallback also tries the legacy "B-<md5>" name when the NAPTR name does not exist; the SMP is then
	// http://<B-name>:<LegacyPort>/ on the root paths.
	CNAMEFallback bool
	// LegacyPort is the port of the CNAME fallback's SMP URL (default 80).
	LegacyPort int
	// Servers are the name servers, "host:port" (port 53 if left out). Empty: those of /etc/resolv.conf.
	Servers []string
	// Policy compares the identifiers an SMP returns with those asked for (the zero value is PEPPOL).
	Policy identifier.Policy
	// Verifier checks SMP signatures and their certificate chain. Required.
	Verifier *xmldsig.Verifier
	// TransportProfiles is the default preference list of transport profiles, most preferred first; empty
	// accepts any (the first active endpoint in document order).
	TransportProfiles []string
	// DNSTimeout bounds each DNS exchange (default 2 s); a server that times out is asked DNSAttempts times
	// (default 2) before the next one. HTTPTimeout bounds each SMP request (default 10 s).
	DNSTimeout  time.Duration
	DNSAttempts int
	HTTPTimeout time.Duration
	// MaxBodyBytes limits an SMP response body (default 4 MiB).
	MaxBodyBytes int64
	// NegativeTTL is the longest time a negative answer (NXDOMAIN, HTTP 404) is cached (default 60 s).
	NegativeTTL time.Duration
	// CacheEntries bounds the DNS and the HTTP cache each (default 10000); negative disables caching.
	CacheEntries int
	// Transport is the HTTP transport (default: a clone of http.DefaultTransport that resolves names in
	// Zone through Servers).
	Transport http.RoundTripper
	// Now is the clock for activation and expiration dates, certificate validity and the cache (default
	// time.Now). The Verifier has its own clock; New sets it to Now when it is nil.
	Now func() time.Time
	// Logger receives debug records of each step (default: discard).
	Logger *slog.Logger
}

// Client resolves participants. It is safe for concurrent use; one Client (and its cache) is meant to serve
// every lookup of an access point.
type Client struct {
	cfg      Config
	res      *resolver
	http     *http.Client
	cache    *cache
	zoneFQDN string
	log      *slog.Logger
}

// New validates cfg, fills in defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	var problems []string
	if strings.Trim(cfg.Zone, ".") == "" {
		problems = append(problems, "zone is required")
	}
	if cfg.HashMode == "" {
		cfg.HashMode = identifier.SchemeLabel
	}
	if !cfg.HashMode.Valid() {
		problems = append(problems, fmt.Sprintf("hashing mode %q is not scheme-label or full-id", cfg.HashMode))
	}
	if cfg.Verifier == nil || cfg.Verifier.Roots == nil {
		problems = append(problems, "a verifier with trust anchors is required")
	}
	if len(problems) > 0 {
		return nil, errors.New("lookup: " + strings.Join(problems, "; "))
	}
	if cfg.LegacyPort == 0 {
		cfg.LegacyPort = 80
	}
	if cfg.DNSTimeout <= 0 {
		cfg.DNSTimeout = DefaultDNSTimeout
	}
	if cfg.DNSAttempts <= 0 {
		cfg.DNSAttempts = 2
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBody
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := *cfg.Verifier
	if v.Now == nil {
		v.Now = cfg.Now
	}
	cfg.Verifier = &v
	cfg.Servers = append([]string(nil), cfg.Servers...)
	cfg.TransportProfiles = append([]string(nil), cfg.TransportProfiles...)
	res, err := newResolver(cfg.Servers, cfg.DNSTimeout, cfg.DNSAttempts)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, res: res, cache: newCache(cfg.CacheEntries), log: cfg.Logger,
		zoneFQDN: strings.ToLower(dns.Fqdn(strings.Trim(cfg.Zone, ".")))}
	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.MaxIdleConnsPerHost = 64
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.TLSRoots, MinVersion: tls.VersionTLS12}
		dialer := &net.Dialer{Timeout: cfg.HTTPTimeout, KeepAlive: 30 * time.Second}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || net.ParseIP(host) != nil || !c.inZone(host) {
				return dialer.DialContext(ctx, network, addr)
			}
			ips, err := c.resolveHost(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error
			for _, ip := range ips {
				conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip, port))
				if err == nil {
					return conn, nil
				}
				last = err
			}
			return nil, last
		}
		rt = t
	}
	c.http = &http.Client{
		Transport: rt,
		Timeout:   cfg.HTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // SMPs redirect in XML, never in HTTP
		},
	}
	return c, nil
}

func (c *Client) now() time.Time { return c.cfg.Now() }

// Request is what to resolve.
type Request struct {
	Participant  identifier.ID
	DocumentType identifier.ID
	// Process selects the process; zero takes the first process (in document order) with a matching
	// endpoint. An SMP entry for the "no process" identifier matches any process.
	Process identifier.ID
	// TransportProfiles overrides Config.TransportProfiles when not empty.
	TransportProfiles []string
}

// Endpoint is where and how to send.
type Endpoint struct {
	Address          string
	TransportProfile string
	// Certificate is the receiving access point's certificate (nil when the SMP gives none, which SMP 2.0
	// allows). Each Result has its own copy.
	Certificate                   *x509.Certificate
	ActivationDate                time.Time // zero: none given
	ExpirationDate                time.Time // zero: none given
	Description                   string
	TechnicalContact              string
	TechnicalInformationURL       string
	RequireBusinessLevelSignature bool
}

// Trace says how the answer was found.
type Trace struct {
	DNSName   string // the name queried (NAPTR, or the B- name of the CNAME fallback)
	DNSServer string // the server that answered ("" when cached)
	NAPTR     string // the record used, in presentation format; "" for the CNAME fallback
	CNAME     bool   // found through the legacy CNAME fallback
	DNSCached bool
	// SMPBaseURL is what the NAPTR rule (or the CNAME fallback) gave.
	SMPBaseURL string
	Binding    Binding
	// URL is the document fetched; RedirectURL the one a Redirect led to ("" when none).
	URL         string
	RedirectURL string
	HTTPCached  bool
	// Signer is the SMP's signing certificate (of the final document).
	Signer *x509.Certificate
}

// Result is a resolved endpoint.
type Result struct {
	Participant  identifier.ID
	DocumentType identifier.ID
	// MatchedDocumentType is the registration that answered: DocumentType itself, or for a
	// peppol-doctype-wildcard request the best wildcard registration (see WildcardCandidates).
	MatchedDocumentType identifier.ID
	// Process is the process whose endpoint was chosen, as the SMP wrote it (the "no process" identifier
	// when that entry matched; zero for an SMP 2.0 entry without processes).
	Process  identifier.ID
	Endpoint Endpoint
	Trace    Trace
}

// smpLocation is where the participant's SMP is.
type smpLocation struct {
	base    string
	binding Binding
	trace   Trace
}

// locate finds the participant's SMP through DNS.
func (c *Client) locate(ctx context.Context, pid identifier.ID) (smpLocation, error) {
	name := identifier.NAPTRName(pid, c.cfg.Zone, c.cfg.HashMode)
	a, cached, err := c.lookupDNS(ctx, name, dns.TypeNAPTR)
	if err != nil {
		return smpLocation{}, err
	}
	tr := Trace{DNSName: name, DNSServer: a.server, DNSCached: cached}
	if cached {
		tr.DNSServer = ""
	}
	if a.rcode == dns.RcodeNameError {
		if c.cfg.CNAMEFallback && c.cfg.HashMode == identifier.SchemeLabel {
			return c.locateCNAME(ctx, pid, name)
		}
		return smpLocation{}, errorf(NotRegistered, nil, "participant %s is not registered in zone %s (NXDOMAIN for %s); check the identifier and --zone",
			pid, strings.TrimSuffix(c.zoneFQDN, "."), strings.TrimSuffix(name, "."))
	}
	ch, seen := chooseNAPTR(a.answer, strings.TrimSuffix(name, "."))
	if ch.record == nil {
		if len(seen) == 0 && c.cfg.CNAMEFallback && c.cfg.HashMode == identifier.SchemeLabel {
			return c.locateCNAME(ctx, pid, name)
		}
		what := "no NAPTR record"
		if len(seen) > 0 {
			what = "no NAPTR record with flag U, a service this client understands (Meta:SMP, oasis-bdxr-smp-2) and an http(s) URL; found: " + strings.Join(seen, ", ")
		}
		return smpLocation{}, errorf(BadResponse, nil, "%s exists in DNS but has %s", strings.TrimSuffix(name, "."), what)
	}
	if c.cfg.RequireHTTPS && !strings.HasPrefix(strings.ToLower(ch.baseURL), "https://") {
		if alt, _ := chooseNAPTR(httpsRecords(a.answer, strings.TrimSuffix(name, ".")), strings.TrimSuffix(name, ".")); alt.record != nil {
			ch = alt
		}
	}
	tr.NAPTR = strings.ReplaceAll(ch.record.String(), "\t", " ")
	tr.SMPBaseURL = ch.baseURL
	tr.Binding = ch.binding
	if err := CheckSMPURL(ch.baseURL, c.cfg.RequireHTTPS, "the NAPTR record of "+strings.TrimSuffix(name, ".")); err != nil {
		return smpLocation{}, err
	}
	return smpLocation{base: ch.baseURL, binding: ch.binding, trace: tr}, nil
}

func (c *Client) locateCNAME(ctx context.Context, pid identifier.ID, naptrName string) (smpLocation, error) {
	name := identifier.CNAMEName(pid, c.cfg.Zone, c.cfg.HashMode)
	a, cached, err := c.lookupDNS(ctx, name, dns.TypeCNAME)
	if err != nil {
		return smpLocation{}, err
	}
	if a.rcode == dns.RcodeNameError {
		return smpLocation{}, errorf(NotRegistered, nil, "participant %s is not registered in zone %s (NXDOMAIN for %s and for %s); check the identifier and --zone",
			pid, strings.TrimSuffix(c.zoneFQDN, "."), strings.TrimSuffix(naptrName, "."), strings.TrimSuffix(name, "."))
	}
	host := strings.TrimSuffix(name, ".")
	base := "http://" + host
	if c.cfg.LegacyPort != 80 {
		base = "http://" + net.JoinHostPort(host, strconv.Itoa(c.cfg.LegacyPort))
	}
	tr := Trace{DNSName: name, DNSServer: a.server, DNSCached: cached, CNAME: true, SMPBaseURL: base, Binding: BindingRoot}
	if cached {
		tr.DNSServer = ""
	}
	if err := CheckSMPURL(base, c.cfg.RequireHTTPS, "the legacy CNAME "+host); err != nil {
		return smpLocation{}, err
	}
	return smpLocation{base: base, binding: BindingRoot, trace: tr}, nil
}

// smpURL builds {base}[/bdxr-smp-2]/{participant}[/services/{doctype}].
func smpURL(base string, b Binding, pid identifier.ID, doc *identifier.ID) string {
	base = strings.TrimRight(base, "/")
	if b == BindingOASIS2 && !strings.HasSuffix(base, "/bdxr-smp-2") {
		base += "/bdxr-smp-2"
	}
	u := base + "/" + identifier.EncodeID(pid)
	if doc != nil {
		u += "/services/" + identifier.EncodeID(*doc)
	}
	return u
}

// Lookup resolves req: DNS, SMP, signature and certificate chain, identifiers, endpoint. Every failure is an
// *Error, except a cancelled ctx (ctx.Err()).
func (c *Client) Lookup(ctx context.Context, req Request) (*Result, error) {
	if req.Participant.IsZero() || req.DocumentType.IsZero() {
		return nil, errors.New("lookup: participant and document type are required")
	}
	docs, err := WildcardCandidates(req.DocumentType)
	if err != nil {
		return nil, err
	}
	loc, err := c.locate(ctx, req.Participant)
	if err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	for i, doc := range docs {
		one := req
		one.DocumentType = doc
		res, err := c.lookupAt(ctx, loc, one)
		if KindOf(err) == DocumentTypeNotSupported && i+1 < len(docs) {
			continue // the next, coarser wildcard registration
		}
		if err != nil {
			if KindOf(err) == DocumentTypeNotSupported && len(docs) > 1 {
				err = errorf(DocumentTypeNotSupported, nil, "participant %s has no registration for document type %s, exact or wildcard (tried %d: %s ... %s)",
					req.Participant, req.DocumentType, len(docs), docs[0], docs[len(docs)-1])
			}
			return nil, err
		}
		res.DocumentType, res.MatchedDocumentType = req.DocumentType, doc
		return res, nil
	}
	return nil, errors.New("lookup: no document type to look up") // unreachable: WildcardCandidates returns at least one
}

// lookupAt resolves req (with the one document type to fetch) at the SMP loc names.
func (c *Client) lookupAt(ctx context.Context, loc smpLocation, req Request) (*Result, error) {
	tr := loc.trace
	u := smpURL(loc.base, loc.binding, req.Participant, &req.DocumentType)
	tr.URL = u
	md, signer, cached, err := c.fetchMetadata(ctx, u, req)
	if err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	tr.HTTPCached = cached
	tr.Binding = md.binding
	if md.redirect != nil {
		target, err := c.redirectURL(md, req)
		if err != nil {
			return nil, err
		}
		tr.RedirectURL = target
		md2, signer2, cached2, err := c.fetchMetadata(ctx, target, req)
		if err != nil {
			return nil, c.ctxErr(ctx, err)
		}
		if md2.redirect != nil {
			return nil, errorf(BadResponse, nil, "the SMP at %s redirects again (to %s); a client follows one redirect only", target, redirectTarget(md2.redirect))
		}
		if err := checkRedirectSigner(md.redirect, signer2, target); err != nil {
			return nil, err
		}
		md, signer = md2, signer2
		tr.HTTPCached = tr.HTTPCached && cached2
		tr.Binding = md.binding
	}
	tr.Signer = signer
	return c.selectEndpoint(md, req, tr)
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return err
}

func redirectTarget(r *redirect) string {
	if r.href != "" {
		return r.href
	}
	return r.publisherURI
}

// redirectURL returns where a Redirect leads.
func (c *Client) redirectURL(md *metadata, req Request) (string, error) {
	r := md.redirect
	target := r.href
	if md.binding == BindingOASIS2 {
		target = r.publisherURI
		if !strings.Contains(target, "/services/") {
			target = smpURL(target, BindingOASIS2, req.Participant, &req.DocumentType)
		}
	}
	if err := CheckSMPURL(target, c.cfg.RequireHTTPS, "the SMP's Redirect"); err != nil {
		return "", err
	}
	return target, nil
}

// checkRedirectSigner checks that the redirect target is signed by the certificate the Redirect names:
// CertificateUID equal to the signer's subject (PEPPOL, OASIS 1.0), or one of the listed certificates
// (SMP 2.0).
func checkRedirectSigner(r *redirect, signer *x509.Certificate, target string) error {
	if r.href != "" {
		if r.certUID == "" {
			return errorf(BadResponse, nil, "the Redirect to %s has no CertificateUID", target)
		}
		if !sameDN(r.certUID, signer.Subject.String()) {
			return errorf(CertificateUntrusted, nil, "the SMP at %s signs with %q, but the Redirect names CertificateUID %q; do not use it",
				hostOf(target), signer.Subject.String(), r.certUID)
		}
		return nil
	}
	for _, der := range r.certs {
		if string(der) == string(signer.Raw) {
			return nil
		}
	}
	return errorf(CertificateUntrusted, nil, "the SMP at %s signs with %q, which is not a certificate the Redirect lists; do not use it",
		hostOf(target), signer.Subject.String())
}

// sameDN compares two distinguished names written as strings (RFC 4514 or Java's X500Principal form):
// the same attribute type=value pairs, in any order, types case-insensitively, values with spaces trimmed.
func sameDN(a, b string) bool {
	pa, pb := dnParts(a), dnParts(b)
	if len(pa) != len(pb) || len(pa) == 0 {
		return false
	}
	count := map[string]int{}
	for _, p := range pa {
		count[p]++
	}
	for _, p := range pb {
		if count[p] == 0 {
			return false
		}
		count[p]--
	}
	return true
}

func dnParts(s string) []string {
	var parts []string
	var cur strings.Builder
	flush := func() {
		p := strings.TrimSpace(cur.String())
		cur.Reset()
		if p == "" {
			return
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			parts = append(parts, p)
			return
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		switch k {
		case "EMAILADDRESS", "E":
			k = "1.2.840.113549.1.9.1"
		case "S", "ST":
			k = "ST"
		case "SERIALNUMBER":
			k = "2.5.4.5"
		}
		parts = append(parts, k+"="+strings.TrimSpace(v))
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				cur.WriteByte(s[i+1])
				i++
			}
		case ',', ';', '+':
			flush()
		default:
			cur.WriteByte(s[i])
		}
	}
	flush()
	return parts
}

// fetchMetadata GETs a service metadata URL and returns the verified, parsed document, after checking
// that it is about the participant and document type asked for (a Redirect is checked by its caller).
func (c *Client) fetchMetadata(ctx context.Context, u string, req Request) (*metadata, *x509.Certificate, bool, error) {
	e, cached, err := c.fetch(ctx, u)
	if err != nil {
		return nil, nil, false, err
	}
	if e.status == http.StatusNotFound {
		return nil, nil, cached, errorf(DocumentTypeNotSupported, nil, "participant %s does not support document type %s (the SMP at %s answers 404)",
			req.Participant, req.DocumentType, hostOf(u))
	}
	v, signer, err := c.verified(e, u, func(root any) (any, string) { return parseMetadata(root.(*etreeElement)) })
	if err != nil {
		return nil, nil, cached, err
	}
	md := v.(*metadata)
	if md.redirect != nil {
		return md, signer, cached, nil
	}
	if err := c.sameID(identifier.Participant, md.participant, req.Participant, u); err != nil {
		return nil, nil, cached, err
	}
	if err := c.sameID(identifier.DocumentType, md.docType, req.DocumentType, u); err != nil {
		return nil, nil, cached, err
	}
	return md, signer, cached, nil
}

// sameID checks that an identifier in a response is the one asked for (MatchIdentifier), naming the SMP.
func (c *Client) sameID(k identifier.Kind, got rawID, want identifier.ID, u string) error {
	err := MatchIdentifier(c.cfg.Policy, k, got.scheme, got.value, want)
	var e *Error
	if errors.As(err, &e) {
		e.Msg = strings.Replace(e.Msg, "the SMP answers", "the SMP at "+hostOf(u)+" answers", 1)
	}
	return err
}

// fetch GETs u through the HTTP cache. It returns an entry with status 200 or 404.
func (c *Client) fetch(ctx context.Context, u string) (*httpEntry, bool, error) {
	now := c.now()
	old := c.cache.getHTTP(u)
	if old != nil && now.Before(old.expires) {
		return old, true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HTTPTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, errorf(BadResponse, err, "cannot build a request for %q", u)
	}
	hreq.Header.Set("Accept", "application/xml, text/xml")
	if old != nil {
		if old.etag != "" {
			hreq.Header.Set("If-None-Match", old.etag)
		}
		if old.lastModified != "" {
			hreq.Header.Set("If-Modified-Since", old.lastModified)
		}
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if IsTLSUntrusted(err) {
			return nil, false, errorf(SMPTLSUntrusted, err, "the HTTPS certificate of the SMP at %s does not verify against the system roots or --tls-ca (it must come from a public web CA, not the PEPPOL SMP CA, and name the host); do not use it", hostOf(u))
		}
		return nil, false, errorf(SMPUnreachable, err, "the SMP at %s cannot be reached; retry later", hostOf(u))
	}
	defer resp.Body.Close()
	fresh, storable := freshness(resp.Header, now)
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		e := old.revalidated(now.Add(fresh))
		if storable {
			c.cache.putHTTP(u, e)
		}
		return e, true, nil
	case resp.StatusCode == http.StatusOK:
		body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
		if err != nil {
			return nil, false, errorf(SMPUnreachable, err, "reading the response of the SMP at %s failed", hostOf(u))
		}
		if int64(len(body)) > c.cfg.MaxBodyBytes {
			return nil, false, errorf(BadResponse, nil, "the response of the SMP at %s is larger than %d bytes", hostOf(u), c.cfg.MaxBodyBytes)
		}
		e := &httpEntry{status: http.StatusOK, body: body, etag: resp.Header.Get("ETag"),
			lastModified: resp.Header.Get("Last-Modified"), expires: now.Add(fresh)}
		if storable && (fresh > 0 || e.hasValidators()) {
			c.cache.putHTTP(u, e)
		} else if old != nil {
			c.cache.dropHTTP(u)
		}
		return e, false, nil
	case resp.StatusCode == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		neg := c.cfg.NegativeTTL
		if fresh > 0 && fresh < neg {
			neg = fresh
		} else if fresh == 0 && resp.Header.Get("Cache-Control") != "" {
			neg = 0
		}
		e := &httpEntry{status: http.StatusNotFound, expires: now.Add(neg)}
		if storable && neg > 0 {
			c.cache.putHTTP(u, e)
		}
		return e, false, nil
	case resp.StatusCode >= 500:
		return nil, false, errorf(SMPUnreachable, nil, "the SMP at %s fails (HTTP %d); retry later", hostOf(u), resp.StatusCode)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, false, errorf(BadResponse, nil, "the SMP answers %s with an HTTP redirect (%d to %q); SMPs redirect in XML only",
			u, resp.StatusCode, resp.Header.Get("Location"))
	}
	return nil, false, errorf(BadResponse, nil, "the SMP answers %s with HTTP %d", u, resp.StatusCode)
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Scheme + "://" + p.Host
	}
	return u
}

// verified returns the entry's verified and parsed document, verifying it on first use (and again when
// the signer's certificate is no longer valid at the current time, so that the check fails as it should).
func (c *Client) verified(e *httpEntry, u string, parse func(any) (any, string)) (any, *x509.Certificate, error) {
	now := c.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.verified != nil && !now.Before(e.signer.NotBefore) && !now.After(e.signer.NotAfter) {
		return e.verified, e.signer, nil
	}
	el, signer, err := c.cfg.Verifier.Verify(e.body)
	if err != nil {
		return nil, nil, fromVerify(err, hostOf(u))
	}
	v, msg := parse(el)
	if msg != "" {
		return nil, nil, errorf(BadResponse, nil, "the SMP at %s: %s", hostOf(u), msg)
	}
	e.verified, e.signer = v, signer
	return v, signer, nil
}
