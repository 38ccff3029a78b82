package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/lookup"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/smlclient"
	"github.com/signpost-project/signpost/xmldsig"
)

// fakeClock is a clock a test moves forward; it ticks with real time in between, so timeouts still elapse.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// jumpTo moves the clock to t.
func (c *fakeClock) jumpTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// rolloverPKI is the certificates of a rollover: the G2 CA with the SML's server certificate and the SMP's current
// certificate, and the G3 CA with the SMP's next certificate; each CA in its own file.
type rolloverPKI struct {
	dir            string
	g2, g3         *pki.Authority
	g2File, g3File string
}

func newRolloverPKI(t *testing.T) *rolloverPKI {
	t.Helper()
	now := time.Now()
	p := &rolloverPKI{dir: t.TempDir()}
	var err error
	if p.g2, err = pki.NewRoot("Rollover Test SMP CA G2", now.Add(-time.Hour), now.Add(96*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p.g3, err = pki.NewRoot("Rollover Test SMP CA G3", now.Add(-time.Hour), now.Add(96*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.g2File, p.g3File = filepath.Join(p.dir, "g2.pem"), filepath.Join(p.dir, "g3.pem")
	for f, ca := range map[string]*pki.Authority{p.g2File: p.g2, p.g3File: p.g3} {
		if err := os.WriteFile(f, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// leaf issues an SMP certificate valid for three days and writes it to NAME.pem and NAME-key.pem.
func (p *rolloverPKI) leaf(t *testing.T, ca *pki.Authority, name string, profile pki.Profile) (*pki.Leaf, string, string) {
	t.Helper()
	now := time.Now()
	l, err := ca.Issue(pki.LeafSpec{Profile: profile, CommonName: name, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(72 * time.Hour),
		Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	c, k := filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	if err := l.WriteFiles(c, k); err != nil {
		t.Fatal(err)
	}
	return l, c, k
}

// smlStack is our SML on loopback: its DNS server and its SOAP management API over mutual TLS, trusting SMP
// certificates of both CAs.
type smlStack struct {
	dnsAddr, url string
}

func startSMLStack(t *testing.T, p *rolloverPKI, opts ...smlapp.Option) *smlStack {
	t.Helper()
	_, sc, sk := p.leaf(t, p.g2, "sml-server", pki.TLSServer)
	dir := t.TempDir()
	s := &smlStack{dnsAddr: testnet.FreeAddr(t)}
	mgmt := testnet.FreeAddr(t)
	s.url = "https://" + mgmt
	y := fmt.Sprintf(`
store: {path: %s}
dns: {listen: %q, notify_delay: 50ms}
admin: {listen: %q}
management: {listen: %q, tls: {cert: %s, key: %s}}
domains:
  - zone: sml.test
    records: [naptr]
    trusted_issuers: [%s, %s]
`, filepath.Join(dir, "sml.db"), s.dnsAddr, testnet.FreeAddr(t), mgmt, sc, sk, p.g2File, p.g3File)
	cfg, err := conf.ParseSML("sml.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	a, err := smlapp.New(cfg, nil, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	startAll(t, a.Servers(), func() { _ = a.Close() })
	return s
}

// startAll starts servers; they stop (in reverse order), then closer runs, at the test's end or when the returned
// function is called.
func startAll(t *testing.T, servers []lifecycle.Server, closer func()) func() {
	t.Helper()
	ctx := context.Background()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for i := len(servers) - 1; i >= 0; i-- {
				_ = servers[i].Shutdown(ctx)
			}
			closer()
		})
	}
	t.Cleanup(stop)
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			stop()
			t.Fatal(err)
		}
	}
	return stop
}

// smpConfig is an SMP serving at a fixed loopback address, registering in the SML of s with its signing key.
func smpConfig(t *testing.T, dir, smpID, certFile, keyFile, smlCA string, s *smlStack) *conf.SMP {
	t.Helper()
	addr := testnet.FreeAddr(t)
	y := fmt.Sprintf(`store: {path: %s}
ops: {addr: ""}
http: {listen: %q}
admin: {listen: %q}
smp_id: %s
public_url: http://%s
signing: {cert: %s, key: %s}
sml: {url: %q, zone: sml.test, ca: %s, logical_address: "http://%s", physical_address: 127.0.0.1}
`, filepath.Join(dir, "smp.db"), addr, testnet.FreeAddr(t), smpID, addr, certFile, keyFile, s.url, smlCA, addr)
	cfg, err := conf.ParseSMP("smp.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func adminClient(t *testing.T, a *smpapp.App, cfg *conf.SMP) *smpadmin.Client {
	t.Helper()
	tok, err := smpadmin.ReadTokenFile(cfg.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return &smpadmin.Client{Addr: a.AdminAddr(), Token: tok}
}

func demoRequest(t *testing.T) lookup.Request {
	return lookup.Request{
		Participant:  mustParse(t, identifier.Participant, smpapp.DemoParticipant),
		DocumentType: mustParse(t, identifier.DocumentType, smpapp.DemoDocumentType),
		Process:      mustParse(t, identifier.Process, smpapp.DemoProcess),
	}
}

// lookupClient looks participants up in the SML's DNS and verifies SMP answers against roots.
func lookupClient(t *testing.T, s *smlStack, roots ...*x509.Certificate) *lookup.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	c, err := lookup.New(lookup.Config{Zone: "sml.test", Servers: []string{s.dnsAddr}, Policy: identifier.PEPPOL,
		Verifier: &xmldsig.Verifier{Roots: pool}, CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitNAPTR waits until the participant's NAPTR in the SML's DNS points at smpURL.
func waitNAPTR(t *testing.T, s *smlStack, p identifier.ID, smpURL string) {
	t.Helper()
	name := identifier.NAPTRName(p, "sml.test.", identifier.SchemeLabel)
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeNAPTR)
	c := &dns.Client{Timeout: time.Second}
	last := ""
	for range 200 {
		r, _, err := c.Exchange(m, s.dnsAddr)
		if err == nil {
			last = fmt.Sprint(r.Answer)
			for _, rr := range r.Answer {
				if n, ok := rr.(*dns.NAPTR); ok && strings.Contains(n.Regexp, smpURL+"!") {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the NAPTR of %s does not point at %s; last answer: %s", p, smpURL, last)
}

// metadataBody fetches the demo participant's service metadata from the SMP.
func metadataBody(t *testing.T, a *smpapp.App) []byte {
	t.Helper()
	code, body := get(t, "http://"+a.Addr()+"/"+identifier.EncodeSegment(smpapp.DemoParticipant)+"/services/"+identifier.EncodeSegment(smpapp.DemoDocumentType))
	if code != 200 {
		t.Fatalf("GET metadata: %d %s", code, body)
	}
	return body
}

// verifiesWith runs xmlsec1 on body trusting caFile only.
func verifiesWith(t *testing.T, caFile string, body []byte) bool {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmlsec1", "--verify", "--enabled-reference-uris", "empty", "--enabled-key-data", "x509",
		"--trusted-pem", caFile, f).CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("xmlsec1: %v (install it: scripts/install-test-deps.sh)", err)
	}
	return err == nil && bytes.Contains(out, []byte("OK"))
}

func b64(c *x509.Certificate) []byte { return []byte(base64.StdEncoding.EncodeToString(c.Raw)) }

// TestScheduledRolloverToSecondCA: an SMP registered in our SML (mutual TLS on loopback) rolls its certificate
// over to one from a second CA (PEPPOL's G2 to G3 move) with `rekey --at DATE` through its admin API, with the SMP's
// and the SML's clocks injected. Before DATE the documents verify with the old certificate and the SML accepts only
// the old one; from DATE on the documents verify with the new one and the SML accepts only the new one. A lookup
// loop (DNS, HTTP, signature) runs throughout and never fails. A restart with the configuration still naming the old
// key keeps the new one.
func TestScheduledRolloverToSecondCA(t *testing.T) {
	p := newRolloverPKI(t)
	clock := &fakeClock{}
	s := startSMLStack(t, p, smlapp.WithClock(clock.Now))
	oldLeaf, oldCert, oldKey := p.leaf(t, p.g2, "SMP rollover", pki.SMPCert)
	newLeaf, newCert, newKey := p.leaf(t, p.g3, "SMP rollover G3", pki.SMPCert)
	dir := t.TempDir()
	cfg := smpConfig(t, dir, "SMP-ROLL", oldCert, oldKey, p.g2File, s)
	ctx := context.Background()
	opts := []smpapp.Option{smpapp.WithClock(clock.Now), smpapp.WithScheduleTick(20 * time.Millisecond)}
	a, err := smpapp.New(ctx, cfg, nil, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	stopSMP := startAll(t, a.Servers(), func() { _ = a.Close() })
	ap := issue(t, p.g2, "demo ap")
	if err := smpapp.SeedDemo(ctx, a.Service(), ap.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	// The SMP's registrar registers it and the seeded participant in the SML (its outbox).
	logical := "http://" + a.Addr()
	req := demoRequest(t)
	waitNAPTR(t, s, req.Participant, logical)

	// A lookup loop throughout, trusting both CAs (as a PEPPOL client does during the G2 to G3 move).
	lc := lookupClient(t, s, p.g2.Cert, p.g3.Cert)
	var stop atomic.Bool
	var lookups, failures atomic.Int64
	var firstFail atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := lc.Lookup(ctx, req); err != nil {
				failures.Add(1)
				firstFail.CompareAndSwap(nil, err.Error())
			}
			lookups.Add(1)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	admin := adminClient(t, a, cfg)
	newKP, err := pki.LoadKeyPair(newCert, newKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(newKP.Key)
	if err != nil {
		t.Fatal(err)
	}
	rq := httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(newKP.Cert)), KeyPEM: string(keyPEM)}

	// At once is refused: the SML knows this SMP by its current certificate.
	if _, err := admin.Rekey(ctx, rq); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("rekey at once while registered: %v, want a refusal naming --force", err)
	}

	now := clock.Now().UTC()
	date := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	rq.At = date.Format(time.DateOnly)
	res, err := admin.Rekey(ctx, rq)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SMLAnnounced || !res.At.Equal(date) {
		t.Fatalf("rekey --at: %+v", res)
	}
	for _, f := range res.Files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(f) != dir {
			t.Fatalf("key material %s: %v %v (want mode 0600 beside the store)", f, fi, err)
		}
	}

	if st, err := admin.Status(ctx); err != nil || st.KeySwitch == nil || !st.KeySwitch.At.Equal(date) {
		t.Fatalf("status does not show the scheduled switch: %+v %v", st.KeySwitch, err)
	}

	oldClient := smlclient.New(smlclient.Options{URL: s.url, SMPID: "SMP-ROLL", Certificate: oldLeaf.TLSCertificate(), Roots: p.g2.Pool()})
	newClient := smlclient.New(smlclient.Options{URL: s.url, SMPID: "SMP-ROLL", Certificate: newLeaf.TLSCertificate(), Roots: p.g2.Pool()})
	defer oldClient.Close()
	defer newClient.Close()

	// Before DATE: the old certificate signs and the SML accepts only it.
	body := metadataBody(t, a)
	if !bytes.Contains(body, b64(oldLeaf.Cert)) || !verifiesWith(t, p.g2File, body) {
		t.Fatal("before DATE the document is not signed by the old certificate")
	}
	if _, err := oldClient.List(ctx); err != nil {
		t.Fatalf("before DATE the SML refuses the old certificate: %v", err)
	}
	if _, err := newClient.List(ctx); err == nil {
		t.Fatal("before DATE the SML accepts the new certificate")
	}
	if !a.CertificateChangeNear(date.Add(-30*time.Minute)) || !a.CertificateChangeNear(date.Add(59*time.Minute)) || a.CertificateChangeNear(date.Add(-2*time.Hour)) {
		t.Error("CertificateChangeNear is not true exactly within an hour of the switch")
	}
	before := lookups.Load()
	for lookups.Load() < before+20 { // the loop runs on the old key
		time.Sleep(5 * time.Millisecond)
	}

	// DATE comes: both clocks move past 00:00 UTC.
	clock.jumpTo(date.Add(time.Second))
	for i := 0; a.Service().Generation() != 2; i++ {
		if i == 500 {
			t.Fatal("the scheduled switch did not happen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; !bytes.Contains(body, b64(newLeaf.Cert)); i++ { // the re-signer reaches it
		if i == 500 {
			t.Fatal("after DATE the document is not re-signed")
		}
		time.Sleep(10 * time.Millisecond)
		body = metadataBody(t, a)
	}
	if !verifiesWith(t, p.g3File, body) || verifiesWith(t, p.g2File, body) {
		t.Fatal("after DATE the document is not signed by the new certificate (G3)")
	}
	if st, err := admin.Status(ctx); err != nil || st.KeySwitch != nil || st.Generation != 2 {
		t.Fatalf("status after the switch: generation %d, switch %+v, %v", st.Generation, st.KeySwitch, err)
	}
	if ids, err := a.SMLClient().List(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("after DATE the SMP's own SML calls (new certificate) fail: %v %v", ids, err)
	}
	if _, err := newClient.List(ctx); err != nil {
		t.Fatalf("after DATE the SML refuses the new certificate: %v", err)
	}
	if _, err := oldClient.List(ctx); smlclient.KindOf(err) != smlclient.Unauthorized {
		t.Fatalf("after DATE the SML still accepts the old certificate: %v", err)
	}
	before = lookups.Load()
	for lookups.Load() < before+20 { // and goes on with the new one
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d lookups failed during the rollover; first: %v", failures.Load(), lookups.Load(), firstFail.Load())
	}
	t.Logf("%d lookups during the rollover, none failed", lookups.Load())

	// Restart with signing: still naming the old key: the new key stays, for signing and for the SML.
	stopSMP()
	a2, err := smpapp.New(ctx, cfg, nil, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if a2.Service().Generation() != 2 || smp.Fingerprint(a2.Service().Certificate()) != smp.Fingerprint(newLeaf.Cert) {
		t.Fatalf("after a restart the signing key reverted: generation %d, %s", a2.Service().Generation(), a2.Service().Certificate().Subject)
	}
	if a2.Service().Stale() {
		t.Error("after a restart the documents are to be re-signed again")
	}
	if _, err := a2.SMLClient().List(ctx); err != nil {
		t.Fatalf("after a restart the SML client does not use the new certificate: %v", err)
	}
}

// TestRekeyAtOnce: without an SML registration the switch happens at once; the new key is kept in the data
// directory and survives a restart with the old configuration; a configuration naming a third key still switches
// to it (the configured key wins over the store's unless it is one the store's key replaced).
func TestRekeyAtOnce(t *testing.T) {
	ca, _, dir, certFile, keyFile := newSigner(t, "Rekey Test CA", "SMP rekey first")
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile))
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ap := issue(t, ca, "demo ap")
	if err := smpapp.SeedDemo(ctx, a.Service(), ap.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	next := issue(t, ca, "SMP rekey second")
	keyPEM, _ := pki.EncodeKeyPEM(next.Key)
	l := smpadmin.Local{SMP: a.Service(), Creds: a.Credentials(), App: a}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if _, err := l.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM), At: tomorrow, Force: true}); err == nil {
		t.Fatal("--force with --at accepted")
	}
	if _, err := l.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM) + "x", At: "2020-01-01"}); err == nil {
		t.Fatal("a date in the past accepted")
	}
	res, err := l.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 2 || a.Service().Stale() {
		t.Fatalf("rekey at once: %+v, stale %v", res, a.Service().Stale())
	}
	a.Close()
	a, err = smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if smp.Fingerprint(a.Service().Certificate()) != smp.Fingerprint(next.Cert) || a.Service().Generation() != 2 {
		t.Fatalf("restart reverted to %s (generation %d)", a.Service().Certificate().Subject, a.Service().Generation())
	}
	a.Close()
	third := issue(t, ca, "SMP rekey third")
	if err := third.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	a, err = smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if smp.Fingerprint(a.Service().Certificate()) != smp.Fingerprint(third.Cert) || a.Service().Generation() != 3 {
		t.Fatalf("a new configured key did not win: %s (generation %d)", a.Service().Certificate().Subject, a.Service().Generation())
	}
}

// TestMigrationBetweenSMPs: a participant moves from one SMP instance to a second (two certificates of one CA)
// through migrate-out and migrate-in on their admin APIs: the SML's DNS answer moves, and a lookup finds the new
// SMP's endpoint. migrate-in refuses a participant whose service group is not on the SMP yet, and a cancelled key
// no longer works.
func TestMigrationBetweenSMPs(t *testing.T) {
	p := newRolloverPKI(t)
	s := startSMLStack(t, p)
	ctx := context.Background()
	type node struct {
		app   *smpapp.App
		cfg   *conf.SMP
		admin *smpadmin.Client
		url   string
	}
	start := func(id string) *node {
		_, c, k := p.leaf(t, p.g2, id, pki.SMPCert)
		cfg := smpConfig(t, t.TempDir(), id, c, k, p.g2File, s)
		a, err := smpapp.New(ctx, cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		startAll(t, a.Servers(), func() { _ = a.Close() })
		return &node{app: a, cfg: cfg, admin: adminClient(t, a, cfg), url: "http://" + a.Addr()}
	}
	from, to := start("SMP-FROM"), start("SMP-TO")
	req := demoRequest(t)
	ap := issue(t, p.g2, "demo ap")
	if err := smpapp.SeedDemo(ctx, from.app.Service(), ap.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	waitNAPTR(t, s, req.Participant, from.url) // registered by from's registrar
	lc := lookupClient(t, s, p.g2.Cert)
	r, err := lc.Lookup(ctx, req)
	if err != nil || r.Endpoint.Address != smpapp.DemoAddress {
		t.Fatalf("lookup before: %v %v", r, err)
	}

	// The new SMP without the service group: a clear refusal, nothing changes.
	if _, err := to.admin.MigrateIn(ctx, smpapp.DemoParticipant, "Aa11@@bbCC22%%"); err == nil || !strings.Contains(err.Error(), "create-in-sml=false") {
		t.Fatalf("migrate-in without the group: %v", err)
	}
	const newAddress = "https://ap-to.signpost.test/as4"
	no := false
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(smp.Record{Group: &smp.GroupJSON{Participant: smpapp.DemoParticipant, InSML: &no}})
	_ = enc.Encode(smp.Record{Metadata: &smp.MetadataJSON{Participant: smpapp.DemoParticipant, DocumentType: smpapp.DemoDocumentType,
		Processes: []smp.ProcessJSON{{ID: smpapp.DemoProcess, Endpoints: []smp.EndpointJSON{{TransportProfile: smpapp.DemoTransport,
			Address: newAddress, Certificate: ap.Cert.Raw, Description: "new AP", TechnicalContactURL: "mailto:to@signpost.test"}}}}}})
	if _, err := to.app.Service().Import(ctx, "to", &buf, nil); err != nil {
		t.Fatal(err)
	}

	// A cancelled key no longer works.
	out, err := from.admin.MigrateOut(ctx, smpapp.DemoParticipant, false)
	if err != nil || out.Key == "" {
		t.Fatalf("migrate-out: %+v %v", out, err)
	}
	if c, err := from.admin.MigrateOut(ctx, smpapp.DemoParticipant, true); err != nil || c.Key != "" {
		t.Fatalf("migrate-out --cancel: %+v %v", c, err)
	}
	if _, err := to.admin.MigrateIn(ctx, smpapp.DemoParticipant, out.Key); err == nil {
		t.Fatal("a cancelled migration key was accepted")
	}

	out, err = from.admin.MigrateOut(ctx, smpapp.DemoParticipant, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := to.admin.MigrateIn(ctx, smpapp.DemoParticipant, out.Key); err != nil {
		t.Fatal(err)
	}
	waitNAPTR(t, s, req.Participant, to.url)
	r, err = lc.Lookup(ctx, req)
	if err != nil || r.Endpoint.Address != newAddress {
		t.Fatalf("lookup after the migration: %+v %v, want the new SMP's endpoint %s", r, err, newAddress)
	}
	reg, ok, err := to.app.Service().Registration(ctx, req.Participant)
	if err != nil || !ok || reg.State != smp.RegRegistered {
		t.Fatalf("the new SMP's registration: %+v %v %v, want registered", reg, ok, err)
	}
	sg, err := to.app.Service().GetServiceGroup(ctx, req.Participant)
	if err != nil || !sg.InSML {
		t.Fatalf("the new SMP's group is not marked in the SML: %+v %v", sg, err)
	}

	// The old SMP's operator deletes the group it gave up: its delete intent is done (the participant is not
	// its own any more), not failed, and the new SMP keeps the participant.
	if err := from.app.Service().DeleteServiceGroup(ctx, smp.System, req.Participant); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		reg, ok, err := from.app.Service().Registration(ctx, req.Participant)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if reg.State == smp.RegFailed || i == 500 {
			t.Fatalf("the old SMP's delete after the migration: %+v, want done", reg)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitNAPTR(t, s, req.Participant, to.url)
}

// TestScheduledKeyConfiguredEarly: a switch scheduled without an SML happens at its moment; when the operator
// points signing: at the scheduled key before the moment, that key signs from the restart on, and the moment
// then completes the schedule without another generation.
func TestScheduledKeyConfiguredEarly(t *testing.T) {
	ca, _, dir, certFile, keyFile := newSigner(t, "Early Test CA", "SMP early first")
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile))
	ctx := context.Background()
	clock := &fakeClock{}
	a, err := smpapp.New(ctx, cfg, nil, nil, smpapp.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	next := issue(t, ca, "SMP early next")
	keyPEM, _ := pki.EncodeKeyPEM(next.Key)
	now := clock.Now().UTC()
	date := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	res, err := a.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM), At: date.Format(time.DateOnly)})
	if err != nil || res.SMLAnnounced || len(res.Warnings) == 0 {
		t.Fatalf("rekey --at without an SML: %+v %v", res, err)
	}
	if switched, err := a.SwitchIfDue(ctx); switched || err != nil || a.Service().Generation() != 1 {
		t.Fatalf("switched before the moment: %v %v", switched, err)
	}
	a.Close()
	if err := next.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	a, err = smpapp.New(ctx, cfg, nil, nil, smpapp.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Service().Generation() != 2 {
		t.Fatalf("the configured key does not sign: generation %d", a.Service().Generation())
	}
	clock.jumpTo(date.Add(time.Minute))
	if _, err := a.SwitchIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	ks, ok := a.KeySchedule()
	if !ok || ks.Pending() || a.Service().Generation() != 2 {
		t.Fatalf("after the moment: schedule %+v, generation %d", ks, a.Service().Generation())
	}
	if st, err := a.Service().Status(ctx); err != nil || st.KeySwitch != nil {
		t.Fatalf("status still shows the switch: %+v %v", st.KeySwitch, err)
	}
}
