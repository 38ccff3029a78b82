package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/smp"
)

// The admin routes of the operations that run long on a running server:
//
//	POST /api/v1/bulk    a bulk change (smp.BulkOp as JSON); the answer streams NDJSON lines (BulkLine)
//	GET  /api/v1/backup  a consistent copy of the store, taken online (application/octet-stream)

// Route names of the bulk and backup routes, as metric labels.
const (
	routeAPIBulk   = "api_bulk"
	routeAPIBackup = "api_backup"
)

// ErrorTrailer is the HTTP trailer by which a backup that fails after it began to send says why; the client then
// discards what it received.
const ErrorTrailer = "Signpost-Error"

// streamTimeout bounds each write of a streamed answer (the admin server's write timeout would cut a long one).
const streamTimeout = time.Minute

// BulkLine is one line of the answer of POST /api/v1/bulk: exactly one field is set. The last line is a Result
// or an Error; an answer that ends without one broke off.
type BulkLine struct {
	Group    *smp.BulkGroup  `json:"group,omitempty"`
	Progress *BulkProgress   `json:"progress,omitempty"`
	Result   *smp.BulkResult `json:"result,omitempty"`
	Error    *StreamError    `json:"error,omitempty"`
}

// BulkProgress counts the service groups looked at of those there were when the change began.
type BulkProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// StreamError is an error that ended a streamed answer, with the HTTP status it would have had.
type StreamError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// bulkRoutes mounts the bulk change and backup routes on the admin API group.
func (a *api) bulkRoutes(g *gin.RouterGroup) {
	g.POST("/bulk", a.bulk)
	g.GET("/backup", a.backup)
}

// bulkRouteName is the metric label of the bulk and backup routes ("" for others).
func bulkRouteName(pattern string) string {
	switch {
	case strings.HasPrefix(pattern, PathAPI+"bulk"):
		return routeAPIBulk
	case strings.HasPrefix(pattern, PathAPI+"backup"):
		return routeAPIBackup
	}
	return ""
}

func (a *api) bulk(c *gin.Context) {
	var op smp.BulkOp
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		a.jsonFail(c, smp.Invalid("body", `not a bulk change {"old_certificate": DER base64, "new_certificate": ..., "old_url": URL, "new_url": URL, "dry_run": BOOL}: `+err.Error()))
		return
	}
	if err := op.Validate(); err != nil {
		a.jsonFail(c, err)
		return
	}
	by := principal(c)
	rc := http.NewResponseController(c.Writer)
	c.Header("Content-Type", "application/x-ndjson")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	enc.SetEscapeHTML(false)
	// A client that went away stops the change at the next batch (the request's context ends): what is committed
	// stays, and running it again finishes the rest.
	send := func(l BulkLine) {
		_ = rc.SetWriteDeadline(time.Now().Add(streamTimeout))
		if enc.Encode(l) == nil {
			_ = rc.Flush()
		}
	}
	res, err := a.svc.Bulk(c.Request.Context(), by, op, smp.BulkObserver{
		Group:    func(g smp.BulkGroup) { send(BulkLine{Group: &g}) },
		Progress: func(done, total int) { send(BulkLine{Progress: &BulkProgress{Done: done, Total: total}}) },
	})
	if err != nil {
		code, msg := a.status(c, err)
		send(BulkLine{Error: &StreamError{Status: code, Message: msg}})
		a.log.Error("smp bulk change stopped", "change", op.Kind(), "by", by.User, "err", err, "groups_changed", res.Groups)
		return
	}
	send(BulkLine{Result: &res}) // the use case logs the audit line
}

// backup streams a consistent copy of the store. A backup that fails after it began says so in the error
// trailer.
func (a *api) backup(c *gin.Context) {
	if a.o.BackupRefused != "" {
		a.jsonError(c, http.StatusNotImplemented, a.o.BackupRefused)
		return
	}
	if a.o.Backup == nil {
		a.jsonFail(c, smp.Internal("backup", errNoBackup))
		return
	}
	rc := http.NewResponseController(c.Writer)
	sw := &backupWriter{w: c.Writer, rc: rc}
	n, err := a.o.Backup(sw)
	switch {
	case err == nil:
		a.log.Info("smp backup sent", logging.Audit, "by", principal(c).User, "bytes", n)
	case !sw.started:
		a.jsonFail(c, smp.Internal("backup", err))
	default:
		a.log.Error("smp backup failed after it began; the client is told by the trailer", "err", err)
		c.Writer.Header().Set(ErrorTrailer, strings.Join(strings.Fields(err.Error()), " "))
	}
}

var errNoBackup = errors.New("this server has no store to back up")

// backupWriter declares the error trailer and the type at its first write, and gives each write its own deadline.
type backupWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.started = true
		h := b.w.Header()
		h.Set("Trailer", ErrorTrailer)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
	}
	_ = b.rc.SetWriteDeadline(time.Now().Add(streamTimeout))
	return b.w.Write(p)
}
