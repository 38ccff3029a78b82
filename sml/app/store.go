package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/pgrepo"
	"github.com/signpost-project/signpost/store"
)

// Store is the SML's store as the configuration names it (store.backend): the embedded bbolt file, or a
// PostgreSQL database that several nodes may share. The server and the commands that work on a stopped server
// open it the same way, with OpenStore.
type Store struct {
	Repo    sml.Repo
	Console sml.ConsoleStore
	// Feed tells of the commits of other nodes on a shared database; nil for the embedded store.
	Feed sml.ChangeFeed
	// Backup writes a consistent copy of the embedded store; on PostgreSQL it refuses and points to pg_dump.
	Backup func(io.Writer) (int64, error)
	// Ping checks that the store answers (the readiness check of the ops listener).
	Ping func(context.Context) error
	// Where names the store in messages and logs (the file, or the database without its password).
	Where string
	// Metrics are the store's own metrics (PostgreSQL's connection pool); nil for the embedded store.
	Metrics prometheus.Collector
	// Bolt is the embedded store (nil on PostgreSQL).
	Bolt  *store.DB
	close func()
}

// Close closes the store.
func (s *Store) Close() {
	if s != nil && s.close != nil {
		s.close()
		s.close = nil
	}
}

// openTimeout bounds connecting to PostgreSQL and migrating its schema at start.
const openTimeout = time.Minute

// OpenStore opens the store of cfg. On PostgreSQL it applies the schema's migrations first, and refuses a schema
// that a newer signpost migrated (pgstore.ErrNewerSchema); a database it cannot reach is pgstore.ErrUnavailable.
func OpenStore(ctx context.Context, cfg *conf.SML, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = logging.Discard()
	}
	if cfg.Store.Postgres() {
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		defer cancel()
		r, err := pgrepo.Open(octx, cfg.Store.DSN, pgrepo.Options{Log: log})
		if err != nil {
			return nil, fmt.Errorf("sml store (store.backend postgres, store.dsn in %s): %w", cfg.File(), err)
		}
		where := "PostgreSQL " + redactDSN(cfg.Store.DSN)
		return &Store{Repo: r, Console: r.Console(), Feed: r, Ping: r.Ping, Where: where, Metrics: r.DB().Collector(),
			Backup: func(io.Writer) (int64, error) {
				return 0, &sml.Error{Kind: sml.KindBadRequest, Msg: "the SML's store is a PostgreSQL database (store.backend " +
					"postgres): back it up with PostgreSQL's tools, e.g. pg_dump --schema=sml; signpost sml backup copies " +
					"the embedded store only"}
			},
			close: r.Close}, nil
	}
	db, err := store.Open(cfg.Store.Path, store.Options{LockTimeout: cfg.Store.LockTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	return &Store{Repo: boltrepo.New(db), Console: boltrepo.NewConsoleStore(db), Backup: db.Backup, Bolt: db,
		Where: cfg.Store.Path, close: func() { _ = db.Close() }}, nil
}

// redactDSN is the DSN without its password, for logs.
func redactDSN(dsn string) string {
	c, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(store.dsn)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
