package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

func issue(t testing.TB, ca *pki.Authority, cn string) *pki.Leaf {
	t.Helper()
	now := time.Now()
	l, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func config(t testing.TB, dir, signing string) *conf.SMP {
	t.Helper()
	y := fmt.Sprintf("store: {path: %s}\nops: {addr: \"\"}\nhttp: {listen: \"127.0.0.1:0\"}\nadmin: {listen: \"127.0.0.1:0\", token_file: %s}\nsmp_id: SMP-TEST\npublic_url: http://smp.test/prefix\n%s\n",
		filepath.Join(dir, "smp.db"), filepath.Join(dir, "smp-admin.token"), signing)
	cfg, err := conf.ParseSMP("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServeSeedAndReloadKey: the app serves the seeded demo participant on a real listener, under the public
// URL's path prefix too, and switches to a new key on ReloadSigningKey, re-signing in the background.
func TestServeSeedAndReloadKey(t *testing.T) {
	ca, leaf, dir, certFile, keyFile := newSigner(t, "App Test CA", "SMP app signer")
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile))
	o := ops.New()
	a, err := smpapp.New(context.Background(), cfg, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	ap := issue(t, ca, "demo ap")
	if err := smpapp.SeedDemo(ctx, a.Service(), ap.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	if err := smpapp.SeedDemo(ctx, a.Service(), ap.Cert.Raw); err != nil { // idempotent
		t.Fatal(err)
	}
	serve(t, a)
	base := "http://" + a.Addr()
	path := "/" + identifier.EncodeSegment(smpapp.DemoParticipant) + "/services/" + identifier.EncodeSegment(smpapp.DemoDocumentType)
	for _, p := range []string{path, "/prefix" + path, "/bdxr-smp-2" + path} {
		code, body := get(t, base+p)
		if code != 200 || !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(leaf.Cert.Raw))) {
			t.Fatalf("GET %s: %d\n%s", p, code, body)
		}
	}
	code, group := get(t, base+"/"+identifier.EncodeSegment(smpapp.DemoParticipant))
	if code != 200 || !bytes.Contains(group, []byte(`href="http://smp.test/prefix/iso6523-actorid-upis%3A%3A9915%3Asignpost-demo/services/`)) {
		t.Fatalf("group: %d %s", code, group)
	}

	// New key in the configured files, then reload: documents are re-signed with it.
	next := issue(t, ca, "SMP app signer, next")
	if err := next.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	changed, err := a.ReloadSigningKey()
	if err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	a.WaitResign()
	code, body := get(t, base+path)
	if code != 200 || !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(next.Cert.Raw))) {
		t.Fatalf("after reload: %d, not signed by the new key", code)
	}
	if a.Service().Generation() != 2 {
		t.Errorf("generation %d", a.Service().Generation())
	}
	if failed := o.Ready(ctx); len(failed) != 0 {
		t.Errorf("not ready: %v", failed)
	}
}

// TestPKCS12AndRestartWithNewKey: a PKCS#12 file as OpenSSL 3 writes it by default signs; restarting with
// another key than the store records re-signs everything (generation 2).
func TestPKCS12AndRestartWithNewKey(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("App Test CA", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := issue(t, ca, "first")
	c1, k1 := filepath.Join(dir, "1.pem"), filepath.Join(dir, "1-key.pem")
	if err := first.WriteFiles(c1, k1); err != nil {
		t.Fatal(err)
	}
	a, err := smpapp.New(context.Background(), config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", c1, k1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := smpapp.SeedDemo(context.Background(), a.Service(), first.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	second := issue(t, ca, "second")
	c2, k2 := filepath.Join(dir, "2.pem"), filepath.Join(dir, "2-key.pem")
	if err := second.WriteFiles(c2, k2); err != nil {
		t.Fatal(err)
	}
	p12, pw := filepath.Join(dir, "2.p12"), filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkcs12", "-export", "-in", c2, "-inkey", k2, "-out", p12, "-passout", "pass:s3cret").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	cfg2 := config(t, dir, fmt.Sprintf("signing: {pkcs12: %s, password_file: %s}", p12, pw))
	b, err := smpapp.New(context.Background(), cfg2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Closed before re-signing: the pending re-signing is remembered by the store.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err = smpapp.New(context.Background(), cfg2, nil, nil); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Service().Stale() || b.Service().Generation() != 2 {
		t.Fatalf("stale %v generation %d", b.Service().Stale(), b.Service().Generation())
	}
	n, err := b.Service().Resign(context.Background(), nil)
	if err != nil || n != 1 {
		t.Fatalf("resign: %d %v", n, err)
	}
	if b.Service().Stale() {
		t.Error("stale after Resign")
	}
	ts := b.Handler()
	rec := &recorder{h: http.Header{}}
	req, _ := http.NewRequest("GET", "/"+identifier.EncodeSegment(smpapp.DemoParticipant)+"/services/"+identifier.EncodeSegment(smpapp.DemoDocumentType), nil)
	ts.ServeHTTP(rec, req)
	if rec.code != 200 || !bytes.Contains(rec.body.Bytes(), []byte(base64.StdEncoding.EncodeToString(second.Cert.Raw))) {
		t.Fatalf("%d: not signed by the PKCS#12 key", rec.code)
	}
}

type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(c int)           { r.code = c }

// serve starts every server of a (the public and admin listeners, the re-signer) and shuts them down at the end of
// the test, in reverse order.
func serve(t testing.TB, a *smpapp.App) {
	t.Helper()
	ctx := context.Background()
	servers := a.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := len(servers) - 1; i >= 0; i-- {
			_ = servers[i].Shutdown(ctx)
		}
	})
}

// newSigner makes a throwaway CA and a signing certificate issued by it, written to smp.pem and smp-key.pem in a
// new temporary directory.
func newSigner(t testing.TB, caName, cn string) (ca *pki.Authority, leaf *pki.KeyPair, dir, certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot(caName, now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	leaf = issue(t, ca, cn)
	certFile, keyFile = filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem")
	if err := leaf.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return ca, leaf, dir, certFile, keyFile
}
