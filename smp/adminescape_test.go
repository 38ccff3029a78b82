package smp_test

import (
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestAdminUserNameEscaped: a user name in the admin API's path is decoded once, as every identifier of the
// protocol paths is: "alice%40example.com" (how encodeURIComponent and many clients send "@") names the user
// alice@example.com.
func TestAdminUserNameEscaped(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	repo := testRepo(t)
	svc, err := smp.New(context.Background(), repo, smp.Options{PublicURL: "http://smp.test", Flavour: smp.PEPPOL, Policy: identifier.PEPPOL,
		Binding: xmlbind.Binding{}, Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	creds := auth.New(repo, nil)
	tok, _, err := creds.CreateToken(context.Background(), "root", true)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httpapi.Admin(httpapi.Options{SMP: svc, Creds: creds, Registerer: prometheus.NewRegistry()}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+ln.Addr().String()+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = "//" + req.URL.Host + path // the path exactly as given
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do(http.MethodPut, "/api/v1/users/alice%40example.com", `{"admin": false}`); code != http.StatusOK {
		t.Fatalf("PUT users/alice%%40example.com: %d %s", code, body)
	}
	if code, body := do(http.MethodGet, "/api/v1/users", ""); code != http.StatusOK || !strings.Contains(body, `"alice@example.com"`) {
		t.Fatalf("GET users: %d %s, want alice@example.com listed", code, body)
	}
	if code, body := do(http.MethodDelete, "/api/v1/users/alice%40example.com", ""); code != http.StatusOK {
		t.Fatalf("DELETE users/alice%%40example.com: %d %s", code, body)
	}
}
