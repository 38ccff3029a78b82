// Package pgstore is what the PostgreSQL backends of the SML (sml/pgrepo) and the SMP (smp/pgrepo) share: a
// connection pool whose sessions work in the backend's own schema, versioned SQL migrations embedded in the
// binary and applied with tern (pgx's migration tool) under its advisory lock, the refusal of a schema newer than
// the binary, transactions that report an unreachable database as ErrUnavailable, LISTEN/NOTIFY with reconnection
// (pgxlisten), and a leader lock for the jobs only one node may run.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/signpost-project/signpost/internal/logging"
)

// ErrUnavailable wraps every failure to reach the database (refused or lost connection, server shutting down or
// starting): the operation did not happen, or its transaction was rolled back, and may be retried later. Edges
// translate it into "try again" answers (HTTP 503 with Retry-After, SOAP InternalErrorFault).
var ErrUnavailable = errors.New("the database is unavailable")

// ErrNewerSchema is returned by Open for a database whose schema was migrated by a newer signpost.
var ErrNewerSchema = errors.New("the database schema is newer than this signpost")

// DB is an open PostgreSQL backend: a pool whose connections use Schema as their search_path.
type DB struct {
	Pool   *pgxpool.Pool
	Schema string
	// Version is the schema version after Open's migrations.
	Version int
	cfg     *pgxpool.Config
	log     *slog.Logger
}

// Options tune Open.
type Options struct {
	Log *slog.Logger
	// MaxConns bounds the pool (default: pgxpool's, max(4, CPUs)).
	MaxConns int32
}

// Open connects to dsn, creates schema if needed, applies the migrations in migrations (files NNN_name.sql in
// tern's format) that the database lacks, and refuses (ErrNewerSchema) a schema migrated further than migrations
// go. Every connection of the pool has search_path set to schema.
func Open(ctx context.Context, dsn, schema string, migrations fs.FS, o Options) (*DB, error) {
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// libpq's default is to wait for ever: a database host that does not answer at all would hold every
		// request that needs a new connection. connect_timeout in the DSN overrides this.
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.ConnConfig.DialFunc = deadPeerDialer()
	for k, v := range serverKeepAlive {
		if _, set := cfg.ConnConfig.RuntimeParams[k]; !set {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "signpost-" + schema
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	db := &DB{Schema: schema, cfg: cfg, log: log}
	v, err := db.migrate(ctx, migrations)
	if err != nil {
		return nil, err
	}
	db.Version = v
	if db.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context, migrations fs.FS) (int, error) {
	conn, err := db.Connect(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: connect to %s: %w", db.cfg.ConnConfig.Host, unavailable(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Two nodes starting together: one creates the schema, the other waits for it.
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('signpost schema ' || $1))", db.Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.Schema}.Sanitize())
		return err
	}); err != nil {
		return 0, fmt.Errorf("postgres: create schema %s: %w", db.Schema, unavailable(err))
	}
	m, err := migrate.NewMigrator(ctx, conn, pgx.Identifier{db.Schema, "schema_version"}.Sanitize())
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version table: %w", unavailable(err))
	}
	if err := m.LoadMigrations(migrations); err != nil {
		return 0, fmt.Errorf("postgres: load migrations: %w", err)
	}
	known := len(m.Migrations)
	cur, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", unavailable(err))
	}
	if int(cur) > known {
		return 0, fmt.Errorf("%w: schema %s is at version %d, this signpost knows versions up to %d; run the newer "+
			"signpost (a database is never migrated down)", ErrNewerSchema, db.Schema, cur, known)
	}
	if int(cur) < known {
		m.OnStart = func(seq int32, name, _, _ string) {
			db.log.Info("postgres: migrating schema", "schema", db.Schema, "version", seq, "name", name)
		}
		if err := m.Migrate(ctx); err != nil {
			return 0, fmt.Errorf("postgres: migrate schema %s from version %d: %w", db.Schema, cur, unavailable(err))
		}
	}
	return known, nil
}

// Connect opens a connection of its own (not from the pool) with the pool's settings: for LISTEN and leader locks.
func (db *DB) Connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, db.cfg.ConnConfig.Copy())
}

// Close closes the pool.
func (db *DB) Close() {
	if db.Pool != nil {
		db.Pool.Close()
	}
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return db.lost(err)
	}
	return nil
}

// Update runs fn in one read-write transaction and commits it. A failure to reach the database is ErrUnavailable.
func (db *DB) Update(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{}, fn)
}

// View runs fn in a read-only transaction on one snapshot (REPEATABLE READ).
func (db *DB) View(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, db.Pool, opts, fn)
	return db.lost(err)
}

// lost wraps a failure to reach the database with ErrUnavailable and then empties the pool: after a restart of
// PostgreSQL every idle connection of the pool is dead, and each would fail one more request.
func (db *DB) lost(err error) error {
	err = unavailable(err)
	if errors.Is(err, ErrUnavailable) {
		db.Pool.Reset()
	}
	return err
}

// unavailable wraps err with ErrUnavailable when it says the database could not be reached or went away.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !IsConnectionError(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// IsConnectionError reports whether err is a failure to reach the database rather than an answer of it: a refused,
// reset or timed-out connection, or a server that is shutting down, starting up or refusing connections.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, crash, starting up
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ce), errors.As(err, &oe), errors.As(err, &ne):
		return true
	case pgconn.Timeout(err) || pgconn.SafeToRetry(err):
		return true
	}
	// A connection the server closed mid-session: pgx reports it as a closed conn or an unexpected EOF.
	msg := err.Error()
	for _, s := range []string{"conn closed", "unexpected EOF", "connection reset", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// DefaultConnectTimeout bounds opening a connection when the DSN has no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Retry is how long clients are told to wait (Retry-After) when the database is unavailable.
const Retry = 5 * time.Second
