package smp

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// PathSMP2 is the first path segment of the OASIS SMP 2.0 binding.
const PathSMP2 = "bdxr-smp-2"

// HandlerOptions configure the read API handler.
type HandlerOptions struct {
	// Write serves every method other than GET and HEAD (the management API); nil: 405.
	Write http.Handler
	// API serves every request whose path starts with /api/v1/ (the JSON admin API); nil: the read API answers.
	API http.Handler
	// Log receives internal errors. Default: discard.
	Log *slog.Logger
}

type handler struct {
	s      *Service
	prefix string
	write  http.Handler
	api    http.Handler
	log    *slog.Logger
	paths  paths
}

// Handler returns the read API: GET and HEAD of /{participant} and /{participant}/services/{doctype} in the root
// flavour and under /bdxr-smp-2/ for SMP 2.0, with or without the public URL's path prefix. It routes on the
// escaped path and decodes each identifier segment exactly once. It serves stored bytes only.
func (s *Service) Handler(o HandlerOptions) http.Handler {
	if o.Log == nil {
		o.Log = s.log
	}
	prefix := ""
	if u, err := url.Parse(s.base); err == nil {
		prefix = strings.TrimRight(u.EscapedPath(), "/")
	}
	return &handler{s: s, prefix: prefix, write: o.Write, api: o.API, log: o.Log, paths: paths{m: map[string]*target{}, max: 100000, maxBytes: 16 << 20}}
}

// Header values set on every answer.
var (
	hdrNoSniff = []string{"nosniff"}
	hdrText    = []string{"text/plain; charset=utf-8"}
	hdrAllow   = []string{"GET, HEAD"}
)

// target is what a request path resolves to: the document key of a flavour.
type target struct {
	f     Flavour
	key   string
	route int
	what  string // for 404 messages
}

// paths remembers what raw request paths resolve to, so a repeated GET neither decodes nor parses identifiers.
// It holds at most max entries and maxBytes bytes of paths and keys (a hostile client sending long, distinct,
// valid paths must not grow it without bound).
type paths struct {
	mu       sync.RWMutex
	m        map[string]*target
	max      int
	maxBytes int
	size     int
}

func (p *paths) get(raw string) *target {
	p.mu.RLock()
	t := p.m[raw]
	p.mu.RUnlock()
	return t
}

func (p *paths) put(raw string, t *target) {
	n := len(raw) + len(t.key) + len(t.what)
	p.mu.Lock()
	if len(p.m) >= p.max || p.size+n > p.maxBytes {
		clear(p.m)
		p.size = 0
	}
	if _, ok := p.m[raw]; !ok {
		p.size += n
	}
	p.m[raw] = t
	p.mu.Unlock()
}

// PathAPI is the path prefix of the JSON admin API.
const PathAPI = "/api/v1/"

// isAPI reports whether an escaped request path is the admin API's (with or without the public URL's prefix).
func (h *handler) isAPI(raw string) bool {
	if h.api == nil {
		return false
	}
	if h.prefix != "" && strings.HasPrefix(raw, h.prefix) {
		raw = raw[len(h.prefix):]
	}
	return strings.HasPrefix(raw, PathAPI)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.api != nil && h.isAPI(r.URL.EscapedPath()) {
		h.api.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if h.write != nil {
			h.write.ServeHTTP(w, r)
			return
		}
		w.Header()["Allow"] = hdrAllow
		h.s.m.request(routeOther, http.StatusMethodNotAllowed)
		h.fail(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here; use GET or HEAD")
		return
	}
	raw := requestPath(r)
	code, route, doc, msg := h.answer(raw, strings.Join(r.Header.Values("If-None-Match"), ","), r.Header.Get("If-Modified-Since"))
	h.s.m.request(route, code)
	if doc == nil {
		h.fail(w, code, msg)
		return
	}
	hd := w.Header()
	hd["Etag"] = doc.hdrETag
	hd["Last-Modified"] = doc.hdrModified
	if code == http.StatusNotModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Type"] = doc.hdrType
	hd["Content-Length"] = doc.hdrLength
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(doc.Body)
	}
}

