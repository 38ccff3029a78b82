package pgrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/pgstore"
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

// The schema is migrated at the first Open and left as it is by the next; a schema that a newer signpost migrated
// further is refused, with both versions in the message.
func TestSchemaVersion(t *testing.T) {
	dsn := pgtest.DSN(t)
	r := openRepo(t, dsn)
	if r.DB().Version < 1 || r.DB().Schema != "sml" {
		t.Fatalf("schema %s version %d", r.DB().Schema, r.DB().Version)
	}
	known := r.DB().Version
	openRepo(t, dsn)
	if _, err := r.DB().Pool.Exec(context.Background(), "UPDATE sml.schema_version SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn, Options{})
	if !errors.Is(err, pgstore.ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprint(known+1)) {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestConsoleContract(t *testing.T) {
	c := pgtest.Start(t)
	repotest.RunConsole(t, func(t *testing.T) sml.ConsoleStore { return openRepo(t, icuDatabase(t, c)).Console() })
}
