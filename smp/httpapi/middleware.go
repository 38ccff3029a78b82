package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/smp"
)

// Context keys.
const (
	keyPrincipal = "signpost.principal"
)

// recovery turns a panic in a handler into a 500 for that request only: logged with its stack and counted. The
// process and the other connections live on. A panic with http.ErrAbortHandler is net/http's way of aborting a
// response and is passed on.
func (a *api) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			recovery.Report(a.log, "smp_http", v)
			if !c.Writer.Written() {
				a.failStatus(c, http.StatusInternalServerError, "internal error; the SMP's log has the details")
			}
			c.Abort()
		}()
		c.Next()
	}
}

// observe counts every request by route and status and logs it at debug level (writes also have an audit line).
func (a *api) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route, ok := a.routes[c.FullPath()]
		if !ok {
			route = routeOther
		}
		code := c.Writer.Status()
		a.m.request(route, code)
		if a.log.Enabled(c.Request.Context(), -4) {
			a.log.Debug("smp request", "method", c.Request.Method, "path", c.Request.URL.RawPath, "route", route,
				"status", code, "client", a.o.ClientAddr(c.Request), "took", time.Since(start))
		}
	}
}

// authenticate resolves the Authorization header into the acting principal, before anything of the path or the
// body is looked at (an anonymous client learns nothing). A client address with too many failed attempts is
// answered 429 without the credentials being checked at all.
func (a *api) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		client := ""
		if a.o.Limiter != nil {
			client = a.o.ClientAddr(c.Request)
			if wait, blocked := a.o.Limiter.Blocked(client); blocked {
				secs := ratelimit.RetryAfter(wait) // rounded up: a client that waits this long is let through
				c.Header("Retry-After", secs)
				a.failAuto(c, &smp.Error{Kind: smp.KindTooMany, Msg: "too many failed authentications from " + client + "; try again in " + secs + " s"})
				c.Abort()
				return
			}
		}
		by, err := a.o.Creds.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if a.o.Limiter != nil && smp.KindOf(err) == smp.KindUnauthorized {
			_, _ = a.o.Limiter.Attempt(client) // only refused credentials count
		}
		if err != nil {
			a.failAuto(c, err)
			c.Abort()
			return
		}
		c.Set(keyPrincipal, by)
		c.Next()
	}
}

// adminOnly refuses principals that are not administrators.
func (a *api) adminOnly() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !principal(c).Admin {
			a.jsonFail(c, smp.Forbidden("the admin API is for administrators"))
			c.Abort()
			return
		}
		c.Next()
	}
}

// principal is who the authenticate middleware found.
func principal(c *gin.Context) smp.Principal {
	v, _ := c.Get(keyPrincipal)
	p, _ := v.(smp.Principal)
	return p
}

// deadline gives a write the request's deadline: signing stops there (and when the client goes away), so a huge
// body cannot keep a core busy after its client gave up.
func (a *api) deadline() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.o.WriteTimeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
