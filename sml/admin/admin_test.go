package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/store/storetest"
)

const testToken = "test-admin-token-0123456789"

var fixedNow = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

func newService(t *testing.T) *sml.Service {
	t.Helper()
	c, err := conf.ParseSML("test.yaml", []byte("domains:\n  - zone: sml.test\n    records: [naptr, cname]\n    glue:\n      ns1.sml.test: [127.0.0.1]\n  - zone: other.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sml.New(boltrepo.New(storetest.Open(t)), c.Domains, sml.Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// serve runs the admin API on b on a loopback port and returns its address.
func serve(t *testing.T, b Backend, onPanic func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), NewHandler(b, Config{Token: NewToken(testToken), OnPanic: onPanic}), nil)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func importFile(t *testing.T, n, smps int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := sml.WriteGenerated(&buf, n, smps, "sml.test.", "CN=SMP-GEN,O=Signpost test,C=BE:1"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func get(t *testing.T, url, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Every route, and any other path, answers 401 without the right bearer token, and the route with it.
func TestTokenRequired(t *testing.T) {
	addr := serve(t, newService(t), nil)
	for _, path := range []string{"/api/v1/status", "/api/v1/smps", "/api/v1/zones/sml.test./export", "/nope"} {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong-token-0123456789", "Basic " + testToken,
			"Bearer " + testToken + "x", "Bearer " + testToken[:len(testToken)-1]} {
			resp := get(t, "http://"+addr+path, auth)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s with %q: %s, WWW-Authenticate %q; want 401 with a Bearer challenge", path, auth, resp.Status,
					resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	for path, want := range map[string]int{"/api/v1/status": 200, "/api/v1/smps": 200, "/api/v1/zones/sml.test./export": 200, "/nope": 404} {
		if resp := get(t, "http://"+addr+path, "bearer "+testToken); resp.StatusCode != want {
			t.Errorf("%s with the token: %s, want %d", path, resp.Status, want)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/import", strings.NewReader(`{"type":"smp"}`+"\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST import without a token: %s", resp.Status)
	}
	// The client says which error it was.
	_, err = (&Client{Addr: addr, Token: "wrong-token-0123456789"}).Status(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("client with a wrong token: %v", err)
	}
}

// The client over HTTP gives what Local gives on the same Service: import (with progress per batch), status,
// SMP listing and zone export.
func TestClientMatchesLocal(t *testing.T) {
	svc := newService(t)
	local := Local{B: svc}
	c := &Client{Addr: serve(t, svc, nil), Token: testToken}
	ctx := context.Background()
	var events []ImportEvent
	res, err := c.Import(ctx, bytes.NewReader(importFile(t, 250, 3)), 100, func(ev ImportEvent) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Participants.Created != 250 || res.SMPs.Created != 3 {
		t.Fatalf("import result %+v", res)
	}
	if len(events) != 3 || events[0].Result.Participants.Created != 100 || events[2].Result.Participants.Created != 250 ||
		events[0].Line >= events[1].Line || events[1].Line >= events[2].Line {
		t.Fatalf("progress events %+v", events)
	}
	// Importing again changes nothing.
	res, err = c.Import(ctx, bytes.NewReader(importFile(t, 250, 3)), 0, nil)
	if err != nil || res.Participants.Unchanged != 250 || res.SMPs.Unchanged != 3 {
		t.Fatalf("second import: %+v %v", res, err)
	}

	remote, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := local.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(remote) != fmt.Sprint(want) {
		t.Errorf("status over HTTP %+v, local %+v", remote, want)
	}
	if remote.SMPs != 3 || remote.Participants != 250 || len(remote.Zones) != 2 || remote.Zones[0].Zone != "sml.test." ||
		remote.Zones[0].SMPs != 3 || remote.Zones[0].Participants != 250 || remote.Zones[1].Participants != 0 ||
		strings.Join(remote.Zones[0].Records, ",") != "naptr,cname" || remote.Zones[0].Serial == 0 {
		t.Errorf("status %+v", remote)
	}

	smps, err := c.SMPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lsmps, _ := local.SMPs(ctx)
	if len(smps) != 3 || fmt.Sprint(smps) != fmt.Sprint(lsmps) || smps[0].ID != "SMP-GEN-1" || smps[0].Owner == "" {
		t.Errorf("SMPs over HTTP %+v, local %+v", smps, lsmps)
	}

	var got, wantZone bytes.Buffer
	if err := c.ExportZone(ctx, &got, "SML.TEST"); err != nil {
		t.Fatal(err)
	}
	if err := local.ExportZone(ctx, &wantZone, "sml.test."); err != nil {
		t.Fatal(err)
	}
	if got.String() != wantZone.String() || strings.Count(got.String(), " IN NAPTR ") != 250 {
		t.Errorf("zone export over HTTP differs from the local one (%d and %d bytes)", got.Len(), wantZone.Len())
	}
}

// The server's refusals arrive as sml errors of the same kind, with the batches before a bad line committed.
func TestErrorsKeepTheirKind(t *testing.T) {
	svc := newService(t)
	c := &Client{Addr: serve(t, svc, nil), Token: testToken}
	ctx := context.Background()
	err := c.ExportZone(ctx, io.Discard, "nope.test")
	if sml.KindOf(err) != sml.KindNotFound || !strings.Contains(err.Error(), "not a zone") {
		t.Errorf("export of an unknown zone: %v (kind %s)", err, sml.KindOf(err))
	}
	file := importFile(t, 20, 1)
	badLine := fmt.Sprintf("line %d:", bytes.Count(file, []byte("\n"))+1)
	file = append(file, []byte(`{"type":"participant","id":"iso6523-actorid-upis::0088:x","smp":"NOPE"}`+"\n")...)
	res, err := c.Import(ctx, bytes.NewReader(file), 5, nil)
	if sml.KindOf(err) != sml.KindNotFound || !strings.Contains(err.Error(), badLine) || res.Participants.Created != 20 {
		t.Errorf("import with a bad last line: %+v, %v (kind %s)", res, err, sml.KindOf(err))
	}
	_, err = c.Import(ctx, strings.NewReader("not json\n"), 5, nil)
	if sml.KindOf(err) != sml.KindBadRequest || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("import of a bad file: %v (kind %s)", err, sml.KindOf(err))
	}
	_, err = c.Import(ctx, strings.NewReader(""), -5, nil)
	if err != nil {
		t.Errorf("empty import: %v", err)
	}
	resp, err := http.DefaultClient.Do(func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://"+c.Addr+"/api/v1/import?batch=0", strings.NewReader(""))
		r.Header.Set("Authorization", "Bearer "+testToken)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("batch=0: %s", resp.Status)
	}
}

// Nothing listening: ErrUnreachable, with the connection refusal in the chain.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = (&Client{Addr: addr, Token: testToken}).Status(context.Background())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v", err)
	}
}

// failing wraps the Service: Stats panics while panics is positive, and ExportZone fails after writing part of the
// zone.
type failing struct {
	*sml.Service
	panics atomic.Int32
}

func (f *failing) Stats() ([]sml.ZoneStats, error) {
	if f.panics.Add(-1) >= 0 {
		panic("injected panic")
	}
	return f.Service.Stats()
}

func (f *failing) ExportZone(w io.Writer, zone string) error {
	if _, err := w.Write([]byte("; zone " + zone + "\n")); err != nil {
		return err
	}
	return &sml.Error{Kind: sml.KindInternal, Msg: "injected failure\nafter the first line"}
}

// A panic in a handler is a 500 for that request; the server answers the next one. An export that fails after
// it began is an error at the client, not a short zone.
func TestPanicAndBrokenExport(t *testing.T) {
	f := &failing{Service: newService(t)}
	f.panics.Store(1)
	var counted atomic.Int32
	addr := serve(t, f, func() { counted.Add(1) })
	if resp := get(t, "http://"+addr+"/api/v1/status", "Bearer "+testToken); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panicking status: %s", resp.Status)
	}
	if counted.Load() != 1 {
		t.Errorf("OnPanic called %d times", counted.Load())
	}
	c := &Client{Addr: addr, Token: testToken}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("the request after the panic: %v", err)
	}
	var buf bytes.Buffer
	err := c.ExportZone(context.Background(), &buf, "sml.test.")
	if err == nil || !strings.Contains(err.Error(), "injected failure after the first line") || sml.KindOf(err) != sml.KindInternal {
		t.Errorf("broken export: %v (got %q)", err, buf.String())
	}
}

// Cancelling the client's context stops an import that is waiting for more of the file; the batches sent before
// stay committed.
func TestImportCancelled(t *testing.T) {
	svc := newService(t)
	c := &Client{Addr: serve(t, svc, nil), Token: testToken}
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Import(ctx, pr, 10, func(ev ImportEvent) {
			if ev.Result.Participants.Created == 10 {
				cancel()
			}
		})
		done <- err
	}()
	// Ten participants make one batch; the import then waits for more.
	if _, err := pw.Write(importFile(t, 10, 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the import did not stop when its context was cancelled")
	}
	st, err := Local{B: svc}.Status(context.Background())
	if err != nil || st.Participants != 10 {
		t.Errorf("after the cancelled import: %+v %v", st, err)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "sml-admin.token")
	tok, created, err := EnsureTokenFile(path)
	if err != nil || !created || len(tok) < 40 {
		t.Fatalf("EnsureTokenFile: %q %v %v", tok, created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", st.Mode(), err)
	}
	again, created, err := EnsureTokenFile(path)
	if err != nil || created || again != tok {
		t.Fatalf("second EnsureTokenFile: %q %v %v", again, created, err)
	}
	if !NewToken(tok).Check("Bearer "+tok) || NewToken(tok).Check("Bearer "+tok[1:]) {
		t.Error("Token.Check")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable token file: %v", err)
	}
	short := filepath.Join(dir, "short.token")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureTokenFile(short); err == nil || !strings.Contains(err.Error(), "fewer than 16") {
		t.Errorf("short token: %v", err)
	}
	own := filepath.Join(dir, "own.token")
	if err := os.WriteFile(own, []byte("  operator-chosen-token-1234  \nsecond line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if tok, created, err := EnsureTokenFile(own); err != nil || created || tok != "operator-chosen-token-1234" {
		t.Errorf("operator's token file: %q %v %v", tok, created, err)
	}
}
