package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/sml"
)

// The admin listener's fixed timeouts. A request's head must arrive within readHeaderTimeout. The streaming
// routes (import, zone export) push their read or write deadline streamTimeout further at every chunk, so a
// large import or export runs as long as it makes progress, and a stalled peer is dropped.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	streamTimeout     = 30 * time.Second
	maxHeaderBytes    = 16 << 10
	// DefaultBatch is the number of participants per transaction of an import that does not say.
	DefaultBatch = 10000
	maxBatch     = 1000000
)

// ErrorTrailer is the HTTP trailer by which a zone export that fails after it began to send says why; the body
// is then incomplete.
const ErrorTrailer = "Signpost-Error"

// Config configures the admin API handler.
type Config struct {
	// Token is the admin token every request must carry.
	Token Token
	// Log receives the request log and the causes of internal errors; nil discards.
	Log *slog.Logger
	// OnPanic is called after a handler's panic was turned into a 500 (to count it); optional.
	OnPanic func()
	// Backup writes the store's online backup (store.DB.Backup); nil: GET /api/v1/backup is refused.
	Backup func(w io.Writer) (int64, error)
}

// NewHandler returns the admin API on b: every route requires the admin token, a panic in a handler becomes a
// 500 for that request only.
func NewHandler(b Backend, cfg Config) http.Handler {
	if cfg.Log == nil {
		cfg.Log = logging.Discard()
	}
	h := &handler{api: Local{B: b, Store: cfg.Backup}, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", h.status)
	mux.HandleFunc("GET /api/v1/smps", h.smps)
	mux.HandleFunc("GET /api/v1/zones/{zone}/export", h.exportZone)
	mux.HandleFunc("POST /api/v1/import", h.importFile)
	mux.HandleFunc("GET /api/v1/backup", h.backup)
	mux.HandleFunc("GET /api/v1/participants/{id}", h.participant)
	mux.HandleFunc("GET /api/v1/migrations", h.migrations)
	mux.HandleFunc("GET /api/v1/certificate-changes", h.certificateChanges)
	mux.HandleFunc("GET /api/v1/expiring-certificates", h.expiringCertificates)
	return h.recover(h.auth(mux))
}

// NewServer returns the *http.Server of the admin listener at addr, with its fixed timeouts.
func NewServer(addr string, h http.Handler, lg *slog.Logger) *http.Server {
	if lg == nil {
		lg = logging.Discard()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(slogWriter{lg}, "", 0),
	}
}

// slogWriter carries net/http's own error log (TLS handshakes, accept errors) into slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(b []byte) (int, error) {
	w.l.Warn("sml admin listener", "msg", string(b))
	return len(b), nil
}

type handler struct {
	api Local
	cfg Config
}

// recover turns a panic into a 500 for that request; http.ErrAbortHandler (a deliberate abort) goes on to
// net/http, which closes the connection quietly.
func (h *handler) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.cfg.Log.Error("sml admin: panic in a handler; answered 500", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if h.cfg.OnPanic != nil {
				h.cfg.OnPanic()
			}
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": ErrorBody{Kind: sml.KindInternal.String(),
				Message: "internal error of the SML admin API; the server logged it"}})
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *handler) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.cfg.Token.Check(r.Header.Get("Authorization")) {
			h.cfg.Log.Warn("sml admin: request without a valid admin token refused", "method", r.Method, "path", r.URL.Path,
				"remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="signpost-sml-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": ErrorBody{Kind: "unauthorized",
				Message: "missing or wrong admin token: send Authorization: Bearer <the token in the admin.token_file>"}})
			return
		}
		start := time.Now()
		next.ServeHTTP(w, r)
		h.cfg.Log.Info("sml admin", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
			"duration", time.Since(start).Round(time.Millisecond))
	})
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.api.Status(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) smps(w http.ResponseWriter, r *http.Request) {
	smps, err := h.api.SMPs(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"smps": smps})
}

func (h *handler) participant(w http.ResponseWriter, r *http.Request) {
	ps, err := h.api.Participant(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"participants": ps})
}

func (h *handler) exportZone(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sw := &streamWriter{w: w, rc: rc}
	err := h.api.ExportZone(r.Context(), sw, r.PathValue("zone"))
	switch {
	case err == nil:
	case !sw.started:
		h.fail(w, err)
	default:
		h.cfg.Log.Error("sml admin: zone export failed after it began; the client is told by the trailer", "err", err)
		w.Header().Set(ErrorTrailer, oneLine(sml.MessageOf(err)))
	}
}

// streamWriter writes a zone export: at the first write it declares the error trailer and the type, and before
// each write it pushes the write deadline further.
type streamWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	started     bool
	contentType string // default text/dns (a zone)
}

