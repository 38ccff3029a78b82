package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/admin"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
)

// The SML on PostgreSQL (store.backend postgres): an SMP and a participant created over SOAP are answered by the
// DNS server; while the database is down DNS still answers, a SOAP write gets InternalErrorFault and /readyz turns
// 503 with the reason (/healthz stays 200); when it is back, writes work and /readyz is green without a restart;
// the admin backup points to pg_dump; a second start on the database serves what it holds.
func TestAppOnPostgres(t *testing.T) {
	dir := t.TempDir()
	files, _, err := pki.EnsureDev(filepath.Join(dir, "pki-home"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	smp, err := pki.LoadKeyPair(files.SMP, files.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	cluster := pgtest.Start(t)
	dsn := cluster.NewDatabase(t)
	soapAddr, opsAddr := testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  backend: postgres
  dsn: `+dsn+`
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
admin:
  listen: `+testnet.FreeAddr(t)+`
management:
  listen: `+soapAddr+`
  proxy:
    addresses: [127.0.0.0/8]
domains:
  - zone: sml.test
    trusted_issuers: `+files.CA+`
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := func() (*App, *ops.Ops, func()) {
		t.Helper()
		o := ops.New()
		a, stop := startApp(t, cfg, o)
		return a, o, stop
	}
	a, o, stop := start()
	opsSrv := o.Server(opsAddr)
	go func() { _ = opsSrv.ListenAndServe() }()
	defer opsSrv.Close()

	header := strings.ReplaceAll(url.QueryEscape(string(pki.EncodeCertPEM(smp.Cert))), "+", "%20")
	post := func(path, file string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+soapAddr+"/"+path, bytes.NewReader(soaptest.Request(t, file)))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("X-SSL-Client-Cert", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("manageservicemetadata", "smp-create.xml"); code != http.StatusOK {
		t.Fatalf("create SMP: %d %s", code, body)
	}
	if code, body := post("manageparticipantidentifier", "participant-create.xml"); code != http.StatusOK {
		t.Fatalf("create participant: %d %s", code, body)
	}
	id := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:test-a1"}
	naptr := func(a *App) {
		t.Helper()
		udp, _ := a.DNS().Addr()
		m := new(dns.Msg)
		m.SetQuestion(identifier.NAPTRName(id, "sml.test.", identifier.SchemeLabel), dns.TypeNAPTR)
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, udp.String())
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("NAPTR answer:\n%v", r)
		}
		if n, ok := r.Answer[0].(*dns.NAPTR); !ok || n.Regexp != "!^.*$!http://smp-a.example.org!" {
			t.Fatalf("NAPTR answer %v", r.Answer[0])
		}
	}
	naptr(a)

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + opsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("readyz with the database up: %d %s", code, body)
	}
	tok, err := admin.ReadTokenFile(cfg.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &admin.Client{Addr: cfg.Admin.Listen, Token: tok}
	var buf bytes.Buffer
	if _, err := client.Backup(ctx, &buf); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup of a PostgreSQL store: %v, want a pointer to pg_dump", err)
	}

	cluster.Stop()
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "sml-store") ||
		!strings.Contains(body, pgstore.ErrUnavailable.Error()) {
		t.Errorf("readyz with the database down: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("healthz with the database down: %d", code)
	}
	naptr(a) // DNS answers from memory
	// A write fails with the SML's technical fault, which the caller may retry.
	if code, body := post("manageparticipantidentifier", "participant-createlist.xml"); code != http.StatusInternalServerError ||
		!strings.Contains(body, "InternalErrorFault") {
		t.Errorf("write with the database down: %d %s", code, body)
	}
	cluster.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the database came back: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if code, body := post("manageparticipantidentifier", "participant-createlist.xml"); code != http.StatusOK {
		t.Errorf("write after the database came back: %d %s", code, body)
	}
	// A new start on the database serves the participant.
	stop()
	a, _, _ = start() // stopped when the test ends
	naptr(a)
}

// A database that cannot be reached at start is reported as such.
func TestOpenStoreUnreachable(t *testing.T) {
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  backend: postgres
  dsn: postgres://nobody@`+testnet.FreeAddr(t)+`/none?sslmode=disable&connect_timeout=5
domains:
  - zone: sml.test
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(context.Background(), cfg, nil); !errors.Is(err, pgstore.ErrUnavailable) || !strings.Contains(err.Error(), "store.dsn") {
		t.Errorf("unreachable database: %v", err)
	}
}
