package smp

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
)

// WriteOptions configure the management API.
type WriteOptions struct {
	// MaxBodyBytes limits a PUT body; more is answered 413. Default 4 MiB.
	MaxBodyBytes int64
	// ExpiredCertificates: refuse (default) or accept with a warning an endpoint certificate that has expired.
	ExpiredCertificates ExpiredCertificates
	// Log receives the audit lines of accepted writes and internal errors. Default: the service's.
	Log *slog.Logger
	// Registerer takes the write metrics. Default: none.
	Registerer prometheus.Registerer
}

// Routes of the management API, as metric labels.
const (
	wrGroup     = "service_group"
	wrMetadata  = "service_metadata"
	wrAllMeta   = "service_metadata_all"
	wrAPI       = "api_service_groups"
	wrAPITokens = "api_tokens"
	wrOther     = "other"
)

type writeAPI struct {
	s      *Service
	h      *handler // for the path prefix
	o      WriteOptions
	log    *slog.Logger
	cache  *passwordCache
	writes *prometheus.CounterVec
}

// WriteHandlers returns the management API (PUT and DELETE on the read paths, for HandlerOptions.Write) and the
// JSON admin API (GET /api/v1/service-groups, for HandlerOptions.API).
func (s *Service) WriteHandlers(o WriteOptions) (write, api http.Handler) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.Log == nil {
		o.Log = s.log
	}
	wa := &writeAPI{s: s, h: s.Handler(HandlerOptions{}).(*handler), o: o, log: o.Log, cache: newPasswordCache()}
	wa.writes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signpost_smp_writes_total", Help: "SMP management API requests by route and HTTP status.",
	}, []string{"route", "code"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(wa.writes); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				wa.writes = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return http.HandlerFunc(wa.serveWrite), http.HandlerFunc(wa.serveAPI)
}

// writeTarget is what a write path names.
type writeTarget struct {
	route   string
	p, d    identifier.ID
	allMeta bool // DELETE /{participant}/services
}

// parsePath routes an escaped write path like the read API: optional public URL prefix, optional /bdxr-smp-2/,
// then /{participant}, /{participant}/services or /{participant}/services/{doctype}.
func (wa *writeAPI) parsePath(p string) (*writeTarget, int, string) {
	const use = "use /{participant}, /{participant}/services/{document type} or (DELETE) /{participant}/services"
	if pre := wa.h.prefix; pre != "" && strings.HasPrefix(p, pre+"/") {
		p = p[len(pre):]
	}
	if len(p) < 2 || p[0] != '/' {
		return nil, http.StatusNotFound, "not found: " + use
	}
	rest := p[1:]
	if strings.HasPrefix(rest, PathSMP2+"/") {
		if !wa.s.serves(SMP2) {
			return nil, http.StatusNotFound, "the SMP 2.0 binding is not served here"
		}
		rest = rest[len(PathSMP2)+1:]
	}
	t := &writeTarget{route: wrGroup}
	pseg, tail, _ := strings.Cut(rest, "/")
	dseg := ""
	switch {
	case tail == "" && !strings.Contains(rest, "/"):
	case tail == "services":
		t.route, t.allMeta = wrAllMeta, true
	case strings.HasPrefix(tail, "services/") && len(tail) > len("services/") && !strings.Contains(tail[len("services/"):], "/"):
		t.route, dseg = wrMetadata, tail[len("services/"):]
	default:
		return nil, http.StatusNotFound, "not found: " + use
	}
	if pseg == "" {
		return nil, http.StatusNotFound, "not found: " + use
	}
	var err error
	if t.p, err = wa.s.policy.ParseSegment(identifier.Participant, pseg); err != nil {
		return t, http.StatusBadRequest, "bad participant identifier in the path: " + err.Error()
	}
	if dseg != "" {
		if t.d, err = wa.s.policy.ParseSegment(identifier.DocumentType, dseg); err != nil {
			return t, http.StatusBadRequest, "bad document type identifier in the path: " + err.Error()
		}
	}
	return t, 0, ""
}

var hdrAllowWrite = []string{"GET, HEAD, PUT, DELETE"}

func (wa *writeAPI) serveWrite(w http.ResponseWriter, r *http.Request) {
	route := wrOther
	code, msg := wa.write(w, r, &route)
	wa.writes.WithLabelValues(route, strconv.Itoa(code)).Inc()
	if code == http.StatusUnauthorized {
		w.Header()["Www-Authenticate"] = []string{`Bearer realm="signpost-smp"`, `Basic realm="signpost-smp", charset="UTF-8"`}
	}
	if code == http.StatusMethodNotAllowed {
		w.Header()["Allow"] = hdrAllowWrite
	}
	wa.h.fail(w, code, msg)
}

