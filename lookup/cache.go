package lookup

import (
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cache holds DNS answers and SMP responses for one Client. It is safe for concurrent use. What it holds is
// never handed out: lookups build their results afresh from it.
type cache struct {
	mu   sync.Mutex
	max  int // entries per map; 0 disables the cache
	dns  map[string]dnsAnswer
	http map[string]*httpEntry
}

func newCache(max int) *cache {
	return &cache{max: max, dns: map[string]dnsAnswer{}, http: map[string]*httpEntry{}}
}

func (c *cache) getDNS(key string, now time.Time) (dnsAnswer, bool) {
	if c.max <= 0 {
		return dnsAnswer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.dns[key]
	if !ok || !now.Before(a.expires) {
		return dnsAnswer{}, false
	}
	return a, true
}

func (c *cache) putDNS(key string, a dnsAnswer) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dns) >= c.max {
		evict(c.dns, func(a dnsAnswer) time.Time { return a.expires })
	}
	c.dns[key] = a
}

func (c *cache) getHTTP(key string) *httpEntry {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.http[key]
}

func (c *cache) putHTTP(key string, e *httpEntry) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.http) >= c.max {
		evict(c.http, func(e *httpEntry) time.Time { return e.expires })
	}
	c.http[key] = e
}

func (c *cache) dropHTTP(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.http, key)
}

// evict removes the entries that expired longest ago, or else about a tenth of them.
func evict[V any](m map[string]V, expires func(V) time.Time) {
	now := time.Now()
	n := 0
	for k, v := range m {
		if expires(v).Before(now) {
			delete(m, k)
			n++
		}
	}
	if n > 0 {
		return
	}
	drop := len(m)/10 + 1
	for k := range m {
		delete(m, k)
		if drop--; drop == 0 {
			return
		}
	}
}

// httpEntry is one SMP response. The fields set when it is made never change; the verified document is
// filled in once, under mu.
type httpEntry struct {
	status       int // 200 or 404
	body         []byte
	etag         string
	lastModified string
	expires      time.Time // fresh until; revalidate afterwards

	mu       sync.Mutex
	verified any // *metadata or *serviceGroup
	signer   *x509.Certificate
}

// revalidated returns a copy of e (sharing its body and verified document) fresh until expires.
func (e *httpEntry) revalidated(expires time.Time) *httpEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &httpEntry{status: e.status, body: e.body, etag: e.etag, lastModified: e.lastModified,
		expires: expires, verified: e.verified, signer: e.signer}
}

func (e *httpEntry) hasValidators() bool { return e.etag != "" || e.lastModified != "" }

// freshness reads Cache-Control and Expires: how long a response stays fresh, and whether it may be stored.
func freshness(h http.Header, now time.Time) (time.Duration, bool) {
	cc := strings.ToLower(h.Get("Cache-Control"))
	maxAge := time.Duration(-1)
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		switch {
		case d == "no-store":
			return 0, false
		case d == "no-cache":
			return 0, true
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(strings.Trim(d[len("max-age="):], `"`)); err == nil && n >= 0 {
				maxAge = time.Duration(n) * time.Second
			}
		}
	}
	if maxAge >= 0 {
		return maxAge, true
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0, true
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		if t.After(base) {
			return t.Sub(base), true
		}
	}
	return 0, true
}
