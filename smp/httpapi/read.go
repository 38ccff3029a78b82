package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
)

// target is what a request path resolves to.
type target struct {
	ref  smp.DocRef
	what string // for 404 messages
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
	n := len(raw) + t.ref.Size() + len(t.what)
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

// Header values set on every read answer.
var hdrNoSniff = []string{"nosniff"}

// read serves GET and HEAD of a document: stored bytes with their precomputed header values, 304 on a matching
// conditional request.
func (a *api) read(f smp.Flavour, meta bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := c.Request.URL.RawPath
		t := a.paths.get(raw)
		if t == nil {
			var err error
			if t, err = a.resolve(c, f, meta); err != nil {
				a.fail(c, err)
				return
			}
			a.paths.put(raw, t)
		}
		doc, err := a.svc.Document(c.Request.Context(), t.ref)
		if err != nil {
			if errors.Is(err, smp.ErrNotFound) {
				err = smp.NotFound(t.what)
			}
			a.fail(c, err)
			return
		}
		hd := c.Writer.Header()
		hd["Etag"] = doc.HdrETag()
		hd["Last-Modified"] = doc.HdrModified()
		r := c.Request
		if notModified(r.Header.Values("If-None-Match"), r.Header.Get("If-Modified-Since"), doc) {
			c.Status(http.StatusNotModified)
			c.Writer.WriteHeaderNow()
			return
		}
		hd["Content-Type"] = doc.HdrType()
		hd["Content-Length"] = doc.HdrLength()
		c.Status(http.StatusOK)
		c.Writer.WriteHeaderNow()
		if r.Method == http.MethodGet {
			_, _ = c.Writer.Write(doc.Body)
		}
	}
}

// resolve parses the identifier segments of a read path (each decoded exactly once).
func (a *api) resolve(c *gin.Context, f smp.Flavour, meta bool) (*target, error) {
	pid, did, err := a.ids(c, meta)
	if err != nil {
		return nil, err
	}
	t := &target{ref: smp.Ref(smp.DocKey{Flavour: f, Participant: pid, DocType: did}), what: "service group " + pid.String()}
	if meta {
		t.what = "service metadata " + did.String() + " of " + pid.String()
	}
	return t, nil
}

// ids parses the participant (and, with meta, the document type) of the route's escaped path segments.
func (a *api) ids(c *gin.Context, meta bool) (p, d identifier.ID, err error) {
	policy := a.svc.Policy()
	if p, err = policy.ParseSegment(identifier.Participant, c.Param("p")); err != nil {
		return p, d, smp.Invalid("", "bad participant identifier in the path: "+err.Error())
	}
	if meta {
		if d, err = policy.ParseSegment(identifier.DocumentType, c.Param("d")); err != nil {
			return p, d, smp.Invalid("", "bad document type identifier in the path: "+err.Error())
		}
	}
	return p, d, nil
}

// notModified evaluates If-None-Match (weak comparison, as RFC 9110 prescribes for it; every field as one list)
// or, without it, If-Modified-Since.
func notModified(inm []string, ims string, d *smp.Doc) bool {
	if len(inm) > 0 {
		for _, field := range inm {
			for _, t := range strings.Split(field, ",") {
				t = strings.TrimSpace(t)
				if t == "*" || strings.TrimPrefix(t, "W/") == d.ETag {
					return true
				}
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
