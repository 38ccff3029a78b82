// Package doctor checks an SMP's setup the way the PEPPOL network sees it, for its operator and for the domain
// authority: the participant's NAPTR record in the SML zone, the SMP's HTTPS certificate, a reverse proxy's handling
// of the hard path encodings, the signatures, every document type of a service group, and (sampled through the
// SMP's admin API) whether the SML agrees with the SMP about who serves its participants. Each check gives one
// [Result] with a fix to make; [Run] runs them all. docs/doctor.md describes them; `signpost doctor` prints them.
//
// The checks are independent: the content checks (path encoding, signature, document types) fetch from the SMP
// without verifying its HTTPS certificate, which is the tls check's job, so that an expired certificate is reported
// once, as a tls failure, and not again by every check that follows.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/xmldsig"
)

// The IDs of the checks, in the order Run reports them.
const (
	CheckNAPTR         = "naptr"          // the participant's NAPTR record exists, is well formed and uses Meta:SMP
	CheckNAPTRTarget   = "naptr-target"   // the NAPTR points to this SMP
	CheckHTTPS         = "https"          // the SMP URL is https (on port 443 under the PEPPOL networks)
	CheckTLS           = "tls"            // the SMP's certificate chains to the roots, names the host, is not close to expiry
	CheckPathEncoding  = "path-encoding"  // %3A%3A, %23, %2F, + and an upper-case participant reach the SMP unchanged
	CheckSignature     = "signature"      // every document's signature verifies, the signing certificate is not close to expiry
	CheckDocumentTypes = "document-types" // every document type of the service group answers
	CheckSMLAgrees     = "sml-agrees"     // for sampled participants, DNS points to this SMP
)

// CheckIDs lists every check ID in report order.
func CheckIDs() []string {
	return []string{CheckNAPTR, CheckNAPTRTarget, CheckHTTPS, CheckTLS, CheckPathEncoding, CheckSignature, CheckDocumentTypes, CheckSMLAgrees}
}

// Status is the outcome of one check.
type Status string