// requestPath is the request target as sent (origin form) without the query, else the URL's escaped path: what
// the read and write APIs route on.
func requestPath(r *http.Request) string {
	raw := r.RequestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if raw == "" || raw[0] != '/' {
		raw = r.URL.EscapedPath()
	}
	return raw
}

// answer decides a GET or HEAD of the escaped path raw: 200 or 304 with the document, or an error status with
// its message. route is the metrics label.
func (h *handler) answer(raw, ifNoneMatch, ifModifiedSince string) (code, route int, doc *Doc, msg string) {
	t := h.paths.get(raw)
	if t == nil {
		if t, code, msg = h.resolve(raw); t == nil {
			return code, routeOther, nil, msg
		}
		h.paths.put(raw, t)
	}
	doc, err := h.s.lookupKey(t.f, t.key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return http.StatusNotFound, t.route, nil, t.what + " not found"
		}
		h.log.Error("smp read failed", "path", raw, "err", err)
		return http.StatusInternalServerError, t.route, nil, "internal error; the SMP's log has the details"
	}
	if notModified(ifNoneMatch, ifModifiedSince, doc) {
		return http.StatusNotModified, t.route, doc, ""
	}
	return http.StatusOK, t.route, doc, ""
}

const usage = "not found: GET /{participant} or /{participant}/services/{document type}"

// resolve routes an escaped path: the public URL's path prefix is optional, /bdxr-smp-2/ selects SMP 2.0, and
// each identifier segment is decoded exactly once. It returns nil with a status and message when the path is
// no document's.
func (h *handler) resolve(p string) (*target, int, string) {
	if h.prefix != "" && strings.HasPrefix(p, h.prefix+"/") {
		p = p[len(h.prefix):]
	}
	if len(p) < 2 || p[0] != '/' {
		return nil, http.StatusNotFound, usage
	}
	rest := p[1:]
	f, route := h.s.root, routeGroup
	if strings.HasPrefix(rest, PathSMP2+"/") {
		if !h.s.serves(SMP2) {
			return nil, http.StatusNotFound, "the SMP 2.0 binding is not served here"
		}
		f, route = SMP2, routeGroup2
		rest = rest[len(PathSMP2)+1:]
	}
	pseg, dseg := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		pseg = rest[:i]
		tail := rest[i:]
		const services = "/services/"
		if !strings.HasPrefix(tail, services) || len(tail) == len(services) || strings.IndexByte(tail[len(services):], '/') >= 0 {
			return nil, http.StatusNotFound, usage
		}
		dseg = tail[len(services):]
		route++ // the metadata route of the flavour
	}
	if pseg == "" {
		return nil, http.StatusNotFound, usage
	}
	pid, err := h.s.policy.ParseSegment(identifier.Participant, pseg)
	if err != nil {
		return nil, http.StatusBadRequest, "bad participant identifier in the path: " + err.Error()
	}
	t := &target{f: f, route: route, what: "service group " + pid.String()}
	var did identifier.ID
	if dseg != "" {
		if did, err = h.s.policy.ParseSegment(identifier.DocumentType, dseg); err != nil {
			return nil, http.StatusBadRequest, "bad document type identifier in the path: " + err.Error()
		}
		t.what = "service metadata " + did.String() + " of " + pid.String()
	}
	t.key = docKey(f, pid, did)
	return t, 0, ""
}

func (h *handler) fail(w http.ResponseWriter, code int, msg string) {
	hd := w.Header()
	hd["Content-Type"] = hdrText
	hd["X-Content-Type-Options"] = hdrNoSniff
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// notModified evaluates If-None-Match (weak comparison, as RFC 9110 prescribes for it) or, without it,
// If-Modified-Since.
func notModified(inm, ims string, d *Doc) bool {
	if inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == d.ETag {
				return true
			}
		}
		return false
	}
	if ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !d.Modified.After(t.Truncate(time.Second)) {
			return true
		}
	}
	return false
}
