//go:build linux

package pgstore

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/signpost-project/signpost/internal/pgtest"
)

// TestDeadPeerSettings: every pooled connection asks PostgreSQL to probe it (so the server ends the session, and
// frees its locks, of a node that vanished) unless the DSN says otherwise, and its own socket gives up data left
// unacknowledged for DeadPeerAfter.
func TestDeadPeerSettings(t *testing.T) {
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	ctx := context.Background()
	show := func(db *DB, name string) string {
		var v string
		if err := db.View(ctx, func(tx pgx.Tx) error { return tx.QueryRow(ctx, "SHOW "+name).Scan(&v) }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	db, err := Open(ctx, dsn, "demo", os.DirFS("testdata/m1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, want := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		if got := show(db, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := conn.Conn().PgConn().Conn().(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ut int
	var gerr error
	if err := rc.Control(func(fd uintptr) { ut, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	conn.Release()
	if ut != int(DeadPeerAfter.Milliseconds()) {
		t.Errorf("TCP_USER_TIMEOUT %d ms, want %d", ut, DeadPeerAfter.Milliseconds())
	}

	own, err := Open(ctx, dsn+"&tcp_keepalives_idle=60", "demo", os.DirFS("testdata/m1"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if got := show(own, "tcp_keepalives_idle"); got != "60" {
		t.Errorf("tcp_keepalives_idle set in the DSN: %q, want 60", got)
	}
}

// TestLeaderOnHungDatabase: when the leader's database session stops answering (its server process is stopped),
// the node stops running the leader's jobs within LeaderTimeout, and no other node takes over while the server
// still holds the lock; once the session ends, one node (never two) holds it again.
func TestLeaderOnHungDatabase(t *testing.T) {
	_, a, b := twoNodes(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	la := a.Lead(ctx, "job", 100*time.Millisecond)
	eventually(t, la.Held)
	var pid int
	if err := b.View(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid)
	}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the leader's server process %d: %v", pid, err)
	}
	stopped := true
	resume := func() {
		if stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			stopped = false
		}
	}
	defer resume()
	lb := b.Lead(ctx, "job", 100*time.Millisecond)
	start := time.Now()
	for la.Held() {
		if lb.Held() {
			t.Fatal("two leaders")
		}
		if time.Since(start) > 20*time.Second { // LeaderTimeout, and room
			t.Fatalf("the node still runs the leader's jobs %s after its session stopped answering", time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The stopped session still holds the lock at the server: nobody may take over.
	for range 25 {
		if lb.Held() || la.Held() {
			t.Fatal("a node took the lock while the stopped session holds it")
		}
		time.Sleep(40 * time.Millisecond)
	}
	resume()
	eventually(t, func() bool {
		if la.Held() && lb.Held() {
			t.Fatal("two leaders")
		}
		return la.Held() || lb.Held()
	})
}
