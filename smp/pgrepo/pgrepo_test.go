package pgrepo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/pgrepo"
	"github.com/signpost-project/signpost/smp/repotest"
)

func open(t *testing.T, dsn string) *pgstore.DB {
	t.Helper()
	db, err := pgrepo.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// TestContract runs the repository contract (smp/repotest) on PostgreSQL, a new database per test.
func TestContract(t *testing.T) {
	c := pgtest.Start(t)
	repotest.Run(t, func(t *testing.T) smp.Repository { return pgrepo.New(open(t, c.NewDatabase(t))) })
}

func TestSessionsContract(t *testing.T) {
	repotest.RunSessions(t, func(t *testing.T) console.Store { return pgrepo.Sessions{DB: open(t, pgtest.DSN(t))} })
}

// TestUnavailable: with the database down, reads and writes fail with pgstore.ErrUnavailable, and work again
// once it is back, without reopening.
func TestUnavailable(t *testing.T) {
	c := pgtest.Start(t)
	r := pgrepo.New(open(t, c.NewDatabase(t)))
	ctx := context.Background()
	write := func() error {
		return r.Update(ctx, func(tx smp.WriteTx) error { return tx.PutSetting("x", []byte("1")) })
	}
	read := func() error {
		return r.View(ctx, func(tx smp.ReadTx) error { _, err := tx.Setting("x"); return err })
	}
	if err := write(); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := write(); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Fatalf("write with the database down: %v, want ErrUnavailable", err)
	}
	if err := read(); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Fatalf("read with the database down: %v, want ErrUnavailable", err)
	}
	s := pgrepo.Sessions{DB: r.DB}
	if _, _, err := s.GetSession(ctx, "k"); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Fatalf("session with the database down: %v, want ErrUnavailable", err)
	}
	c.Restart()
	if err := write(); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
	if err := read(); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
}

// TestNewerSchemaRefused: a database whose schema smp a newer signpost migrated further is refused at open.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db := open(t, dsn)
	if err := db.Update(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE schema_version SET version = version + 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := pgrepo.Open(ctx, dsn, nil); !errors.Is(err, pgstore.ErrNewerSchema) {
		t.Fatalf("open of a newer schema: %v, want ErrNewerSchema", err)
	}
}
