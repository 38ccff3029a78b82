package sml

import (
	"testing"

	"github.com/signpost-project/signpost/store"
)

// The in-package tests cannot import sml/boltrepo or sml/pgrepo, which import sml: the external test package
// (repo_ext_test.go) sets these hooks.
var (
	// boltRepo opens the bbolt repository on db, for the tests of bbolt's own behaviour (upgrades, kill -9).
	boltRepo func(*store.DB) Repo
	// testRepo is the repository the service tests run on: bbolt on db, or with SIGNPOST_TEST_SML_STORE=postgres
	// a PostgreSQL database standing for db (the same one each time the test opens db again).
	testRepo func(testing.TB, *store.DB) Repo
	// onPostgres: testRepo gives PostgreSQL repositories.
	onPostgres bool
)

// boltOnly skips a test (or the rest of it) that checks something only bbolt has, when the tests run on
// PostgreSQL.
func boltOnly(t testing.TB, what string) {
	t.Helper()
	if onPostgres {
		t.Skip("bbolt only: " + what)
	}
}

// SetReposForTest sets boltRepo and testRepo (exported to the external test package only: this is a _test.go file).
func SetReposForTest(bolt func(*store.DB) Repo, test func(testing.TB, *store.DB) Repo, postgres bool) {
	boltRepo, testRepo, onPostgres = bolt, test, postgres
}
