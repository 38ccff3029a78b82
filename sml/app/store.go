package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/pgrepo"
	"github.com/signpost-project/signpost/store"
)

// appStore is the SML's store, of either backend (store.backend).
type appStore struct {
	repo    sml.Repo
	console sml.ConsoleStore
	// backup writes a copy of the store (admin API); nil with PostgreSQL, whose backups are the database's own.
	backup func(w io.Writer) (int64, error)
	// feed reports the changes other nodes commit (PostgreSQL); nil with bbolt, which one process owns.
	feed sml.ChangeFeed
	// ping checks that the database answers (readiness); nil with bbolt.
	ping  func(ctx context.Context) error
	close func() error
}

// openTimeout bounds connecting to PostgreSQL and migrating its schema at start.
const openTimeout = 30 * time.Second

func openStore(cfg *conf.SML, log *slog.Logger) (*appStore, error) {
	if cfg.Store.Postgres() {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		r, err := pgrepo.Open(ctx, cfg.Store.DSN, pgrepo.Options{Log: log})
		if err != nil {
			return nil, fmt.Errorf("store (backend postgres): %w", err)
		}
		return &appStore{repo: r, console: r.Console(), feed: r, ping: r.Ping, close: func() error { r.Close(); return nil }}, nil
	}
	db, err := store.Open(cfg.Store.Path, store.Options{LockTimeout: cfg.Store.LockTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	return &appStore{repo: boltrepo.New(db), console: boltrepo.ConsoleStore{DB: db}, backup: db.Backup, close: db.Close}, nil
}

// newFollower is the server that runs the Service's follower (sml.Service.Follow) on feed from Start until
// Shutdown.
func newFollower(svc *sml.Service, feed sml.ChangeFeed) lifecycle.Server {
	var (
		mu     sync.Mutex
		cancel context.CancelFunc
		done   chan struct{}
	)
	return lifecycle.Func{N: "sml follower",
		Up: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			ctx, c := context.WithCancel(context.Background())
			cancel, done = c, make(chan struct{})
			go func(done chan struct{}) {
				defer close(done)
				svc.Follow(ctx, feed)
			}(done)
			return nil
		},
		Down: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if cancel == nil {
				return nil
			}
			cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}
