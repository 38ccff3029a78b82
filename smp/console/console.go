// Package console is the SMP operator's web console, served on the admin listener beside the JSON admin API
// (docs/console.md): a dashboard, the service groups with paging and search, a group's page with its document
// types, endpoints and SML registration, forms to create, change and delete groups, document types and
// endpoints, bulk import, users and tokens, and the signing key. Pages are rendered on the server with
// html/template (internal/console's layout); every flow is a plain form.
//
// Every change goes through the same use cases as the API (smp.Service, auth.Service) with the signed-in user
// as principal, so the API's validation and owner rules apply: an owner sees and changes only its own groups, an
// administrator all.
package console

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
)

//go:embed pages/*.html
var pageFS embed.FS

// Options configure the console.
type Options struct {
	SMP   *smp.Service
	Creds *auth.Service
	// Sessions keeps the sessions (smp/boltrepo.Sessions, smp/pgrepo.Sessions): shared by every node on the store.
	Sessions console.Store
	// Idle is how long a session lives without a request; default 30 minutes.
	Idle time.Duration
	// Limiter limits failed logins per client address (the admin API's limiter may be shared); nil: 10 a minute.
	Limiter    *ratelimit.Limiter
	ClientAddr func(*http.Request) string
	// ExpiredCertificates is the API's rule for an expired endpoint certificate.
	ExpiredCertificates smp.ExpiredCertificates
	// MaxBodyBytes bounds a form or an upload (the API's write.max_body_bytes); default 4 MiB. An import file
	// may be larger: ImportMaxBytes.
	MaxBodyBytes int64
	// ImportMaxBytes bounds an import file uploaded through the console; default MaxBodyBytes (the API's limit).
	ImportMaxBytes int64
	Log            *slog.Logger
	// Now is the clock; default the service's.
	Now func() time.Time
}

// Console is the handler.
type Console struct {
	o     Options
	pages *console.Pages
	auth  *console.Auth
	mux   *http.ServeMux

	expMu   sync.Mutex
	expAt   time.Time
	expList []smp.ExpiringCertificate
}

// SessionCookie is the name of the SMP console's session cookie.
const SessionCookie = "signpost_smp_session"

// New builds the console.
func New(o Options) (*Console, error) {
	if o.SMP == nil || o.Creds == nil || o.Sessions == nil {
		return nil, errors.New("smp console: SMP, Creds and Sessions are required")
	}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Minute
	}
	if o.Limiter == nil {
		o.Limiter = ratelimit.New(ratelimit.Config{})
	}
	if o.ClientAddr == nil {
		o.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.ImportMaxBytes <= 0 {
		o.ImportMaxBytes = o.MaxBodyBytes
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = o.SMP.Now
	}
	sub, _ := fs.Sub(pageFS, "pages") // a constant, embedded directory
	pages, err := console.NewPages(sub, funcs, o.Log)
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, pages: pages, mux: http.NewServeMux()}
	c.auth = &console.Auth{
		Sessions: &console.Sessions{Store: o.Sessions, Cookie: SessionCookie, Idle: o.Idle, Now: o.Now},
		Pages:    pages, Product: product, Limiter: o.Limiter, ClientAddr: o.ClientAddr, Log: o.Log,
		Check: c.checkPassword,
	}
	c.routes()
	return c, nil
}

const product = "Signpost SMP"

// ServeHTTP serves the console, with its security headers and cross-origin protection.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Handler returns the console wrapped in internal/console.Protect.
func (c *Console) Handler() http.Handler { return console.Protect(c) }

