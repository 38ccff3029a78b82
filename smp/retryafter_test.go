package smp_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// TestRetryAfterIsEnough: a client that waits the Retry-After of a 429 is not refused again for the same reason
// (Retry-After is rounded up, never to the nearest second).
func TestRetryAfterIsEnough(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	// One failure per 1.3 s: the second attempt right after the first has to wait 1.3 s.
	lim := ratelimit.New(ratelimit.Config{Failures: 1, Window: 1300 * time.Millisecond, Now: now})
	f.srv.Handler = httpapi.Public(httpapi.Options{SMP: f.svc, Creds: auth.New(nil, nil), Write: true, Limiter: lim, Registerer: prometheus.NewRegistry()})
	bad := []string{"Authorization", "Basic !"} // malformed: refused without touching the store
	if r, _ := f.do(http.MethodDelete, demoPath(), bad...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("first wrong attempt: %d, want 401", r.StatusCode)
	}
	r, _ := f.do(http.MethodDelete, demoPath(), bad...)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second wrong attempt: %d, want 429", r.StatusCode)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	mu.Lock()
	clock = clock.Add(time.Duration(secs) * time.Second)
	mu.Unlock()
	if r, _ := f.do(http.MethodDelete, demoPath(), bad...); r.StatusCode == http.StatusTooManyRequests {
		t.Fatalf("after waiting Retry-After: %s (%d s): 429 again", r.Status, secs)
	}
}
