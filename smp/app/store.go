package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/smp/pgrepo"
	"github.com/signpost-project/signpost/store"
)

// ErrBackupPostgres refuses `signpost smp backup` and GET /api/v1/backup on a PostgreSQL store.
var ErrBackupPostgres = errors.New("the SMP's store is PostgreSQL (store.backend: postgres): back it up with " +
	"pg_dump (e.g. pg_dump --schema=smp), signpost's backup and restore are for the bbolt store")

// openedStore is the SMP's store of either backend.
type openedStore struct {
	bolt     *store.DB
	pg       *pgstore.DB
	repo     smp.Repository
	sessions console.Store
}

// openStore opens the store of cfg: the bbolt file, or the PostgreSQL database (migrating the schema smp).
func openStore(ctx context.Context, cfg *conf.Store, log *slog.Logger) (*openedStore, error) {
	if cfg.Postgres() {
		db, err := pgrepo.Open(ctx, cfg.DSN, log)
		if err != nil {
			return nil, fmt.Errorf("store (postgres): %w", err)
		}
		return &openedStore{pg: db, repo: pgrepo.New(db), sessions: pgrepo.Sessions{DB: db}}, nil
	}
	db, err := store.Open(cfg.Path, store.Options{LockTimeout: cfg.LockTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	return &openedStore{bolt: db, repo: boltrepo.New(db), sessions: boltrepo.Sessions{DB: db}}, nil
}

// Close closes the store.
func (s *openedStore) Close() error {
	if s.pg != nil {
		s.pg.Close()
		return nil
	}
	return s.bolt.Close()
}

// check is the readiness check "smp-store": a read transaction of bbolt, a ping of PostgreSQL.
func (s *openedStore) check(ctx context.Context) error {
	if s.pg != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return s.pg.Ping(ctx)
	}
	return s.bolt.View(func(*store.Tx) error { return nil })
}