func (s *streamWriter) Write(b []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.Header().Set("Trailer", ErrorTrailer)
		ct := s.contentType
		if ct == "" {
			ct = "text/dns; charset=utf-8"
		}
		s.w.Header().Set("Content-Type", ct)
		s.w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamTimeout))
	return s.w.Write(b)
}

// backup streams a consistent copy of the store. Like a zone export, a backup that fails after it began says so
// in the error trailer; the client then discards what it received.
func (h *handler) backup(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sw := &streamWriter{w: w, rc: rc, contentType: "application/octet-stream"}
	n, err := h.api.Backup(r.Context(), sw)
	switch {
	case err == nil:
		h.cfg.Log.Info("sml admin: backup sent", "bytes", n)
	case !sw.started:
		h.fail(w, err)
	default:
		h.cfg.Log.Error("sml admin: backup failed after it began; the client is told by the trailer", "err", err)
		w.Header().Set(ErrorTrailer, oneLine(sml.MessageOf(err)))
	}
}

func (h *handler) importFile(w http.ResponseWriter, r *http.Request) {
	batch := DefaultBatch
	if v := r.URL.Query().Get("batch"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxBatch {
			h.fail(w, &sml.Error{Kind: sml.KindBadRequest, Msg: fmt.Sprintf("batch %q: give a number of participants per transaction from 1 to %d", v, maxBatch)})
			return
		}
		batch = n
	}
	rc := http.NewResponseController(w)
	// Progress lines go out while the body is still being read.
	if err := rc.EnableFullDuplex(); err != nil {
		h.cfg.Log.Debug("sml admin: import without full duplex", "err", err)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	// One connection per import: the answer starts before the body is read, and an import that stops at a bad line
	// leaves the rest of the body unread, so net/http closes the connection after it; without saying so up front,
	// a client would reuse that connection for its next request and lose it.
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	send := func(ev ImportEvent) {
		_ = rc.SetWriteDeadline(time.Now().Add(streamTimeout))
		if err := enc.Encode(ev); err == nil {
			_ = rc.Flush()
		}
	}
	body := &deadlineReader{r: r.Body, rc: rc}
	var last ImportEvent
	res, err := h.api.Import(r.Context(), body, batch, func(ev ImportEvent) {
		last = ev
		send(ev)
	})
	if err != nil {
		if r.Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			// The client went away (interrupted): nothing of the SML failed, and nobody reads an answer.
			h.cfg.Log.Warn("sml admin: import stopped by the client", "after_line", last.Line, "err", err)
			return
		}
		h.cfg.Log.Warn("sml admin: import stopped", "after_line", last.Line, "err", err)
		send(ImportEvent{Line: last.Line, Result: res, Error: h.errorBody(err)})
		return
	}
	h.cfg.Log.Info("sml admin: import done", "participants_created", res.Participants.Created,
		"participants_updated", res.Participants.Updated, "smps_created", res.SMPs.Created)
	send(ImportEvent{Line: last.Line, Result: res, Done: true})
}

// deadlineReader pushes the request's read deadline further before each read of the body.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(streamTimeout))
	return d.r.Read(b)
}

// fail answers err as JSON with the status of its kind.
func (h *handler) fail(w http.ResponseWriter, err error) {
	if sml.IsUnavailable(err) {
		// The store cannot be reached (PostgreSQL down): 503, and when to try again.
		w.Header().Set("Retry-After", strconv.Itoa(int(pgstore.Retry/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": h.errorBody(err)})
		return
	}
	writeJSON(w, statusOf(sml.KindOf(err)), map[string]any{"error": h.errorBody(err)})
}

// errorBody is the client's view of err: its kind and client-safe message. The cause of an internal error is
// logged, never sent.
func (h *handler) errorBody(err error) *ErrorBody {
	k := sml.KindOf(err)
	if k == sml.KindInternal {
		h.cfg.Log.Error("sml admin: internal error", "err", err)
	}
	return &ErrorBody{Kind: k.String(), Message: sml.MessageOf(err)}
}

// statusOf is the HTTP status of each sml error kind.
func statusOf(k sml.Kind) int {
	switch k {
	case sml.KindBadRequest:
		return http.StatusBadRequest
	case sml.KindNotFound:
		return http.StatusNotFound
	case sml.KindUnauthorized:
		return http.StatusForbidden
	case sml.KindAlreadyExists:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// kindOf is the sml.Kind named by an ErrorBody's Kind; unknown names are internal errors.
func kindOf(name string) sml.Kind {
	for _, k := range []sml.Kind{sml.KindBadRequest, sml.KindNotFound, sml.KindUnauthorized, sml.KindAlreadyExists} {
		if k.String() == name {
			return k
		}
	}
	return sml.KindInternal
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"kind":"internal error","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// errNotAdminAPI reports an answer that does not come from an SML admin API.
var errNotAdminAPI = errors.New("admin: the answer is not from a signpost SML admin API")
