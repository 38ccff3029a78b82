package pgstore

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/pgtest"
)

func TestMigrateRefuseNewerAndUnavailable(t *testing.T) {
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	ctx := context.Background()
	db, err := Open(ctx, dsn, "demo", os.DirFS("testdata/m2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db.Version != 2 {
		t.Fatalf("version %d, want 2", db.Version)
	}
	if err := db.Update(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO things (name, n) VALUES ('a', 1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Opening again is a no-op; an older binary (one migration) is refused with the versions in the message.
	db, err = Open(ctx, dsn, "demo", os.DirFS("testdata/m2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dsn, "demo", os.DirFS("testdata/m1"), Options{}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older binary: %v, want ErrNewerSchema", err)
	}
	// The table lives in its schema: another schema on the same database does not see it.
	other, err := Open(ctx, dsn, "other", os.DirFS("testdata/m1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := other.View(ctx, func(tx pgx.Tx) error { return tx.QueryRow(ctx, "SELECT count(*) FROM things").Scan(&n) }); err != nil || n != 0 {
		t.Fatalf("other schema sees %d things (%v)", n, err)
	}
	other.Close()

	c.Stop()
	err = db.Update(ctx, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, "SELECT 1"); return err })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("stopped database: %v, want ErrUnavailable", err)
	}
	if err := db.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ping: %v", err)
	}
	c.Restart()
	if err := db.View(ctx, func(tx pgx.Tx) error { return tx.QueryRow(ctx, "SELECT n FROM things").Scan(&n) }); err != nil || n != 1 {
		t.Fatalf("after restart: %d, %v", n, err)
	}
	db.Close()
}

// twoNodes opens the schema "demo" twice on a new database of a cluster of the test's own, as two nodes do.
func twoNodes(t *testing.T) (*pgtest.Cluster, *DB, *DB) {
	t.Helper()
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(context.Background(), dsn, "demo", os.DirFS("testdata/m1"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		dbs[i] = db
	}
	return c, dbs[0], dbs[1]
}

func TestListenAndLeader(t *testing.T) {
	c, a, b := twoNodes(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	got := make(chan string, 10)
	connected := make(chan struct{}, 10)
	go b.Listen(ctx, "demo_changes", func(p string) { got <- p }, func() { connected <- struct{}{} })
	wait(t, connected)
	if err := a.Update(ctx, func(tx pgx.Tx) error { return Notify(ctx, tx, "demo_changes", "serial 7") }); err != nil {
		t.Fatal(err)
	}
	if p := waitFor(t, got); p != "serial 7" {
		t.Fatalf("payload %q", p)
	}
	// A rolled-back transaction notifies nobody.
	_ = a.Update(ctx, func(tx pgx.Tx) error {
		_ = Notify(ctx, tx, "demo_changes", "rolled back")
		return errors.New("no")
	})
	if err := a.Update(ctx, func(tx pgx.Tx) error { return Notify(ctx, tx, "demo_changes", "serial 8") }); err != nil {
		t.Fatal(err)
	}
	if p := waitFor(t, got); p != "serial 8" {
		t.Fatalf("payload %q after a rollback, want serial 8", p)
	}

	// One leader at a time; when its node goes, the other takes over.
	actx, acancel := context.WithCancel(ctx)
	la := a.Lead(actx, "job", 100*time.Millisecond)
	eventually(t, la.Held)
	lb := b.Lead(ctx, "job", 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	if lb.Held() {
		t.Fatal("two leaders")
	}
	acancel()
	eventually(t, lb.Held)
	if la.Held() {
		t.Fatal("the stopped leader still holds")
	}

	// The listener reconnects after the database was down, and says so (the caller catches up).
	c.Stop()
	time.Sleep(300 * time.Millisecond)
	c.Restart()
	wait(t, connected)
	eventually(t, lb.Held) // the leader lock is taken again after the restart
	if err := a.Update(ctx, func(tx pgx.Tx) error { return Notify(ctx, tx, "demo_changes", "serial 9") }); err != nil {
		t.Fatal(err)
	}
	if p := waitFor(t, got); p != "serial 9" {
		t.Fatalf("payload %q", p)
	}
}

func wait(t *testing.T, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
}

func waitFor(t *testing.T, c chan string) string {
	t.Helper()
	select {
	case p := <-c:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		return ""
	}
}

func eventually(t *testing.T, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatal("condition not met within 10 s")
}

// A database host that accepts connections and never answers is given up after DefaultConnectTimeout when the
// DSN sets no connect_timeout: Open fails with ErrUnavailable instead of waiting for ever.
func TestSilentHostTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, "postgres://nobody@"+l.Addr().String()+"/none?sslmode=disable", "demo", os.DirFS("testdata/m1"), Options{})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("silent host: %v, want ErrUnavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Open waited %s, until the test's own deadline", time.Since(start))
	}
}

// TestPoolMetrics: the pool's collector counts a connection in use as acquired and, once released, as idle, and
// counts the acquisitions.
func TestPoolMetrics(t *testing.T) {
	_, db, _ := twoNodes(t)
	reg := prometheus.NewRegistry()
	if err := reg.Register(db.Collector()); err != nil {
		t.Fatal(err)
	}
	value := func(name, state string) float64 {
		t.Helper()
		l := map[string]string{"schema": "demo"}
		if state != "" {
			l["state"] = state
		}
		return pgtest.Metric(t, reg, name, l)
	}
	before := value("signpost_postgres_acquires_total", "")
	conn, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v := value("signpost_postgres_connections", "acquired"); v != 1 {
		t.Errorf("acquired connections %v with one in use, want 1", v)
	}
	conn.Release()
	if v := value("signpost_postgres_connections", "acquired"); v != 0 {
		t.Errorf("acquired connections %v after the release, want 0", v)
	}
	if v := value("signpost_postgres_connections", "idle"); v < 1 {
		t.Errorf("idle connections %v after the release, want at least 1", v)
	}
	if v := value("signpost_postgres_acquires_total", ""); v != before+1 {
		t.Errorf("acquires %v, want %v", v, before+1)
	}
	if v := value("signpost_postgres_max_connections", ""); v < 1 {
		t.Errorf("max connections %v", v)
	}
}
