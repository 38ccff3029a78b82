package pgrepo_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/identifier"
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

// TestContractSerializableDefault: the contract holds on a database whose default isolation an operator set to
// SERIALIZABLE (the writers still see each other's commits: no lost update, no serialization failure).
func TestContractSerializableDefault(t *testing.T) {
	c := pgtest.Start(t)
	repotest.Run(t, func(t *testing.T) smp.Repository {
		dsn := c.NewDatabase(t)
		setDefaultIsolation(t, dsn, "serializable")
		return pgrepo.New(open(t, dsn))
	})
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

// TestTwoNodesWritersSerialize: two repositories on one database (two nodes, each with its own pool) run
// read-check-write transactions on one group concurrently: no update is lost, also when the database's default
// isolation is SERIALIZABLE (a writer's snapshot must not predate the lock).
func TestTwoNodesWritersSerialize(t *testing.T) {
	c := pgtest.Start(t)
	ctx := context.Background()
	for _, isolation := range []string{"", "serializable", "repeatable read"} {
		t.Run("default "+isolation, func(t *testing.T) {
			dsn := c.NewDatabase(t)
			if isolation != "" {
				setDefaultIsolation(t, dsn, isolation)
			}
			nodes := []*pgrepo.Repo{pgrepo.New(open(t, dsn)), pgrepo.New(open(t, dsn))}
			p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:two-nodes"}
			const writers, rounds = 8, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					r := nodes[w%2]
					for range rounds {
						if err := r.Update(ctx, func(tx smp.WriteTx) error {
							_, v, _, err := tx.Group(p)
							if err != nil {
								return err
							}
							return tx.PutGroup(smp.ServiceGroup{Participant: p}, v+1)
						}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var v uint64
			if err := nodes[1].View(ctx, func(tx smp.ReadTx) error {
				var err error
				_, v, _, err = tx.Group(p)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if v != writers*rounds {
				t.Fatalf("version %d after %d increments on two nodes: updates were lost", v, writers*rounds)
			}
		})
	}
}

// setDefaultIsolation sets the default transaction isolation of the database of dsn, as an operator may.
func setDefaultIsolation(t *testing.T, dsn, level string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+
		" SET default_transaction_isolation = '"+level+"'"); err != nil {
		t.Fatal(err)
	}
}
