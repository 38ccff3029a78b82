package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pgtest"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestPostgresStore: with store.backend postgres the SMP keeps everything in the schema smp of the database: a
// PUT is served signed (xmlsec1 verifies it) and still there after a restart of the app; the readiness check
// says when the database is down and recovers with it; the online backup is refused, pointing at pg_dump.
func TestPostgresStore(t *testing.T) {
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	usePG := func(cfg *conf.SMP) { cfg.Store.Backend, cfg.Store.DSN = conf.BackendPostgres, dsn }
	f := newWriteFixtureWith(t, "", usePG)
	const pid = "iso6523-actorid-upis::9915:pg"
	gpath := "/" + seg(pid)
	mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
	f.want(f.do("PUT", gpath, "alice", []byte(strings.Replace(groupBodyFmt, "%s", "9915:pg", 1))), 201, "created")
	f.want(f.do("PUT", mpath, "alice", f.metaBody("9915:pg", invoice, "https://ap.example/as4", "", f.ap.Cert.Raw)), 201, "created")
	f.want(f.do("GET", gpath, "", nil), 200, "9915:pg") // a PEPPOL SMP 1.x group is not signed
	for _, p := range []string{mpath, "/bdxr-smp-2" + gpath, "/bdxr-smp-2" + mpath} {
		a := f.do("GET", p, "", nil)
		f.want(a, 200, "9915:pg")
		xmlsecOK(t, f.caFile, []byte(a.body))
	}

	// The rows are in the schema smp (not in a bbolt file).
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var groups, docs int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM smp.groups WHERE participant = $1),
		(SELECT count(*) FROM smp.documents WHERE participant = $1)`, pid).Scan(&groups, &docs); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if groups != 1 || docs < 2 {
		t.Fatalf("schema smp holds %d groups and %d documents of %s", groups, docs, pid)
	}

	// GET /api/v1/backup is refused with the reason.
	f.want(f.do("GET", "/api/v1/backup", "admin", nil), http.StatusNotImplemented, "pg_dump")
	if _, err := f.app.Backup(io.Discard); !errors.Is(err, smpapp.ErrBackupPostgres) {
		t.Fatalf("offline backup on postgres: %v", err)
	}

	// Readiness follows the database.
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		f.o.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz with the database up: %d %s", code, body)
	}
	c.Stop()
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "smp-store: ") ||
		!strings.Contains(body, "database is unavailable") {
		t.Fatalf("readyz with the database down: %d %s", code, body)
	}
	c.Restart()
	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz after the database came back: %d %s", code, body)
	}

	// Another app on the same database and configuration (a second node, or the next start) serves what the first
	// wrote.
	b, err := smpapp.New(ctx, f.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	serve(t, b)
	code, body := get(t, "http://"+b.Addr()+mpath)
	if code != 200 || !strings.Contains(string(body), "https://ap.example/as4") {
		t.Fatalf("second app: %d %s", code, body)
	}
	xmlsecOK(t, f.caFile, body)

	// A console session started on one app is a row of smp.console_sessions, known to the other app.
	if err := f.app.Credentials().SetPassword(ctx, "alice", "a long enough console password"); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm("http://"+f.app.AdminAddr()+"/login",
		url.Values{"user": {"alice"}, "password": {"a long enough console password"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
		t.Fatalf("console login: %d, cookies %v", resp.StatusCode, cookies)
	}
	if conn, err = pgx.Connect(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	var sessions int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM smp.console_sessions WHERE user_name = 'alice'").Scan(&sessions)
	_ = conn.Close(ctx)
	if err != nil || sessions != 1 {
		t.Fatalf("console sessions of alice in the database: %d (%v)", sessions, err)
	}
	req, _ := http.NewRequest("GET", "http://"+b.AdminAddr()+"/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the other app's console with the session cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
