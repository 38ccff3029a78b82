package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/internal/ratelimit"
)

// Auth is a console's login, logout and session check.
type Auth struct {
	Sessions *Sessions
	Pages    *Pages
	Product  string
	// Limiter counts failed logins per client address (ClientAddr); past its limit a login is refused with 429
	// whatever the credentials.
	Limiter    *ratelimit.Limiter
	ClientAddr func(*http.Request) string
	// Check verifies a user name and password: ok false for wrong credentials, err for a failure of the server.
	Check func(ctx context.Context, user, password string) (admin, ok bool, err error)
	Log   *slog.Logger
}

type loginData struct{ User, Next string }

// safeNext keeps a redirect target on this console: a local absolute path, never another host.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.HasPrefix(s, "/login") {
		return "/"
	}
	return s
}

// Mount serves on m what every console has before its own pages: the embedded assets under /static/, the login
// form and its POST, and the logout POST.
func (a *Auth) Mount(m *http.ServeMux) {
	m.Handle("GET /static/", Assets())
	m.HandleFunc("GET /login", a.Login)
	m.HandleFunc("POST /login", a.Login)
	m.HandleFunc("POST /logout", a.Logout)
}

// Login serves GET and POST /login.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request) {
	pg := Page{Product: a.Product, Title: "Log in"}
	if r.Method != http.MethodPost {
		pg.Data = loginData{Next: safeNext(r.URL.Query().Get("next"))}
		a.Pages.Render(w, http.StatusOK, "login", pg)
		return
	}
	user, password := r.PostFormValue("user"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	pg.Data = loginData{User: user, Next: next}
	addr := a.ClientAddr(r)
	if wait, blocked := a.Limiter.Blocked(addr); blocked {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		pg.Error = "Too many failed logins from your address: wait " + ratelimit.RetryAfter(wait) + " seconds and try again."
		a.Pages.Render(w, http.StatusTooManyRequests, "login", pg)
		return
	}
	admin, ok, err := a.Check(r.Context(), user, password)
	if down(w, err) {
		pg.Error = "The database is unavailable. Try again in a few seconds."
		a.Pages.Render(w, http.StatusServiceUnavailable, "login", pg)
		return
	}
	if err != nil {
		a.Log.Error("console login failed", "err", err)
		pg.Error = "The server could not check the login (logged). Try again later."
		a.Pages.Render(w, http.StatusInternalServerError, "login", pg)
		return
	}
	if !ok {
		a.Limiter.Attempt(addr)
		a.Log.Info("console login refused", "user", user, "addr", addr)
		pg.Error = "Wrong user name or password."
		a.Pages.Render(w, http.StatusUnauthorized, "login", pg)
		return
	}
	if err := a.Sessions.Start(w, r, user, admin); down(w, err) {
		pg.Error = "The database is unavailable. Try again in a few seconds."
		a.Pages.Render(w, http.StatusServiceUnavailable, "login", pg)
		return
	} else if err != nil {
		a.Log.Error("console session not stored", "err", err)
		pg.Error = "The server could not start the session (logged). Try again later."
		a.Pages.Render(w, http.StatusInternalServerError, "login", pg)
		return
	}
	a.Log.Info("console login", "user", user, "addr", addr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// Logout serves POST /logout: the session is deleted in the store, so its cookie is worthless on every node.
func (a *Auth) Logout(w http.ResponseWriter, r *http.Request) {
	if err := a.Sessions.End(w, r); err != nil {
		a.Log.Error("console logout: session not deleted", "err", err)
		http.Error(w, "the session could not be ended (logged); try again", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// Require wraps a page that needs a session: without one (none, unknown, idle too long or logged out) the
// browser is sent to the login page, which brings it back afterwards.
func (a *Auth) Require(h func(http.ResponseWriter, *http.Request, Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := a.Sessions.Load(r)
		if down(w, err) {
			// The PostgreSQL store is down: nothing is wrong with the session, try again later.
			a.Log.Warn("console session not read: the database is unavailable", "err", err)
			http.Error(w, "the database is unavailable; try again later", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			a.Log.Error("console session not read", "err", err)
			http.Error(w, "the session could not be read (logged); try again", http.StatusInternalServerError)
			return
		}
		if !ok {
			next := "/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		h(w, r, s)
	})
}

// down reports whether err says the PostgreSQL store could not be reached; it then sets Retry-After on w, for the
// 503 the caller answers.
func down(w http.ResponseWriter, err error) bool {
	if err == nil || !errors.Is(err, pgstore.ErrUnavailable) {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(pgstore.Retry/time.Second)))
	return true
}
