package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// status translates an error into the HTTP status and the message for the client: the one place where the SMP's
// error kinds meet HTTP. Internal errors are logged with their cause and answered without it.
func (a *api) status(c *gin.Context, err error) (int, string) {
	var tl errTooLarge
	var mt errMediaType
	switch {
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, tl.Error()
	case errors.As(err, &mt):
		return http.StatusUnsupportedMediaType, mt.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or the request ran out of time (a signature is not finished past the deadline).
		return http.StatusServiceUnavailable, "the request was cancelled or ran out of time before it completed"
	}
	var se *smlclient.Error
	if errors.As(err, &se) {
		// The SML answered with a fault or could not be reached: the SMP is a gateway to it.
		return http.StatusBadGateway, se.Error()
	}
	var e *smp.Error
	if !errors.As(err, &e) || e.Kind == smp.KindInternal {
		a.log.Error("smp request failed", "method", c.Request.Method, "path", c.Request.URL.RawPath, "err", err)
		return http.StatusInternalServerError, "internal error; the SMP's log has the details"
	}
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	switch e.Kind {
	case smp.KindInvalid:
		return http.StatusBadRequest, msg
	case smp.KindNotFound:
		return http.StatusNotFound, msg
	case smp.KindForbidden:
		return http.StatusForbidden, msg
	case smp.KindUnauthorized:
		c.Writer.Header()["Www-Authenticate"] = []string{`Bearer realm="signpost-smp"`, `Basic realm="signpost-smp", charset="UTF-8"`}
		return http.StatusUnauthorized, msg
	case smp.KindTooMany:
		return http.StatusTooManyRequests, msg
	case smp.KindUnavailable:
		// The store is down: reads the cache cannot answer and every write; the client may retry as it is.
		a.log.Warn("smp request refused: the store is unavailable", "method", c.Request.Method, "path", c.Request.URL.Path, "err", e.Err)
		c.Writer.Header()["Retry-After"] = hdrRetryUnavailable
		return http.StatusServiceUnavailable, msg
	}
	return http.StatusInternalServerError, "internal error"
}

var hdrRetryUnavailable = []string{strconv.Itoa(int(smp.RetryUnavailable / time.Second))}

// fail answers a protocol request with the error's status and a plain-text message.
func (a *api) fail(c *gin.Context, err error) {
	code, msg := a.status(c, err)
	a.failStatus(c, code, msg)
}

func (a *api) failStatus(c *gin.Context, code int, msg string) {
	hd := c.Writer.Header()
	hd["X-Content-Type-Options"] = hdrNoSniff
	a.textHeaders(c)
	c.Status(code)
	_, _ = c.Writer.WriteString(msg + "\n")
}

func (a *api) text(c *gin.Context, code int, msg string) {
	a.textHeaders(c)
	c.Status(code)
	_, _ = c.Writer.WriteString(msg + "\n")
}

func (a *api) textHeaders(c *gin.Context) {
	c.Writer.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
}

// failAuto answers in JSON on the admin API and in text on the protocol paths.
func (a *api) failAuto(c *gin.Context, err error) {
	if strings.HasPrefix(c.Request.URL.Path, PathAPI) {
		a.jsonFail(c, err)
		return
	}
	a.fail(c, err)
}

// jsonFail answers an admin API request with the error's status and {"error": message}.
func (a *api) jsonFail(c *gin.Context, err error) {
	code, msg := a.status(c, err)
	a.jsonError(c, code, msg)
}

func (a *api) jsonError(c *gin.Context, code int, msg string) {
	c.Header("Content-Type", "application/json")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Status(code)
	_ = json.NewEncoder(c.Writer).Encode(map[string]string{"error": msg})
}
