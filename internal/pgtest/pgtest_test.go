package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartStopRestart(t *testing.T) {
	c := Start(t)
	dsn := c.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	query := func() (int, error) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int
		err = conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n)
		return n, err
	}
	if n, err := query(); err != nil || n != 42 {
		t.Fatalf("query: %d, %v", n, err)
	}
	c.Stop()
	if _, err := query(); err == nil {
		t.Fatal("query succeeded on a stopped cluster")
	}
	c.Restart()
	if n, err := query(); err != nil || n != 42 {
		t.Fatalf("query after restart: %d, %v", n, err)
	}
}
