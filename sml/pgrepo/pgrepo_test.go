package pgrepo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/repotest"
)

var dbSeq atomic.Int64

// icuDatabase creates a database whose default collation is a natural-language one (ICU, English), where "a" < "B"
// and "ä" sorts beside "a": the repository must order bytewise all the same (COLLATE "C"). Where ICU is missing
// it falls back to the cluster's default database.
func icuDatabase(t testing.TB, c *pgtest.Cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("icu%d", dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en'"); err != nil {
		t.Logf("no ICU database (%v): the contract runs on the default collation", err)
		return c.NewDatabase(t)
	}
	var less bool
	if err := conn.QueryRow(ctx, "SELECT 'a' < 'B' COLLATE \"und-x-icu\"").Scan(&less); err != nil || !less {
		t.Logf("ICU collation check: %v %v", less, err)
	}
	return c.DSN(name)
}

func openRepo(t testing.TB, dsn string) *Repo {
	t.Helper()
	r, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestContract(t *testing.T) {
	c := pgtest.Start(t)
	repotest.Run(t, func(t *testing.T) sml.Repo { return openRepo(t, icuDatabase(t, c)) })
}
