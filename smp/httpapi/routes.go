package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/smp"
)

// Route names, as metric labels.
const (
	routeGroup     = "service_group"
	routeMetadata  = "service_metadata"
	routeGroup2    = "smp2_service_group"
	routeMetadata2 = "smp2_service_metadata"
	routeAllMeta   = "service_metadata_all"
	routeAPIGroups = "api_service_groups"
	routeAPITokens = "api_tokens"
	routeAPIUsers  = "api_users"
	routeAPIStatus = "api_status"
	routeOther     = "other"
)

// PathAPI is the path prefix of the JSON admin API (on the admin listener).
const PathAPI = "/api/v1/"

func init() { gin.SetMode(gin.ReleaseMode) }

func newEngine() *gin.Engine {
	e := gin.New()
	// Route on the escaped path as sent (see rawPath), and hand parameters over still escaped: the handlers decode
	// each identifier segment exactly once.
	e.UseRawPath = true
	e.UnescapePathValues = false
	e.RemoveExtraSlash = false
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	return e
}

// rawPath makes the router see the request target exactly as sent: net/http leaves URL.RawPath empty when the
// path is in its default escaping (so "%2523" would otherwise reach gin as "%23", decoded once already).
func rawPath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.RequestURI
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			raw = raw[:i]
		}
		if raw == "" || raw[0] != '/' {
			raw = r.URL.EscapedPath()
		}
		r.URL.RawPath = raw
		h.ServeHTTP(w, r)
	})
}

// Public returns the handler of the public port: the read API in the root flavour and, when served, SMP 2.0 under
// /bdxr-smp-2/, each with and without the public URL's path prefix; PUT and DELETE on the same paths when
// o.Write is set.
func Public(o Options) http.Handler {
	a := newAPI(o)
	e := newEngine()
	e.Use(a.recovery(), a.observe())
	allow := "GET, HEAD"
	if o.Write {
		allow = "GET, HEAD, PUT, DELETE"
	}
	e.NoRoute(func(c *gin.Context) {
		a.fail(c, smp.NotFound("no such path: use /{participant} or /{participant}/services/{document type}"))
	})
	e.NoMethod(func(c *gin.Context) {
		// gin has set Allow to the methods this path has (DELETE only on /{participant}/services).
		allow := allow
		if v := c.Writer.Header().Get("Allow"); v != "" {
			allow = v
		} else {
			c.Header("Allow", allow)
		}
		msg := "method " + c.Request.Method + " is not allowed here; use " + allow
		if c.Request.Method == http.MethodPut && strings.HasSuffix(c.Request.URL.RawPath, "/services") {
			msg = "PUT needs a document type: /{participant}/services/{document type}"
		}
		a.failStatus(c, http.StatusMethodNotAllowed, msg)
	})
	prefixes := []string{""}
	if a.prefix != "" {
		prefixes = append(prefixes, a.prefix)
	}
	bindings := []struct {
		path string
		f    smp.Flavour
	}{{"", a.svc.RootFlavour()}}
	if a.svc.Serves(smp.SMP2) {
		bindings = append(bindings, struct {
			path string
			f    smp.Flavour
		}{"/" + smp.PathSMP2, smp.SMP2})
	}
	for _, pre := range prefixes {
		for _, b := range bindings {
			g := e.Group(pre + b.path)
			g.GET("/:p", a.read(b.f, false))
			g.HEAD("/:p", a.read(b.f, false))
			g.GET("/:p/services/:d", a.read(b.f, true))
			g.HEAD("/:p/services/:d", a.read(b.f, true))
			if o.Write {
				w := g.Group("", a.deadline(), a.authenticate())
				w.PUT("/:p", a.putGroup())
				w.DELETE("/:p", a.deleteGroup())
				w.PUT("/:p/services/:d", a.putMetadata())
				w.DELETE("/:p/services/:d", a.deleteMetadata())
				w.DELETE("/:p/services", a.deleteAllMetadata())
			}
		}
	}
	a.nameRoutes(e)
	return rawPath(e)
}

// Admin returns the handler of the admin listener, for administrators only: the JSON admin API (GET
// /api/v1/status, GET /api/v1/service-groups), the token API (GET and POST /api/v1/tokens, DELETE
// /api/v1/tokens/ID) and the user API (GET /api/v1/users, PUT and DELETE /api/v1/users/NAME). extra, when set, mounts
// further admin routes (the server's status, the web console).
func Admin(o Options, extra ...func(*gin.RouterGroup)) http.Handler {
	a := newAPI(o)
	e := newEngine()
	e.Use(a.recovery(), a.observe())
	e.NoRoute(func(c *gin.Context) {
		a.jsonError(c, http.StatusNotFound, "not found: GET "+PathAPI+"status, GET "+PathAPI+"service-groups?limit=N&after=PARTICIPANT, GET or POST "+PathAPI+"tokens, DELETE "+PathAPI+"tokens/ID, GET "+PathAPI+"users, PUT or DELETE "+PathAPI+"users/NAME, GET "+PathAPI+"sml, GET "+PathAPI+"sml/participants?state=STATE, POST "+PathAPI+"sml/{register,update,unregister,retry}")
	})
	e.NoMethod(func(c *gin.Context) {
		a.jsonError(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" is not allowed here")
	})
	g := e.Group(strings.TrimSuffix(PathAPI, "/"), a.authenticate(), a.adminOnly())
	g.GET("/service-groups", a.listGroups)
	g.HEAD("/service-groups", a.listGroups)
	g.GET("/tokens", a.listTokens)
	g.POST("/tokens", a.createToken)
	g.DELETE("/tokens/:id", a.revokeToken)
	g.GET("/status", a.serverStatus)
	g.GET("/users", a.listUsers)
	g.PUT("/users/:name", a.setUser)
	g.DELETE("/users/:name", a.deleteUser)
	if o.Registrations != nil {
		a.smlRoutes(g)
	}
	a.bulkRoutes(g)
	a.rolloverRoutes(g)
	for _, x := range extra {
		x(g)
	}
	a.nameRoutes(e)
	return rawPath(e)
}

// urlPathPrefix is the escaped path of a base URL without a trailing slash.
func urlPathPrefix(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// nameRoutes gives every registered path pattern its metric label, once: a request finds its label by the
// pattern that matched (gin's FullPath), with no per-request work.
func (a *api) nameRoutes(e *gin.Engine) {
	a.routes = map[string]string{}
	for _, r := range e.Routes() {
		a.routes[r.Path] = routeName(r.Path)
	}
}

// routeName is the metric label of a path pattern.
func routeName(pattern string) string {
	smp2 := strings.Contains(pattern, "/"+smp.PathSMP2+"/")
	if r := bulkRouteName(pattern); r != "" {
		return r
	}
	switch {
	case strings.HasPrefix(pattern, PathAPI+"service-groups"):
		return routeAPIGroups
	case strings.HasPrefix(pattern, PathAPI+"tokens"):
		return routeAPITokens
	case strings.HasPrefix(pattern, PathAPI+"users"):
		return routeAPIUsers
	case strings.HasPrefix(pattern, PathAPI+"status"):
		return routeAPIStatus
	case strings.HasSuffix(pattern, "/services"):
		return routeAllMeta
	case strings.HasSuffix(pattern, "/services/:d") && smp2:
		return routeMetadata2
	case strings.HasSuffix(pattern, "/services/:d"):
		return routeMetadata
	case strings.HasSuffix(pattern, "/:p") && smp2:
		return routeGroup2
	case strings.HasSuffix(pattern, "/:p"):
		return routeGroup
	}
	return routeOther
}
