package console

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type memStore struct {
	mu sync.Mutex
	m  map[string]Session
}

func (s *memStore) PutSession(_ context.Context, k string, v Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func (s *memStore) GetSession(_ context.Context, k string) (Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *memStore) DeleteSessionsSeenBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.m {
		if v.Seen.Before(t) {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

func (s *memStore) DeleteSession(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// TestSessionsIdleExpiry: a session lives while requests come within Idle of each other, and ends (deleted from
// the store) after Idle without one. The store holds the cookie's hash, never the cookie.
func TestSessionsIdleExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &memStore{m: map[string]Session{}}
	m := &Sessions{Store: st, Cookie: "c", Idle: 10 * time.Minute, Now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	if err := m.Start(rec, httptest.NewRequest("POST", "/login", nil), "alice", false); err != nil {
		t.Fatal(err)
	}
	cookie := rec.Result().Cookies()[0]
	if _, stored := st.m[cookie.Value]; stored || len(st.m) != 1 {
		t.Fatal("the store holds the cookie value itself")
	}
	req := func() (Session, bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookie)
		s, ok, err := m.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		return s, ok
	}
	for range 5 { // 45 minutes of activity, a request every 9 minutes
		now = now.Add(9 * time.Minute)
		if s, ok := req(); !ok || s.User != "alice" {
			t.Fatalf("active session lost at %v", now)
		}
	}
	now = now.Add(11 * time.Minute)
	if _, ok := req(); ok {
		t.Fatal("idle session still valid")
	}
	if len(st.m) != 0 {
		t.Fatal("the idle session was not deleted")
	}
}

// TestCookieSecureOverTLS: the cookie is Secure when the request came over TLS, HttpOnly and SameSite=Strict always.
func TestCookieSecureOverTLS(t *testing.T) {
	m := &Sessions{Store: &memStore{m: map[string]Session{}}, Cookie: "c", Idle: time.Minute}
	for _, tlsOn := range []bool{false, true} {
		r := httptest.NewRequest("POST", "/login", nil)
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		if err := m.Start(rec, r, "u", false); err != nil {
			t.Fatal(err)
		}
		c := rec.Result().Cookies()[0]
		if c.Secure != tlsOn || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("TLS %v: %+v", tlsOn, c)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/groups?q=1": "/groups?q=1", "": "/", "//evil.example/": "/", "/\\evil.example": "/",
		"https://evil.example/": "/", "/login?next=/x": "/", "groups": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a short password was accepted")
	}
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$600000$") || !VerifyPassword("a long enough password", h) ||
		VerifyPassword("a long enough passworD", h) || VerifyPassword("a long enough password", DummyHash) ||
		VerifyPassword("x", "garbage") {
		t.Fatal("hash or verify wrong")
	}
}

// TestProtect: the security headers on every answer; a cross-origin POST refused with 403 before the handler
// runs; a same-origin POST and a GET pass.
func TestProtect(t *testing.T) {
	ran := 0
	h := Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ }))
	do := func(method string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://console.test/x", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := do("POST", "Origin", "https://evil.example"); rec.Code != http.StatusForbidden || ran != 0 || rec.Header().Get("Content-Security-Policy") != CSP {
		t.Fatalf("cross-origin: %d ran %d", rec.Code, ran)
	}
	if rec := do("POST", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden || ran != 0 {
		t.Fatalf("cross-site: %d ran %d", rec.Code, ran)
	}
	if rec := do("POST", "Origin", "http://console.test"); rec.Code != http.StatusOK || ran != 1 {
		t.Fatalf("same origin: %d ran %d", rec.Code, ran)
	}
	if rec := do("GET", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusOK || ran != 2 || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET: %d ran %d", rec.Code, ran)
	}
}