// write performs one management request and returns the status and the message to answer with.
func (wa *writeAPI) write(w http.ResponseWriter, r *http.Request, route *string) (int, string) {
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return http.StatusMethodNotAllowed, "method " + r.Method + " is not allowed here; use GET, HEAD, PUT or DELETE"
	}
	raw := requestPath(r)
	t, code, msg := wa.parsePath(raw)
	if t != nil {
		*route = t.route
	}
	// Credentials first: an anonymous client learns nothing about paths or bodies.
	by, err := wa.s.authenticate(r.Header.Get("Authorization"), wa.cache)
	if err != nil {
		return wa.status(err, r)
	}
	if code != 0 {
		return code, msg
	}
	ctx := r.Context()
	if r.Method == http.MethodDelete {
		switch {
		case t.route == wrGroup:
			err = wa.s.RemoveServiceGroup(ctx, t.p, by)
			msg = "deleted service group " + t.p.String() + " and its service metadata"
		case t.allMeta:
			var n int
			n, err = wa.s.RemoveServiceMetadata(ctx, t.p, identifier.ID{}, by)
			msg = "deleted " + strconv.Itoa(n) + " service metadata of " + t.p.String()
		default:
			_, err = wa.s.RemoveServiceMetadata(ctx, t.p, t.d, by)
			msg = "deleted service metadata " + t.d.String() + " of " + t.p.String()
		}
		if err != nil {
			return wa.status(err, r)
		}
		wa.log.Info("smp write", logging.Audit, "op", "delete", "user", by.User, "path", raw)
		return http.StatusOK, msg
	}
	if t.allMeta {
		return http.StatusMethodNotAllowed, "PUT needs a document type: /{participant}/services/{document type}"
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "text/xml" && mt != "application/xml") {
			return http.StatusUnsupportedMediaType, "Content-Type " + strconv.Quote(ct) + " is not accepted; send text/xml or application/xml"
		}
	}
	if r.ContentLength > wa.o.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, "the body is larger than " + strconv.FormatInt(wa.o.MaxBodyBytes, 10) + " bytes (write.max_body_bytes)"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wa.o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, "the body is larger than " + strconv.FormatInt(wa.o.MaxBodyBytes, 10) + " bytes (write.max_body_bytes)"
		}
		return http.StatusBadRequest, "could not read the body: " + err.Error()
	}
	created := false
	var warns []string
	if t.route == wrGroup {
		sg, err := DecodeServiceGroup(body, wa.s.policy)
		if err != nil {
			return wa.status(err, r)
		}
		if sg.Participant != t.p {
			return http.StatusBadRequest, "ParticipantIdentifier: " + sg.Participant.String() + " in the body differs from " + t.p.String() + " in the URL"
		}
		var o GroupWrite
		q := r.URL.Query()
		if v := q.Get("create-in-sml"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return http.StatusBadRequest, "create-in-sml: " + strconv.Quote(v) + " is not true or false"
			}
			o.InSML = &b
		}
		if v := r.Header.Get("ServiceGroup-Owner"); v != "" {
			o.Owner = &v
		}
		created, err = wa.s.WriteServiceGroup(r.Context(), sg, by, o)
		if err != nil {
			return wa.status(err, r)
		}
		msg = "service group " + t.p.String()
	} else {
		sm, err := DecodeServiceMetadata(body, wa.s.policy)
		if err != nil {
			return wa.status(err, r)
		}
		if sm.Redirect != nil && sm.Participant.IsZero() && sm.DocumentType.IsZero() {
			sm.Participant, sm.DocumentType = t.p, t.d
		}
		if sm.Participant != t.p {
			return http.StatusBadRequest, "ParticipantIdentifier: " + sm.Participant.String() + " in the body differs from " + t.p.String() + " in the URL"
		}
		if sm.DocumentType != t.d {
			return http.StatusBadRequest, "DocumentIdentifier: " + sm.DocumentType.String() + " in the body differs from " + t.d.String() + " in the URL"
		}
		if warns, err = CheckPublishable(&sm, wa.s.now(), wa.o.ExpiredCertificates); err != nil {
			return wa.status(err, r)
		}
		created, err = wa.s.WriteServiceMetadata(r.Context(), sm, by)
		if err != nil {
			return wa.status(err, r)
		}
		msg = "service metadata " + t.d.String() + " of " + t.p.String()
	}
	for _, wn := range warns {
		w.Header().Add("Warning", `299 signpost "`+strings.ReplaceAll(wn, `"`, `'`)+`"`)
		wa.log.Warn("smp write accepted with a warning", "user", by.User, "path", raw, "warning", wn)
	}
	wa.log.Info("smp write", logging.Audit, "op", "put", "user", by.User, "path", raw, "created", created)
	if created {
		return http.StatusCreated, "created " + msg
	}
	return http.StatusOK, "stored " + msg
}

