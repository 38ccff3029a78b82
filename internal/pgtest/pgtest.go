// Package pgtest starts throwaway PostgreSQL clusters for tests, from the Debian packages (postgresql): initdb
// once per test process into a template, then a copy of it per cluster, started with pg_ctl on a free loopback
// port and stopped when the test ends. PostgreSQL refuses to run as root, so under root (CI) the cluster belongs
// to the `postgres` system user and its programs run through runuser.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/testnet"
)

// Cluster is one running (or stopped) PostgreSQL cluster of a test.
type Cluster struct {
	Port int
	dir  string
	t    testing.TB
	mu   sync.Mutex
	up   bool
}

var (
	tmplOnce sync.Once
	tmplDir  string
	tmplErr  error
	dbSeq    atomic.Int64
)

// Bin returns the directory of the newest installed PostgreSQL's programs.
func Bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("PostgreSQL is not installed (scripts/install-test-deps.sh installs the Debian package postgresql)")
	}
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) < versionOf(dirs[j]) })
	return dirs[len(dirs)-1], nil
}

func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// asOwner runs a PostgreSQL program as the cluster's owner: this user, or `postgres` under root.
func asOwner(ctx context.Context, prog string, args ...string) *exec.Cmd {
	bin, _ := Bin()
	path := filepath.Join(bin, prog)
	if os.Geteuid() == 0 {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// ownDir makes dir usable by the cluster's owner.
func ownDir(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the postgres system user (Debian package postgresql): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// template returns an initdb'd data directory to copy. It is kept between test processes in the temporary
// directory, one per PostgreSQL version, made in a scratch directory and renamed into place (so that concurrent
// test processes never see half of one).
func template() (string, error) {
	tmplOnce.Do(func() {
		bin, err := Bin()
		if err != nil {
			tmplErr = err
			return
		}
		final := filepath.Join(os.TempDir(), fmt.Sprintf("signpost-pgtmpl-%d", versionOf(bin)))
		if _, err := os.Stat(filepath.Join(final, "data", "PG_VERSION")); err == nil {
			tmplDir = filepath.Join(final, "data")
			return
		}
		dir, err := os.MkdirTemp("", "signpost-pgtmpl-new-")
		if err != nil {
			tmplErr = err
			return
		}
		if tmplErr = ownDir(dir); tmplErr != nil {
			return
		}
		out, err := asOwner(context.Background(), "initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U",
			"postgres", "-E", "UTF8", "--locale=C").CombinedOutput()
		if err != nil {
			tmplErr = fmt.Errorf("initdb: %v\n%s", err, out)
			_ = os.RemoveAll(dir)
			return
		}
		if err := os.Rename(dir, final); err != nil {
			_ = os.RemoveAll(dir) // another process was first: use its template
		}
		tmplDir = filepath.Join(final, "data")
	})
	return tmplDir, tmplErr
}

// Start starts a fresh cluster on a free loopback port; it is stopped and removed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	tmpl, err := template()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dir, err := os.MkdirTemp("", "signpost-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", tmpl, filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("pgtest: copy template: %v\n%s", err, out)
	}
	if err := ownDir(dir); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{dir: dir, t: t}
	t.Cleanup(func() {
		c.stop("immediate")
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "log")); err == nil {
				t.Logf("postgres log:\n%s", tail(string(b), 4000))
			}
		}
		_ = os.RemoveAll(dir)
	})
	for attempt := 0; ; attempt++ {
		c.Port = testnet.FreePort(t)
		if err := c.start(); err == nil {
			break
		} else if attempt == 4 {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (c *Cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.Port, c.dir)
	out, err := asOwner(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"),
		"-o", opts, "-w", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s", c.Port, err, out)
	}
	c.up = true
	return nil
}

func (c *Cluster) stop(mode string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := asOwner(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", mode, "-w", "stop").CombinedOutput()
	if err != nil {
		c.t.Logf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	c.up = false
}

// Stop stops the cluster (fast shutdown: connections are closed), to test a database that is down.
func (c *Cluster) Stop() { c.stop("fast") }

// Restart starts the stopped cluster again on the same port.
func (c *Cluster) Restart() {
	c.t.Helper()
	if err := c.start(); err != nil {
		c.t.Fatalf("pgtest: %v", err)
	}
}

// DSN is the URL of database db on the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// NewDatabase creates an empty database and returns its DSN.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("db%d", dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.DSN(name)
}

// DSN starts a cluster for the test and returns the DSN of an empty database on it.
func DSN(t testing.TB) string {
	t.Helper()
	return Start(t).NewDatabase(t)
}

// String describes the cluster for logs.
func (c *Cluster) String() string {
	return strings.TrimSpace(fmt.Sprintf("postgres on 127.0.0.1:%d", c.Port))
}
