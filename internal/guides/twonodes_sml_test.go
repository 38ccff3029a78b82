package guides

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// TestGuideTwoSMLNodes runs two `signpost sml serve` processes with the SML configuration of
// docs/guide-two-nodes.md on one PostgreSQL database (management over TLS instead of behind the guide's load
// balancer, and no secondaries to notify): a participant created over SOAP on A is answered by B's DNS at the
// same serial; A takes a stream of creates and is killed with SIGKILL meanwhile; B's DNS answers every create A
// acknowledged, and B takes SOAP writes afterwards.
func TestGuideTwoSMLNodes(t *testing.T) {
	bin, dsn, dir, files := twoNodesSetup(t)
	type node struct {
		dns, mgmt string
		kill      func()
	}
	start := func(name string) *node {
		n := &node{dns: testnet.FreeAddr(t), mgmt: testnet.FreeAddr(t)}
		ndir := nodeDir(t, dir, name)
		y := twoNodesConfig(t, "\ndns:", map[string]string{
			"store.dsn":        fmt.Sprintf("%q", dsn),
			"store.path":       filepath.Join(ndir, "sml.db"),
			"dns.listen":       n.dns,
			"dns.notify":       "[]", // the guide's secondaries are not here
			"admin.listen":     testnet.FreeAddr(t),
			"admin.token_file": filepath.Join(ndir, "sml-admin.token"),
		}, []string{"management"}, fmt.Sprintf(`management:
  listen: %s
  tls: {cert: %s, key: %s}
tsig_keys:
  - {name: transfer-key, algorithm: hmac-sha256, secret: c2lnbnBvc3QtZ3VpZGUtdGVzdC1zZWNyZXQtMTIzNDU2}
domains:
  - zone: sml.test
    records: [naptr, cname]
    soa: {mname: ns1.sml.test., rname: hostmaster.sml.test.}
    ns: [ns1.sml.test.]
    glue: {ns1.sml.test.: [127.0.0.1]}
    trusted_issuers: %s
ops: {addr: %q}
log: {level: warn}
`, n.mgmt, files.SML, files.SMLKey, files.CA, testnet.FreeAddr(t)))
		n.kill = startNode(t, bin, ndir, "sml", y, n.mgmt)
		return n
	}
	a, b := start("a"), start("b")

	cert, err := tls.LoadX509KeyPair(files.SMP, files.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := func(n *node) *smlclient.Client {
		return smlclient.New(smlclient.Options{URL: "https://" + n.mgmt, SMPID: "SMP-GUIDE", Certificate: cert, Roots: roots, Timeout: 10 * time.Second})
	}
	ca, cb := client(a), client(b)
	ctx := context.Background()
	if _, err := ca.RegisterSMP(ctx, smlclient.Addresses{Logical: "https://smp.example.org", Physical: "192.0.2.10"}); err != nil {
		t.Fatalf("register the SMP on A: %v", err)
	}
	pid := func(v string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: v} }
	answers := func(n *node, id identifier.ID) (bool, uint32) {
		m := new(dns.Msg)
		m.SetQuestion(identifier.NAPTRName(id, "sml.test.", identifier.SchemeLabel), dns.TypeNAPTR)
		r, err := dns.Exchange(m, n.dns)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			return false, 0
		}
		s := new(dns.Msg)
		s.SetQuestion("sml.test.", dns.TypeSOA)
		if r, err = dns.Exchange(s, n.dns); err != nil || len(r.Answer) != 1 {
			return true, 0
		}
		return true, r.Answer[0].(*dns.SOA).Serial
	}
	first := pid("9915:guide-two-sml")
	if err := ca.Create(ctx, []identifier.ID{first}); err != nil {
		t.Fatalf("create on A: %v", err)
	}
	within(t, "B's DNS answers the participant created on A, at A's serial", func() bool {
		okA, sa := answers(a, first)
		okB, sb := answers(b, first)
		return okA && okB && sa == sb && sa != 0
	})

	// A stream of creates to A, which is killed with SIGKILL meanwhile.
	acked := streamUntilKilled(t, 30, func(i int) (identifier.ID, bool, error) {
		id := pid(fmt.Sprintf("9915:guide-stream-%04d", i))
		err := ca.Create(ctx, []identifier.ID{id})
		if err != nil && strings.Contains(err.Error(), "already") {
			t.Errorf("create %s: %v", id, err)
		}
		return id, err == nil, err
	}, a.kill)
	for _, id := range acked {
		within(t, id.String()+", acknowledged by A before SIGKILL, answered by B's DNS", func() bool { ok, _ := answers(b, id); return ok })
	}
	late := pid("9915:guide-after-kill")
	if err := cb.Create(ctx, []identifier.ID{late}); err != nil {
		t.Fatalf("create on B after A was killed: %v", err)
	}
	within(t, "B's DNS answers "+late.String()+", created on B", func() bool { ok, _ := answers(b, late); return ok })
	t.Logf("%d creates acknowledged by A before SIGKILL, all answered by B", len(acked))
}
