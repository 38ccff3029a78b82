// Package console holds what the SMP's and the SML's web consoles share: the page layout and style sheet
// (embedded), server-side sessions behind an HttpOnly, SameSite=Strict cookie, the security headers (a
// Content-Security-Policy that allows no inline script), cross-origin request protection
// (net/http's CrossOriginProtection) and the login rate limit (internal/ratelimit).
//
// The consoles themselves (smp/console, sml/console) render their pages with html/template into the layout
// defined here and keep their sessions in their own repository through the Store interface, so that several
// nodes behind a load balancer share them.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"
)

//go:embed assets
var assets embed.FS

// Assets is a handler for the embedded static files (style sheet), to mount at /static/.
func Assets() http.Handler {
	sub, _ := fs.Sub(assets, "assets") // a constant, existing directory: cannot fail
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

// Session is one signed-in user. It is stored server-side under the SHA-256 of the cookie's value.
type Session struct {
	User  string    `json:"user"`
	Admin bool      `json:"admin"`
	Since time.Time `json:"since"`
	// Seen is the time of the last request, for the idle expiry.
	Seen time.Time `json:"seen"`
}

// MarshalSession encodes a session for a repository.
func MarshalSession(s Session) ([]byte, error) { return json.Marshal(s) }

// UnmarshalSession decodes what MarshalSession wrote.
func UnmarshalSession(b []byte) (Session, error) {
	var s Session
	err := json.Unmarshal(b, &s)
	return s, err
}

// Store keeps the sessions. Keys are the hex SHA-256 of the cookie value: the store never holds a usable
// cookie.
type Store interface {
	PutSession(ctx context.Context, key string, s Session) error
	// GetSession returns ok false for an unknown key.
	GetSession(ctx context.Context, key string) (s Session, ok bool, err error)
	DeleteSession(ctx context.Context, key string) error
	// DeleteSessionsSeenBefore deletes every session whose last request (Seen) is before t; it returns how many.
	DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error)
}

// Sessions issues and checks session cookies.
type Sessions struct {
	Store Store
	// Cookie is the cookie's name.
	Cookie string
	// Idle is how long a session lives without a request.
	Idle time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// seenEvery is how stale a session's Seen may get before a request writes it again: one store write a minute
// per active user instead of one per page.
const seenEvery = time.Minute

func (m *Sessions) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func key(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// Start creates a session for user and sets its cookie. It first deletes the sessions idle longer than Idle
// that nobody presented again (a session is otherwise deleted only at logout or when its cookie comes back
// too late), so the store holds no more than the sessions of the last Idle.
func (m *Sessions) Start(w http.ResponseWriter, r *http.Request, user string, admin bool) error {
	if _, err := m.Store.DeleteSessionsSeenBefore(r.Context(), m.now().Add(-m.Idle)); err != nil {
		return err
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	now := m.now()
	if err := m.Store.PutSession(r.Context(), key(v), Session{User: user, Admin: admin, Since: now, Seen: now}); err != nil {
		return err
	}
	http.SetCookie(w, m.cookie(r, v, 0))
	return nil
}

func (m *Sessions) cookie(r *http.Request, v string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: m.Cookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: maxAge}
}

// Load returns the request's session; ok is false without a cookie, for an unknown session and for one idle
// longer than Idle (which it deletes).
func (m *Sessions) Load(r *http.Request) (s Session, ok bool, err error) {
	c, err := r.Cookie(m.Cookie)
	if err != nil || c.Value == "" {
		return Session{}, false, nil
	}
	k := key(c.Value)
	s, ok, err = m.Store.GetSession(r.Context(), k)
	if err != nil || !ok {
		return Session{}, false, err
	}
	now := m.now()
	if now.Sub(s.Seen) > m.Idle {
		return Session{}, false, m.Store.DeleteSession(r.Context(), k)
	}
	if now.Sub(s.Seen) > seenEvery {
		s.Seen = now
		if err := m.Store.PutSession(r.Context(), k, s); err != nil {
			return Session{}, false, err
		}
	}
	return s, true, nil
}

// End deletes the request's session and clears its cookie.
func (m *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, m.cookie(r, "", -1))
	c, err := r.Cookie(m.Cookie)
	if err != nil || c.Value == "" {
		return nil
	}
	return m.Store.DeleteSession(r.Context(), key(c.Value))
}

// CSP is the Content-Security-Policy of every console page: its own style sheet and images, no script but its
// own files, no frames, forms posting only to itself.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Protect wraps a console: the security headers on every answer, and net/http's cross-origin protection, which
// refuses (403) a state-changing request that a browser marks as cross-site (Sec-Fetch-Site) or that names
// another Origin than the request's host.
func Protect(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		http.Error(w, "cross-origin request refused: submit the form from the console's own pages", http.StatusForbidden)
	}))
	inner := cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		inner.ServeHTTP(w, r)
	})
}

func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}
