// Package httpapi is the SMP's HTTP API on gin: the protocol on the public port (GET and HEAD of service groups
// and service metadata in every flavour, and the phoss-compatible PUT and DELETE on the same paths), and the JSON
// admin and token API on the admin listener. Routes are declared once in routes.go; authentication, metrics,
// request logging and recovery are middleware (middleware.go); every error becomes a status in one place
// (errors.go). Routing is on the request's escaped path, so every identifier segment is decoded exactly once.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// Publisher is what the API calls of the SMP (implemented by *smp.Service).
type Publisher interface {
	Document(ctx context.Context, r smp.DocRef) (*smp.Doc, error)
	Serves(f smp.Flavour) bool
	RootFlavour() smp.Flavour
	Policy() identifier.Policy
	PublicURL() string
	Now() time.Time
	PutServiceGroup(ctx context.Context, by smp.Principal, sg smp.ServiceGroup, o smp.GroupWrite) (bool, error)
	PutServiceMetadata(ctx context.Context, by smp.Principal, sm smp.ServiceMetadata) (bool, error)
	DeleteServiceGroup(ctx context.Context, by smp.Principal, p identifier.ID) error
	DeleteServiceMetadata(ctx context.Context, by smp.Principal, p, d identifier.ID) (int, error)
	ListServiceGroups(ctx context.Context, after string, limit int) ([]smp.GroupSummary, string, error)
	Status(ctx context.Context) (smp.Status, error)
	Bulk(ctx context.Context, by smp.Principal, op smp.BulkOp, obs smp.BulkObserver) (smp.BulkResult, error)
}

// Credentials is what the API calls of the users and tokens (implemented by *auth.Service).
type Credentials interface {
	Authenticate(ctx context.Context, authorization string) (smp.Principal, error)
	CreateToken(ctx context.Context, user string, admin bool) (string, smp.TokenInfo, error)
	Tokens(ctx context.Context) ([]smp.TokenInfo, error)
	RevokeToken(ctx context.Context, id string) error
	Users(ctx context.Context) ([]auth.UserInfo, error)
	SetUser(ctx context.Context, name string, c auth.UserChange) error
	DeleteUser(ctx context.Context, name string) error
}

// Limiter counts failed authentications per client address (implemented by internal/ratelimit). Only refused
// credentials are charged, so a client sending many valid requests at once is never refused.
type Limiter interface {
	// Blocked reports whether key has used up its failures, and for how long, without charging.
	Blocked(key string) (wait time.Duration, blocked bool)
	// Attempt charges one (failed) attempt to key.
	Attempt(key string) (wait time.Duration, ok bool)
}

// Options configure the API.
type Options struct {
	SMP   Publisher
	Creds Credentials
	// Write enables PUT and DELETE on the public port.
	Write bool
	// MaxBodyBytes limits a PUT body; more is answered 413. Default 4 MiB.
	MaxBodyBytes int64
	// ExpiredCertificates: refuse (default) or accept with a warning an endpoint certificate that has expired.
	ExpiredCertificates smp.ExpiredCertificates
	// WriteTimeout bounds a PUT or DELETE, signing included: past it the write stops and nothing is stored
	// (default 30 s; the server's write timeout).
	WriteTimeout time.Duration
	// Limits bound the namespace declarations of a body.
	Limits xmlbind.Limits
	// Limiter, when set, refuses clients with too many failed authentications (429).
	Limiter Limiter
	// ClientAddr returns the client's address for the limiter and the log (default: the connection's peer).
	ClientAddr func(*http.Request) string
	// Log receives request logs, audit lines and internal errors. Default: discard.
	Log *slog.Logger
	// Registerer takes the metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// SML, when set, is the SMP's registration in its SML (admin API: /api/v1/sml/...); nil: none configured.
	SML SML
	// Registrations are the participants' SML registrations (admin API); nil: the admin API has no SML routes.
	Registrations Registrations
	// Backup writes a consistent copy of the store (store.DB.Backup) for GET /api/v1/backup; nil: refused.
	Backup func(io.Writer) (int64, error)
	// BackupRefused, when set, is why this server makes no backups (a PostgreSQL store: pg_dump's job): GET
	// /api/v1/backup answers 501 Not Implemented with it.
	BackupRefused string
	// Rollover, when set, serves the key rollover and migration routes of the admin API (rekey.go).
	Rollover Rollover
}

type api struct {
	o      Options
	svc    Publisher
	prefix string // the public URL's escaped path, without a trailing slash
	paths  paths
	routes map[string]string // path pattern -> metric label (nameRoutes)
	m      *metrics
	log    *slog.Logger
}

func newAPI(o Options) *api {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.ClientAddr == nil {
		o.ClientAddr = peerAddr
	}
	a := &api{o: o, svc: o.SMP, log: o.Log, paths: paths{m: map[string]*target{}, max: 100000, maxBytes: 16 << 20}}
	a.prefix = urlPathPrefix(o.SMP.PublicURL())
	a.m = newMetrics(o.Registerer)
	return a
}

// peerAddr is the connection's peer address without the port.
func peerAddr(r *http.Request) string {
	h := r.RemoteAddr
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.Trim(h, "[]")
}
