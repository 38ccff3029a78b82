package app

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
)

// TestAdminListener starts the assembled SML with the SOAP API and the ops listener: the admin API answers on its
// own loopback listener with the token the App wrote (0600) and 401 without it; neither the SOAP (public) listener
// nor the ops listener serves it. A restart keeps the token.
func TestAdminListener(t *testing.T) {
	dir := t.TempDir()
	files, _, err := pki.EnsureDev(filepath.Join(dir, "pki-home"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	adminAddr, soapAddr, opsAddr := testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
ops:
  addr: `+opsAddr+`
admin:
  listen: `+adminAddr+`
management:
  listen: `+soapAddr+`
  tls:
    cert: `+files.SML+`
    key: `+files.SMLKey+`
domains:
  - zone: sml.test
    trusted_issuers: `+files.CA+`
`))
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "sml-admin.token")
	if cfg.Admin.TokenFile != tokenFile {
		t.Fatalf("token file %s, want the default beside the store %s", cfg.Admin.TokenFile, tokenFile)
	}
	o := ops.New()
	a, stop := startApp(t, cfg, o)
	ctx := context.Background()
	opsSrv := o.Server(opsAddr)
	go func() { _ = opsSrv.ListenAndServe() }()
	defer opsSrv.Close()
	if got := a.Admin().Addr().String(); got != adminAddr {
		t.Fatalf("admin listener on %s, want %s", got, adminAddr)
	}
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	tok, err := admin.ReadTokenFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Service().CreateSMP(ctx, sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."},
		sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	st2, err := (&admin.Client{Addr: adminAddr, Token: tok}).Status(ctx)
	if err != nil || st2.SMPs != 1 || len(st2.Zones) != 1 || st2.Zones[0].SMPs != 1 {
		t.Fatalf("status with the token: %+v %v", st2, err)
	}
	// The SMP's client certificate gets a request through to the SOAP handler.
	kp, err := tls.LoadX509KeyPair(files.SMP, files.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := pki.LoadCertPool(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{kp}},
	}}
	statusOf := func(url, auth string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `"zones"`) {
			t.Errorf("%s served the admin status", url)
		}
		return resp.StatusCode
	}
	if c := statusOf("http://"+adminAddr+"/api/v1/status", ""); c != http.StatusUnauthorized {
		t.Errorf("admin without a token: %d, want 401", c)
	}
	if c := statusOf("http://"+adminAddr+"/api/v1/status", "Bearer not-"+tok); c != http.StatusUnauthorized {
		t.Errorf("admin with a wrong token: %d, want 401", c)
	}
	if c := statusOf("http://"+opsAddr+"/api/v1/status", "Bearer "+tok); c != http.StatusNotFound {
		t.Errorf("ops listener with the admin route: %d, want 404", c)
	}
	if c := statusOf("https://"+soapAddr+"/api/v1/status", "Bearer "+tok); c == http.StatusOK {
		t.Errorf("SOAP listener with the admin route: %d", c)
	}
	for _, addr := range []string{cfg.DNS.Listen, soapAddr, opsAddr} {
		if addr == adminAddr {
			t.Errorf("the admin API shares %s", addr)
		}
	}

	// A restart reads the same token.
	stop()
	startApp(t, cfg, nil)
	if _, err := (&admin.Client{Addr: adminAddr, Token: tok}).Status(ctx); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