// The statuses. A skipped check is one that does not apply (a tls check of a plain-http SMP) or lacks its input
// (no participant); only Fail makes a report fail.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's outcome.
type Result struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Fix says what to change; set for a failure (and for a skip that more input would run).
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Participant string `json:"participant,omitempty"`
	// SMPURL is the SMP checked: Config.SMPURL, or the NAPTR record's when that was not given.
	SMPURL string `json:"smpUrl,omitempty"`
	// NAPTRURL is what the participant's NAPTR record gives ("" when it gives nothing).
	NAPTRURL string   `json:"naptrUrl,omitempty"`
	Checks   []Result `json:"checks"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return len(r.Failed()) == 0 }

// Failed returns the IDs of the failed checks, in report order.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.ID)
		}
	}
	return out
}

// Check returns the result of the check id (zero when it did not run).
func (r *Report) Check(id string) Result {
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	return Result{}
}

// Groups lists an SMP's service groups a page at a time (smp/admin.API has it: the admin listener's client, or
// the store of a stopped server).
type Groups interface {
	Groups(ctx context.Context, after string, limit int) ([]smp.GroupSummary, string, error)
}

// DefaultMinValidity is how long a certificate must still be valid for the checks to pass.
const DefaultMinValidity = 30 * 24 * time.Hour

// Config says what to check.
type Config struct {
	// Participant is the participant whose NAPTR record and service group are checked. Zero: the first service
	// group Admin lists, or (without Admin) only the checks that need no participant run.
	Participant identifier.ID
	// SMPURL is this SMP's base URL as the SML should have it (sml.logical_address, by default public_url). Empty:
	// the URL the participant's NAPTR record gives is checked, and naptr-target is skipped.
	SMPURL string
	// Zone is the SML zone (required); HashMode how a participant becomes a DNS name (default scheme-label).
	Zone     string
	HashMode identifier.HashMode
	// Servers are the name servers, HOST:PORT (default: those of /etc/resolv.conf).
	Servers []string
	// PEPPOL is set for the PEPPOL networks: the SMP URL must be https on port 443.
	PEPPOL bool
	// AllowHTTP accepts a plain-http SMP URL (the https check passes with a note).
	AllowHTTP bool
	// TLSRoots verifies the SMP's HTTPS certificate (nil: the system roots).
	TLSRoots *x509.CertPool
	// Trust holds the trust anchors of the SMP's signing certificate (required).
	Trust *x509.CertPool
	// Policy parses the identifiers (zero value: PEPPOL).
	Policy identifier.Policy
	// MinValidity is how long the TLS and signing certificates must still be valid (default 30 days).
	MinValidity time.Duration
	// Admin lists the SMP's service groups; Sample > 0 checks that many of them (sml-agrees).
	Admin  Groups
	Sample int
	// Timeout bounds each DNS and HTTP exchange (default 10 s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ErrConfig marks an error of Run about its Config (or about the participant the SMP should have given it).
var ErrConfig = errors.New("doctor")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

func (c *Config) defaults() error {
	if strings.Trim(c.Zone, ".") == "" {
		return configErrorf("the SML zone is required")
	}
	if c.Trust == nil {
		return configErrorf("the trust anchors of the SMP's signing certificate are required")
	}
	if c.HashMode == "" {
		c.HashMode = identifier.SchemeLabel
	}
	if c.MinValidity <= 0 {
		c.MinValidity = DefaultMinValidity
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sample > 0 && c.Admin == nil {
		return configErrorf("sampling participants needs the SMP's admin API")
	}
	if c.SMPURL != "" {
		u, err := url.Parse(c.SMPURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return configErrorf("the SMP URL %q is not an absolute http(s) URL", c.SMPURL)
		}
		c.SMPURL = strings.TrimRight(c.SMPURL, "/")
	}
	return nil
}

// run is the state of one Run.
type run struct {
	cfg            Config
	rep            *Report
	lc             *lookup.Client
	http           *http.Client
	docs           []identifier.ID // the service group's document types
	fetched        []fetched       // each document type's answer, fully encoded, in docs order
	encodingFailed map[int]bool    // documents whose failure the path-encoding check reports
	group          error           // why the service group could not be read
}

// Run runs every check and returns the report. Its error is for a Config that cannot run (and a cancelled ctx);
// every problem of the SMP is a failed check in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	lc, err := lookup.New(lookup.Config{Zone: cfg.Zone, HashMode: cfg.HashMode, Servers: cfg.Servers, Policy: cfg.Policy,
		Verifier: &xmldsig.Verifier{Roots: cfg.Trust}, DNSTimeout: min(cfg.Timeout, lookup.DefaultDNSTimeout), CacheEntries: -1, Now: cfg.Now})
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	r := &run{cfg: cfg, rep: &Report{}, lc: lc, encodingFailed: map[int]bool{}}
	r.http = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy: nil,
			// The content checks do not verify the HTTPS certificate: the tls check does, and reports it once.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 4,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer r.http.CloseIdleConnections()
	if cfg.Participant.IsZero() && cfg.Admin != nil {
		p, err := pickParticipant(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r.cfg.Participant = p
	}
	if !r.cfg.Participant.IsZero() {
		r.rep.Participant = r.cfg.Participant.String()
	}

	r.add(r.checkNAPTR(ctx))
	r.add(r.checkNAPTRTarget())
	r.rep.SMPURL = r.cfg.SMPURL
	if r.rep.SMPURL == "" {
		r.rep.SMPURL = r.rep.NAPTRURL
	}
	r.add(r.checkHTTPS())
	r.add(r.checkTLS(ctx))
	r.loadGroup(ctx)
	r.add(r.checkPathEncoding(ctx))
	r.add(r.checkSignature(ctx))
	r.add(r.checkDocumentTypes(ctx))
	r.add(r.checkSMLAgrees(ctx))
	if err := ctx.Err(); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

// pickParticipant returns the first service group (in the admin API's order) that has a document type, or the
// first of all when none has one among the first pages.
func pickParticipant(ctx context.Context, cfg Config) (identifier.ID, error) {
	first, found, after := "", "", ""
	for range 20 {
		gs, next, err := cfg.Admin.Groups(ctx, after, 100)
		if err != nil {
			return identifier.ID{}, fmt.Errorf("doctor: listing the SMP's service groups to pick a participant: %w", err)
		}
		for _, g := range gs {
			if first == "" {
				first = g.Participant
			}
			if g.ServiceMetadata > 0 {
				found = g.Participant
				break
			}
		}
		if found != "" || next == "" || len(gs) == 0 {
			break
		}
		after = next
	}
	if found == "" {
		found = first
	}
	if found == "" {
		return identifier.ID{}, configErrorf("the SMP has no service group; name a participant to check")
	}
	p, err := cfg.Policy.Parse(identifier.Participant, found)
	if err != nil {
		return identifier.ID{}, configErrorf("the SMP's service group %q: %v", found, err)
	}
	return p, nil
}

func (r *run) add(res Result) { r.rep.Checks = append(r.rep.Checks, res) }

func pass(id, format string, args ...any) Result {
	return Result{ID: id, Status: Pass, Message: fmt.Sprintf(format, args...)}
}

func fail(id, fix, format string, args ...any) Result {
	return Result{ID: id, Status: Fail, Message: fmt.Sprintf(format, args...), Fix: fix}
}

func skip(id, fix, format string, args ...any) Result {
	return Result{ID: id, Status: Skip, Message: fmt.Sprintf(format, args...), Fix: fix}
}

const needParticipant = "name a participant (the argument), or give --config with the SMP's admin listener to pick one"

// sameBase compares two SMP base URLs: scheme and host case-insensitively, a default port left out or not,
// the path without trailing slashes.
func sameBase(a, b string) bool {
	pa, err1 := url.Parse(a)
	pb, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	norm := func(u *url.URL) string {
		s := strings.ToLower(u.Scheme)
		host, port := strings.ToLower(u.Hostname()), u.Port()
		if (s == "https" && port == "443") || (s == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			host += ":" + port
		}
		return s + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
	}
	return norm(pa) == norm(pb)
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
