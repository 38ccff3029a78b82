// Package console is the domain authority's web console for the SML, served on its admin listener beside the
// JSON admin API (docs/console.md): the domains with their zone serial and what each configured secondary
// answers, the SMPs with owner, addresses and participant count, participant search with the DNS names and the
// records as served, pending migrations and certificate changes, and the SMP certificates that expire soon.
// It reads through sml/admin's Local API, the same code as the JSON API; it changes nothing in the SML.
// Logins use the SML's own console users (`signpost sml user set`).
package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
)

//go:embed pages/*.html
var pageFS embed.FS

// Options configure the console.
type Options struct {
	// SML is the service (its admin.Backend).
	SML *sml.Service
	// Users and sessions (sml.ConsoleStore).
	Store sml.ConsoleStore
	// Secondaries are the configured secondaries (dns.notify, HOST:PORT), asked for each zone's SOA serial.
	Secondaries []string
	// Idle is how long a session lives without a request; default 30 minutes.
	Idle    time.Duration
	Limiter *ratelimit.Limiter
	// ClientAddr is the rate limit's key of a request; default its peer's address.
	ClientAddr func(*http.Request) string
	Log        *slog.Logger
	Now        func() time.Time
}

// SessionCookie is the name of the SML console's session cookie.
const SessionCookie = "signpost_sml_session"

const product = "Signpost SML"

// Console is the handler.
type Console struct {
	o     Options
	api   admin.Local
	pages *console.Pages
	auth  *console.Auth
	mux   *http.ServeMux
}

// New builds the console.
func New(o Options) (*Console, error) {
	if o.SML == nil || o.Store == nil {
		return nil, errors.New("sml console: SML and Store are required")
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Minute
	}
	if o.Limiter == nil {
		o.Limiter = ratelimit.New(ratelimit.Config{})
	}
	if o.ClientAddr == nil {
		o.ClientAddr = func(r *http.Request) string {
			h, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return h
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sub, _ := fs.Sub(pageFS, "pages") // a constant, embedded directory
	pages, err := console.NewPages(sub, nil, o.Log)
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, api: admin.Local{B: o.SML}, pages: pages, mux: http.NewServeMux()}
	c.auth = &console.Auth{
		Sessions: &console.Sessions{Store: o.Store, Cookie: SessionCookie, Idle: o.Idle, Now: o.Now},
		Pages:    pages, Product: product, Limiter: o.Limiter, ClientAddr: o.ClientAddr, Log: o.Log,
		Check: c.checkPassword,
	}
	m := c.mux
	req := c.require
	c.auth.Mount(m)
	m.Handle("GET /{$}", req(c.domains))
	m.Handle("GET /smps", req(c.smps))
	m.Handle("GET /participants", req(c.participants))
	m.Handle("GET /changes", req(c.changes))
	m.Handle("GET /expiring", req(c.expiring))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, http.StatusNotFound, "message", console.Session{}, "Not found", "", "There is no page at "+r.URL.Path+".")
	})
	return c, nil
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Handler returns the console wrapped in internal/console.Protect.
func (c *Console) Handler() http.Handler { return console.Protect(c) }

func (c *Console) checkPassword(ctx context.Context, user, password string) (admin, ok bool, err error) {
	u, found, err := c.o.Store.ConsoleUser(ctx, user)
	if err != nil {
		return false, false, err
	}
	hash := console.DummyHash
	if found {
		hash = u.Password
	}
	ok = console.VerifyPassword(password, hash) && found
	return ok, ok, nil
}

// require wraps a page: a session whose user still exists.
func (c *Console) require(h func(http.ResponseWriter, *http.Request, console.Session)) http.Handler {
	return c.auth.Require(func(w http.ResponseWriter, r *http.Request, s console.Session) {
		if _, ok, err := c.o.Store.ConsoleUser(r.Context(), s.User); err != nil || !ok {
			_ = c.auth.Sessions.End(w, r)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r, s)
	})
}

var nav = []console.Link{{Href: "/", Label: "Domains"}, {Href: "/smps", Label: "SMPs"},
	{Href: "/participants", Label: "Participants"}, {Href: "/changes", Label: "Migrations and changes"},
	{Href: "/expiring", Label: "Expiring certificates"}}

func (c *Console) render(w http.ResponseWriter, code int, page string, s console.Session, title, active string, data any) {
	pg := console.Page{Product: product, Title: title, User: s.User, Admin: false, Active: active, Data: data}
	if s.User != "" {
		pg.Nav = nav
	}
	c.pages.Render(w, code, page, pg)
}

