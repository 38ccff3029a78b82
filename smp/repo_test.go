package smp_test

import (
	"context"
	"os"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/smp/pgrepo"
	"github.com/signpost-project/signpost/store/storetest"
)

// testRepo is the repository of a test's service: bbolt in a temporary directory, or, with
// SIGNPOST_TEST_SMP_STORE=postgres, a new database on a throwaway PostgreSQL cluster, so that the whole suite of
// the service can run on either backend (`SIGNPOST_TEST_SMP_STORE=postgres go test ./smp`).
func testRepo(t testing.TB) smp.Repository {
	t.Helper()
	switch b := os.Getenv("SIGNPOST_TEST_SMP_STORE"); b {
	case "", "bolt":
		return boltrepo.New(storetest.Open(t))
	case "postgres":
		db, err := pgrepo.Open(context.Background(), pgtest.DSN(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		return pgrepo.New(db)
	default:
		t.Fatalf("SIGNPOST_TEST_SMP_STORE=%q: want bolt or postgres", b)
		return nil
	}
}