func (c *Console) checkPassword(ctx context.Context, user, password string) (admin, ok bool, err error) {
	if user == "" || password == "" {
		return false, false, nil
	}
	p, err := c.o.Creds.Authenticate(ctx, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	if err != nil {
		var e *smp.Error
		if errors.As(err, &e) && e.Kind == smp.KindUnauthorized {
			return false, false, nil
		}
		return false, false, err
	}
	return p.Admin, true, nil
}

func (c *Console) routes() {
	m := c.mux
	req := c.require
	c.auth.Mount(m)
	m.Handle("GET /{$}", req(c.dashboard))
	m.Handle("GET /groups", req(c.groups))
	m.Handle("GET /groups/new", req(c.newGroupForm))
	m.Handle("POST /groups/new", req(c.newGroup))
	m.Handle("GET /group", req(c.group))
	m.Handle("POST /group/delete", req(c.deleteGroup))
	m.Handle("POST /group/edit", req(c.editGroup))
	m.Handle("POST /group/retry", req(c.retry))
	m.Handle("GET /group/service", req(c.serviceForm))
	m.Handle("POST /group/service", req(c.saveService))
	m.Handle("POST /group/service/delete", req(c.deleteService))
	m.Handle("GET /import", req(c.importForm))
	m.Handle("POST /import", req(c.importFile))
	m.Handle("GET /users", req(c.users))
	m.Handle("POST /users", req(c.setUser))
	m.Handle("POST /tokens", req(c.createToken))
	m.Handle("POST /tokens/revoke", req(c.revokeToken))
	m.Handle("GET /key", req(c.key))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "message", console.Session{}, "Not found", "", msg{Text: "There is no page at " + r.URL.Path + "."})
	})
}

type msg struct{ Text string }

// require wraps a page: a session whose user still exists, with the user's admin flag as it is now (a deleted
// user's session ends; a changed flag applies at the next request).
func (c *Console) require(h func(http.ResponseWriter, *http.Request, console.Session)) http.Handler {
	return c.auth.Require(func(w http.ResponseWriter, r *http.Request, s console.Session) {
		us, err := c.o.Creds.Users(r.Context())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for _, u := range us {
			if u.Name == s.User {
				s.Admin = u.Admin
				h(w, r, s)
				return
			}
		}
		_ = c.auth.Sessions.End(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

func (c *Console) nav(s console.Session) []console.Link {
	l := []console.Link{{Href: "/", Label: "Dashboard"}, {Href: "/groups", Label: "Service groups"},
		{Href: "/groups/new", Label: "New group"}}
	if s.Admin {
		l = append(l, console.Link{Href: "/import", Label: "Import"}, console.Link{Href: "/users", Label: "Users and tokens"},
			console.Link{Href: "/key", Label: "Signing key"})
	}
	return l
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, page string, s console.Session, title, active string, data any) {
	c.renderPage(w, code, page, console.Page{Product: product, Title: title, User: s.User, Admin: s.Admin,
		Nav: c.nav(s), Active: active, Flash: c.flash(r), Data: data})
}

func (c *Console) renderPage(w http.ResponseWriter, code int, page string, pg console.Page) {
	c.pages.Render(w, code, page, pg)
}

// fail shows an error page for err: its status from the error's kind, the message for the user; an internal
// error is logged and not detailed.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s console.Session, err error) {
	code, text := http.StatusInternalServerError, "The SMP failed (logged). Try again later."
	var e *smp.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case smp.KindNotFound:
			code, text = http.StatusNotFound, e.Msg
		case smp.KindForbidden:
			code, text = http.StatusForbidden, e.Msg
		case smp.KindInvalid:
			code, text = http.StatusBadRequest, fieldMsg(e)
		case smp.KindUnavailable:
			code, text = http.StatusServiceUnavailable, e.Msg
			w.Header().Set("Retry-After", strconv.Itoa(int(smp.RetryUnavailable/time.Second)))
			c.o.Log.Warn("smp console: the store is unavailable", "path", r.URL.Path, "err", e.Err)
		}
	}
	if code == http.StatusInternalServerError {
		c.o.Log.Error("smp console", "path", r.URL.Path, "user", s.User, "err", err)
	}
	c.render(w, r, code, "message", s, http.StatusText(code), "", msg{Text: text})
}

func fieldMsg(e *smp.Error) string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

func principal(s console.Session) smp.Principal { return smp.Principal{User: s.User, Admin: s.Admin} }

// sees reports whether the session may see (and change) a group owned by owner: its owner or an administrator.
func sees(s console.Session, owner string) bool { return s.Admin || owner == s.User }

func (c *Console) adminOnly(w http.ResponseWriter, r *http.Request, s console.Session) bool {
	if !s.Admin {
		c.render(w, r, http.StatusForbidden, "message", s, "Forbidden", "", msg{Text: "This page is for administrators."})
		return false
	}
	return true
}

// redirect answers a successful form with 303 to target, carrying a message for the next page.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}