// fail shows the error of the admin API's use case with its status; an internal error is logged, not detailed.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s console.Session, err error) {
	code, text := http.StatusInternalServerError, "The SML failed (logged). Try again later."
	var e *sml.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case sml.KindNotFound:
			code, text = http.StatusNotFound, e.Error()
		case sml.KindBadRequest:
			code, text = http.StatusBadRequest, e.Error()
		}
	}
	if code == http.StatusInternalServerError {
		c.o.Log.Error("sml console", "path", r.URL.Path, "user", s.User, "err", err)
	}
	c.render(w, code, "message", s, http.StatusText(code), "", text)
}

// Secondary is what one configured secondary answers for a zone.
type Secondary struct {
	Addr   string
	Serial uint32
	Behind int64 // the primary's serial minus the secondary's (serial arithmetic, RFC 1982)
	Err    string
}

type domainRow struct {
	admin.ZoneStatus
	Secondaries []Secondary
}

type domainsPage struct {
	Zones        []domainRow
	SMPs         int
	Participants int64
}

func (c *Console) domains(w http.ResponseWriter, r *http.Request, s console.Session) {
	st, err := c.api.Status(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := domainsPage{SMPs: st.SMPs, Participants: st.Participants}
	for _, z := range st.Zones {
		d.Zones = append(d.Zones, domainRow{ZoneStatus: z, Secondaries: c.askSecondaries(r.Context(), z.Zone, z.Serial)})
	}
	c.render(w, http.StatusOK, "domains", s, "Domains", "/", d)
}

// askSecondaries asks every configured secondary for the zone's SOA, at once, 2 seconds at most.
func (c *Console) askSecondaries(ctx context.Context, zone string, serial uint32) []Secondary {
	out := make([]Secondary, len(c.o.Secondaries))
	var wg sync.WaitGroup
	for i, addr := range c.o.Secondaries {
		wg.Go(func() {
			out[i] = Secondary{Addr: addr}
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
			cl := &dns.Client{Timeout: 2 * time.Second}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			in, _, err := cl.ExchangeContext(ctx, m, addr)
			if err != nil {
				out[i].Err = err.Error()
				return
			}
			for _, rr := range in.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					out[i].Serial = soa.Serial
					out[i].Behind = int64(int32(serial - soa.Serial))
					return
				}
			}
			out[i].Err = "no SOA in the answer (" + dns.RcodeToString[in.Rcode] + "): the secondary does not serve the zone"
		})
	}
	wg.Wait()
	return out
}

func (c *Console) smps(w http.ResponseWriter, r *http.Request, s console.Session) {
	l, err := c.api.SMPs(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	if q != "" {
		l = slices.DeleteFunc(l, func(x admin.SMP) bool {
			return !strings.Contains(strings.ToLower(x.ID+" "+x.Owner+" "+x.LogicalAddress), q)
		})
	}
	c.render(w, http.StatusOK, "smps", s, "SMPs", "/smps", struct {
		Query string
		SMPs  []admin.SMP
	}{q, l})
}

type participantRow struct {
	admin.ParticipantRecords
	Names []string // the computed DNS owner names of the records
}

func (c *Console) participants(w http.ResponseWriter, r *http.Request, s console.Session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := struct {
		Query, Error string
		Found        []participantRow
	}{Query: q}
	code := http.StatusOK
	if q != "" {
		if !strings.Contains(q, "::") {
			q = identifier.SchemeISO6523 + "::" + q
		}
		recs, err := c.api.Participant(r.Context(), q)
		var e *sml.Error
		switch {
		case errors.As(err, &e) && (e.Kind == sml.KindNotFound || e.Kind == sml.KindBadRequest):
			code, d.Error = http.StatusNotFound, e.Error()
		case err != nil:
			c.fail(w, r, s, err)
			return
		}
		for _, p := range recs {
			row := participantRow{ParticipantRecords: p}
			for _, rec := range p.Records {
				if name, _, ok := strings.Cut(rec, " "); ok && !slices.Contains(row.Names, name) {
					row.Names = append(row.Names, name)
				}
			}
			d.Found = append(d.Found, row)
		}
	}
	c.render(w, code, "participants", s, "Participants", "/participants", d)
}

func (c *Console) changes(w http.ResponseWriter, r *http.Request, s console.Session) {
	ms, err := c.api.Migrations(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	cs, err := c.api.CertificateChanges(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "changes", s, "Migrations and certificate changes", "/changes", struct {
		Migrations []admin.Migration
		Changes    []admin.CertificateChange
	}{ms, cs})
}

func (c *Console) expiring(w http.ResponseWriter, r *http.Request, s console.Session) {
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			c.render(w, http.StatusBadRequest, "message", s, "Bad request", "", "days: "+strconv.Quote(v)+" is not a number of days from 1 to 3650.")
			return
		}
		days = n
	}
	l, err := c.api.ExpiringCertificates(r.Context(), time.Duration(days)*24*time.Hour)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "expiring", s, "SMP certificates expiring within "+strconv.Itoa(days)+" days", "/expiring", struct {
		Days int
		SMPs []admin.ExpiringCertificate
	}{days, l})
}
