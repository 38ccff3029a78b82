package smp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/admin"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestBulkAndBackupThroughAdminAPI: the admin client's Bulk streams the server's per-group lines and progress and
// ends with its result; a refused change comes back as invalid, an owner's token as forbidden; a backup that
// fails after it began to send is an error for the client (the trailer), never a short copy taken as whole.
func TestBulkAndBackupThroughAdminAPI(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	repo := testRepo(t)
	svc, err := smp.New(ctx, repo, smp.Options{PublicURL: "http://smp.test", Flavour: smp.PEPPOL, SMP2: true, Policy: identifier.PEPPOL,
		Binding: xmlbind.Binding{}, Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	old, nw, other := f.issue("AP old"), f.issue("AP new"), f.issue("AP other")
	seedBulk(t, svc, old, other)
	creds := auth.New(repo, nil)
	root, _, err := creds.CreateToken(ctx, "root", true)
	if err != nil {
		t.Fatal(err)
	}
	owner, _, err := creds.CreateToken(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	errBroken := errors.New("disk went away")
	backup := func(w io.Writer) (int64, error) {
		n, err := w.Write(bytes.Repeat([]byte("x"), 100<<10))
		if err != nil {
			return int64(n), err
		}
		return int64(n), errBroken
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httpapi.Admin(httpapi.Options{SMP: svc, Creds: creds, Registerer: prometheus.NewRegistry(), Backup: backup}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c := &admin.Client{Addr: ln.Addr().String(), Token: root}

	var groups, progress int
	res, err := c.Bulk(ctx, smp.BulkOp{OldCertificate: old.Cert.Raw, NewCertificate: nw.Cert.Raw, DryRun: true}, smp.BulkObserver{
		Group:    func(smp.BulkGroup) { groups++ },
		Progress: func(done, total int) { progress = done },
	})
	if err != nil || res.Groups != 100 || res.Endpoints != 110 || !res.DryRun || groups != 100 || progress != 120 {
		t.Fatalf("dry run: %+v, %v (%d group lines, progress %d)", res, err, groups, progress)
	}
	res, err = c.Bulk(ctx, smp.BulkOp{OldURL: bulkOldURL, NewURL: bulkNewURL}, smp.BulkObserver{})
	if err != nil || res.Groups != 100 || res.Documents != 200 {
		t.Fatalf("replace-url: %+v, %v", res, err)
	}
	d, err := svc.Lookup(ctx, smp.SMP2, bulkParticipant(3), bulkDocA)
	if err != nil || !bytes.Contains(d.Body, []byte(bulkNewURL)) {
		t.Fatalf("after replace-url: %v\n%s", err, d.Body)
	}
	if _, err := c.Bulk(ctx, smp.BulkOp{OldURL: bulkNewURL, NewURL: bulkNewURL}, smp.BulkObserver{}); smp.KindOf(err) != smp.KindInvalid {
		t.Fatalf("same URL: %v, want invalid", err)
	}
	alice := &admin.Client{Addr: ln.Addr().String(), Token: owner}
	if _, err := alice.Bulk(ctx, smp.BulkOp{OldURL: bulkNewURL, NewURL: bulkOldURL}, smp.BulkObserver{}); smp.KindOf(err) != smp.KindForbidden {
		t.Fatalf("owner's token: %v, want forbidden", err)
	}
	var buf bytes.Buffer
	n, err := c.Backup(ctx, &buf)
	if err == nil || n == 0 || !bytes.Contains([]byte(err.Error()), []byte(errBroken.Error())) {
		t.Fatalf("broken backup: %d bytes, %v; want an error naming %q", n, err, errBroken)
	}
}