// status translates an error of this package into a status and a message for the client; internal errors are
// logged and not detailed.
func (wa *writeAPI) status(err error, r *http.Request) (int, string) {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindInternal {
		wa.log.Error("smp write failed", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
		return http.StatusInternalServerError, "internal error; the SMP's log has the details"
	}
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	switch e.Kind {
	case KindInvalid:
		return http.StatusBadRequest, msg
	case KindNotFound:
		return http.StatusNotFound, msg
	case KindForbidden:
		return http.StatusForbidden, msg
	case KindUnauthorized:
		return http.StatusUnauthorized, msg
	}
	return http.StatusInternalServerError, "internal error"
}

// serveAPI is the JSON admin API, administrators only: GET /api/v1/service-groups?limit=N&after=PARTICIPANT, and
// the tokens of a running server (GET and POST /api/v1/tokens, DELETE /api/v1/tokens/ID).
func (wa *writeAPI) serveAPI(w http.ResponseWriter, r *http.Request) {
	code, msg, v := wa.api(r)
	route := wrAPI
	if strings.Contains(r.URL.EscapedPath(), PathAPI+"tokens") {
		route = wrAPITokens
	}
	wa.writes.WithLabelValues(route, strconv.Itoa(code)).Inc()
	switch code {
	case http.StatusOK, http.StatusCreated:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return
	case http.StatusUnauthorized:
		w.Header()["Www-Authenticate"] = []string{`Bearer realm="signpost-smp"`, `Basic realm="signpost-smp", charset="UTF-8"`}
	case http.StatusMethodNotAllowed:
		w.Header()["Allow"] = []string{"GET"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	User  string `json:"user"`
	Admin bool   `json:"admin,omitempty"`
}

// NewToken is the answer of POST /api/v1/tokens: the token, shown once.
type NewToken struct {
	Token string `json:"token"`
	TokenInfo
}

// tokens serves the token API of a running server: GET lists, POST creates, DELETE /ID revokes (at once).
func (wa *writeAPI) tokens(r *http.Request, id string, by Actor) (int, string, any) {
	ctx := r.Context()
	switch {
	case id == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		ts, err := wa.s.Tokens(ctx)
		if err != nil {
			code, msg := wa.status(err, r)
			return code, msg, nil
		}
		if ts == nil {
			ts = []TokenInfo{}
		}
		return http.StatusOK, "", map[string]any{"tokens": ts}
	case id == "" && r.Method == http.MethodPost:
		var req TokenRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return http.StatusBadRequest, "body: not a token request {\"user\": NAME, \"admin\": BOOL}: " + err.Error(), nil
		}
		tok, ti, err := wa.s.CreateToken(ctx, req.User, req.Admin)
		if err != nil {
			code, msg := wa.status(err, r)
			return code, msg, nil
		}
		wa.log.Info("smp token created", logging.Audit, "by", by.User, "user", ti.User, "id", ti.ID, "admin", req.Admin)
		return http.StatusCreated, "", NewToken{Token: tok, TokenInfo: ti}
	case id != "" && !strings.Contains(id, "/") && r.Method == http.MethodDelete:
		if err := wa.s.RevokeToken(ctx, id); err != nil {
			code, msg := wa.status(err, r)
			return code, msg, nil
		}
		wa.log.Info("smp token revoked", logging.Audit, "by", by.User, "id", id)
		return http.StatusOK, "", map[string]string{"revoked": id}
	}
	return http.StatusMethodNotAllowed, "use GET or POST " + PathAPI + "tokens, DELETE " + PathAPI + "tokens/ID", nil
}

// ServiceGroupPage is the answer of GET /api/v1/service-groups.
type ServiceGroupPage struct {
	ServiceGroups []GroupSummary `json:"service_groups"`
	// Next is the after= value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func (wa *writeAPI) api(r *http.Request) (int, string, any) {
	p := r.URL.EscapedPath()
	if pre := wa.h.prefix; pre != "" && strings.HasPrefix(p, pre+"/") {
		p = p[len(pre):]
	}
	by, err := wa.s.authenticate(r.Header.Get("Authorization"), wa.cache)
	if err != nil {
		code, msg := wa.status(err, r)
		return code, msg, nil
	}
	if !by.Admin {
		return http.StatusForbidden, "the admin API is for administrators", nil
	}
	switch {
	case p == PathAPI+"tokens" || strings.HasPrefix(p, PathAPI+"tokens/"):
		return wa.tokens(r, strings.TrimPrefix(strings.TrimPrefix(p, PathAPI+"tokens"), "/"), by)
	case p != PathAPI+"service-groups":
		return http.StatusNotFound, "not found: GET " + PathAPI + "service-groups?limit=N&after=PARTICIPANT, GET or POST " + PathAPI + "tokens, DELETE " + PathAPI + "tokens/ID", nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return http.StatusMethodNotAllowed, "use GET", nil
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return http.StatusBadRequest, "limit: " + strconv.Quote(v) + " is not a number from 1 to 1000", nil
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" {
		id, err := wa.s.policy.Parse(identifier.Participant, after)
		if err != nil {
			return http.StatusBadRequest, "after: " + err.Error(), nil
		}
		after = id.String()
	}
	groups, next, err := wa.s.ListServiceGroups(r.Context(), after, limit)
	if err != nil {
		code, msg := wa.status(err, r)
		return code, msg, nil
	}
	return http.StatusOK, "", ServiceGroupPage{ServiceGroups: groups, Next: next}
}
