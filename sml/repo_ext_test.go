package sml_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/pgrepo"
	"github.com/signpost-project/signpost/store"
)

func init() {
	bolt := func(db *store.DB) sml.Repo { return boltrepo.New(db) }
	switch b := os.Getenv("SIGNPOST_TEST_SML_STORE"); b {
	case "", "bolt":
		sml.SetReposForTest(bolt, func(_ testing.TB, db *store.DB) sml.Repo { return bolt(db) }, false)
	case "postgres":
		sml.SetReposForTest(bolt, pgFor, true)
	default:
		panic("SIGNPOST_TEST_SML_STORE=" + b + ": want bolt or postgres")
	}
}

var (
	pgMu  sync.Mutex
	pgDSN = map[*store.DB]string{} // the PostgreSQL database standing for each bbolt store a test opened
)

// pgFor returns a repository on the PostgreSQL database that stands for db: a new one (on a cluster of the test's
// own) the first time, the same one when the test opens db again.
func pgFor(t testing.TB, db *store.DB) sml.Repo {
	t.Helper()
	pgMu.Lock()
	dsn, ok := pgDSN[db]
	if !ok {
		dsn = pgtest.DSN(t)
		pgDSN[db] = dsn
	}
	pgMu.Unlock()
	r, err := pgrepo.Open(context.Background(), dsn, pgrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}
