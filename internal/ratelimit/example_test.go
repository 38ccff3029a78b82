package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/signpost-project/signpost/internal/clientip"
	"github.com/signpost-project/signpost/internal/ratelimit"
)

// Example puts a costly check (HTTP Basic with PBKDF2) behind the limiter: the client address comes from
// clientip (forwarding headers believed from trusted proxies only), a client over its failures gets 429 with
// Retry-After before any hashing, and a valid attempt is given back.
func Example() {
	clients, err := clientip.New([]string{"10.0.0.0/8"}, clientip.XForwardedFor) // http.trusted_proxies
	if err != nil {
		panic(err)
	}
	failures := ratelimit.New(ratelimit.Config{Failures: 2})
	valid := func(user, pass string) bool { return user == "owner" && pass == "secret" } // the costly part
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := clientip.RateKey(clients.Addr(r))
		wait, ok := failures.Attempt(key)
		if !ok {
			w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
			http.Error(w, "too many failed attempts", http.StatusTooManyRequests)
			return
		}
		user, pass, _ := r.BasicAuth()
		if !valid(user, pass) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		failures.Succeeded(key)
		fmt.Fprintln(w, "ok")
	})

	try := func(peer, xff, pass string) {
		r := httptest.NewRequest(http.MethodPut, "/", nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		r.SetBasicAuth("owner", pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if ra := w.Header().Get("Retry-After"); ra != "" {
			fmt.Println(w.Code, "Retry-After:", ra)
			return
		}
		fmt.Println(w.Code)
	}
	try("10.0.0.5:1000", "203.0.113.9", "secret")  // valid: not counted
	try("10.0.0.5:1000", "203.0.113.9", "guess1")  // behind the proxy: counted for 203.0.113.9
	try("10.0.0.5:1000", "203.0.113.9", "guess2")  // second failure
	try("10.0.0.5:1000", "203.0.113.9", "secret")  // blocked, even with the right password
	try("10.0.0.5:1000", "198.51.100.4", "secret") // another client behind the same proxy
	try("198.51.100.7:1000", "10.0.0.1", "guess3") // a spoofed header from an untrusted peer counts for the peer
	// Output:
	// 200
	// 401
	// 401
	// 429 Retry-After: 30
	// 200
	// 401
}
