package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// Several SML nodes on one PostgreSQL database (store.backend postgres): each node answers DNS from its own index
// and applies what the other nodes commit (sml.Service.Follow on pgrepo's LISTEN/NOTIFY feed). The writes go over
// SOAP (management.proxy on loopback, the SMP's certificate in the proxy header), the reads over real DNS.

// smpPKI is the development PKI of a test: the CA file the domain trusts, and the SMP certificate as the proxy
// header carries it.
type smpPKI struct {
	ca, header string
}

func newSMPPKI(t testing.TB) smpPKI {
	t.Helper()
	files, _, err := pki.EnsureDev(filepath.Join(t.TempDir(), "pki"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	smp, err := pki.LoadKeyPair(files.SMP, files.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	return smpPKI{ca: files.CA, header: strings.ReplaceAll(url.QueryEscape(string(pki.EncodeCertPEM(smp.Cert))), "+", "%20")}
}

// certHeader adds the SMP certificate header of management.proxy to every request.
type certHeader string

func (h certHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-SSL-Client-Cert", string(h))
	return http.DefaultTransport.RoundTrip(r)
}

// node is one running SML node of a test.
type node struct {
	name string
	app  *App
	ops  *ops.Ops
	dns  string // UDP and TCP address
	soap *soapmsg.Client
	// admin is the admin API's address, token its bearer token.
	admin, token string
	stop         func()
}

// startNode starts an SML node on the PostgreSQL database dsn, with the domain sml.test; notify are its
// secondaries.
func startNode(t testing.TB, name, dsn string, p smpPKI, notify ...string) *node {
	t.Helper()
	dir := t.TempDir()
	dnsAddr, soapAddr, adminAddr := testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)
	notifyYAML := ""
	if len(notify) > 0 {
		notifyYAML = "\n  notify: [" + strings.Join(notify, ", ") + "]\n  notify_delay: 50ms"
	}
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  backend: postgres
  dsn: `+dsn+`
dns:
  listen: `+dnsAddr+notifyYAML+`
  allow_transfer: [127.0.0.1]
admin:
  listen: `+adminAddr+`
  token_file: `+filepath.Join(dir, "admin.token")+`
management:
  listen: `+soapAddr+`
  proxy:
    addresses: [127.0.0.0/8]
domains:
  - zone: sml.test
    records: [naptr, cname]
    trusted_issuers: `+p.ca+`
`))
	if err != nil {
		t.Fatal(err)
	}
	o := ops.New()
	a, stop := startApp(t, cfg, o)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, app: a, ops: o, dns: dnsAddr, admin: adminAddr, token: strings.TrimSpace(string(tok)),
		soap: &soapmsg.Client{BaseURL: "http://" + soapAddr, HTTP: &http.Client{Transport: certHeader(p.header), Timeout: 30 * time.Second}}}
	n.stop = stop
	return n
}

const scheme = "iso6523-actorid-upis"

// unavailableFault is the whole fault string of a write refused while PostgreSQL is down (an InternalErrorFault).
const unavailableFault = "[ERR-105] The SML's database is unavailable; try the request again in a few seconds"

// answers asks the node's DNS (UDP) for the participant's NAPTR: true when answered, false on NXDOMAIN.
func (n *node) answers(v string) (bool, error) {
	id := identifier.ID{Scheme: scheme, Value: v}
	m := new(dns.Msg)
	m.SetQuestion(identifier.NAPTRName(id, "sml.test.", identifier.SchemeLabel), dns.TypeNAPTR)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, n.dns)
	if err != nil {
		return false, err
	}
	switch {
	case r.Rcode == dns.RcodeSuccess && r.Authoritative && len(r.Answer) == 1:
		return true, nil
	case r.Rcode == dns.RcodeNameError && r.Authoritative:
		return false, nil
	}
	return false, fmt.Errorf("%s: answer %s with %d records", n.name, dns.RcodeToString[r.Rcode], len(r.Answer))
}

// twoNodes starts nodes A and B on the database dsn (B with the secondaries notify) and creates the SMP SMP-1 over
// SOAP on A.
func twoNodes(t testing.TB, dsn string, notify ...string) (a, b *node) {
	t.Helper()
	p := newSMPPKI(t)
	a = startNode(t, "node A", dsn, p)
	b = startNode(t, "node B", dsn, p, notify...)
	if err := a.soap.CreateSMP(context.Background(), "SMP-1", "http://smp.example.org", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// create creates the participant v of SMP-1 over SOAP on n.
func (n *node) create(t testing.TB, v string) {
	t.Helper()
	if err := n.soap.CreateParticipant(context.Background(), "SMP-1", scheme, v); err != nil {
		t.Fatalf("%s: create %s: %v", n.name, v, err)
	}
}

// waitAnswers waits (10 s) until the node's DNS answers every participant of vals.
func (n *node) waitAnswers(t *testing.T, vals ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, v := range vals {
		for {
			ok, err := n.answers(v)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer participant %s within 10 s (%v)", n.name, v, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// serial is the SOA serial the node's DNS answers (UDP).
func (n *node) serial() (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion("sml.test.", dns.TypeSOA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, n.dns)
	if err != nil {
		return 0, err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return 0, fmt.Errorf("%s: SOA %s", n.name, dns.RcodeToString[r.Rcode])
	}
	return r.Answer[0].(*dns.SOA).Serial, nil
}

// committed is the zone's serial in the database.
func (n *node) committed(t *testing.T) uint32 {
	t.Helper()
	st, err := n.app.Service().Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st[0].Serial
}

// waitSerial waits (10 s) until the node's DNS serves serial want.
func (n *node) waitSerial(t *testing.T, want uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := n.serial()
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves serial %d (%v), want %d", n.name, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches path from the node's operations handler.
func (n *node) get(path string) (int, string) {
	srv := httptest.NewServer(n.ops.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// adminStatus asks the node's admin API for its status: the HTTP status and the Retry-After header.
func (n *node) adminStatus() (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.admin+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+n.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// serialWatch asks each node for its SOA serial every few milliseconds until stopped, and reports a serial that
// goes back.
type serialWatch struct {
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	errs   []string
	checks int
}

func watchSerials(nodes ...*node) *serialWatch {
	w := &serialWatch{stop: make(chan struct{})}
	for _, n := range nodes {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			var last uint32
			for {
				select {
				case <-w.stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				s, err := n.serial()
				w.mu.Lock()
				w.checks++
				switch {
				case err != nil:
					w.errs = append(w.errs, err.Error())
				case last != 0 && int32(s-last) < 0:
					w.errs = append(w.errs, fmt.Sprintf("%s: serial went back from %d to %d", n.name, last, s))
				}
				w.mu.Unlock()
				if err == nil {
					last = s
				}
			}
		}()
	}
	return w
}

func (w *serialWatch) end(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.done.Wait()
	if len(w.errs) > 0 {
		t.Errorf("%d of %d SOA queries failed or went back, e.g. %s", len(w.errs), w.checks, w.errs[0])
	}
}

// TestTwoNodesOnePostgres: a participant created over SOAP on node A is answered by node B's DNS, and a Knot
// secondary transferring from B converges. Then 4 concurrent SOAP writers, two on each node: both nodes end with
// the same zone (AXFR), and the serial each node's DNS answers never goes back.
func TestTwoNodesOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and Knot")
	}
	dsn := pgtest.DSN(t)
	knotPort := testnet.FreePort(t)
	// Knot's primary is node B; B notifies it (and so lets it transfer).
	a, b := twoNodes(t, dsn, fmt.Sprintf("127.0.0.1:%d", knotPort))
	knot := knotSecondary(t, knotPort, portOf(t, b.dns))
	ctx := context.Background()
	a.create(t, "0088:a1")
	b.waitAnswers(t, "0088:a1")
	converged(t, b.dns, knot, 10*time.Second)
	if n := pgtest.Metric(t, a.ops.Registry, "signpost_postgres_acquires_total", map[string]string{"schema": "sml"}); n < 1 {
		t.Errorf("node A's pool metrics count %v acquisitions after its writes", n)
	}

	w := watchSerials(a, b)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []string
	for i := range 4 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				v := fmt.Sprintf("0088:w%d-%d", i, j)
				if err := n.soap.CreateParticipant(ctx, "SMP-1", scheme, v); err != nil {
					t.Errorf("%s: create %s: %v", n.name, v, err)
					return
				}
				mu.Lock()
				created = append(created, v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := a.committed(t)
	a.waitSerial(t, want)
	b.waitSerial(t, want)
	w.end(t)
	za, sa, err := zoneSet(a.dns)
	if err != nil {
		t.Fatal(err)
	}
	zb, sb, err := zoneSet(b.dns)
	if err != nil {
		t.Fatal(err)
	}
	if sa != want || sb != want || !slices.Equal(za, zb) {
		t.Fatalf("node A's zone: %d records at %d, node B's: %d at %d; committed serial %d", len(za), sa, len(zb), sb, want)
	}
	naptrs := 0
	for _, rr := range za {
		if strings.Contains(rr, "\tnaptr\t") {
			naptrs++
		}
	}
	if naptrs != 1+len(created) {
		t.Errorf("the zone has %d NAPTR records for %d participants", naptrs, 1+len(created))
	}
	a.waitAnswers(t, created...)
	b.waitAnswers(t, created...)
	converged(t, b.dns, knot, 10*time.Second)
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}

// TestNodesWhilePostgresIsDown: PostgreSQL is stopped for 10 s during a stream of SOAP writes on both nodes. Every
// acknowledged write is answered by both nodes afterwards, every refused write got a fault that says the database
// is unavailable, DNS answered throughout, /readyz said why the node was not ready while /healthz stayed 200, and
// writes work again with no restart.
func TestNodesWhilePostgresIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops PostgreSQL")
	}
	cluster := pgtest.Start(t)
	dsn := cluster.NewDatabase(t)
	a, b := twoNodes(t, dsn)
	ctx := context.Background()
	a.create(t, "0088:before")
	b.waitAnswers(t, "0088:before")

	// DNS queries on both nodes throughout, for a participant that exists.
	stopDNS := make(chan struct{})
	var dnsWG sync.WaitGroup
	var dnsMu sync.Mutex
	var dnsFailures []string
	dnsQueries := 0
	for _, n := range []*node{a, b} {
		dnsWG.Add(1)
		go func() {
			defer dnsWG.Done()
			for {
				select {
				case <-stopDNS:
					return
				case <-time.After(10 * time.Millisecond):
				}
				ok, err := n.answers("0088:before")
				dnsMu.Lock()
				dnsQueries++
				if !ok {
					dnsFailures = append(dnsFailures, fmt.Sprintf("%s: %v", n.name, err))
				}
				dnsMu.Unlock()
			}
		}()
	}

	// Two writers, one per node, until told to stop.
	type result struct {
		v    string
		err  error
		took time.Duration
	}
	stopWrites := make(chan struct{})
	var wwg sync.WaitGroup
	var rmu sync.Mutex
	var results []result
	for i, n := range []*node{a, b} {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for j := 0; ; j++ {
				select {
				case <-stopWrites:
					return
				default:
				}
				v := fmt.Sprintf("0088:s%d-%d", i, j)
				start := time.Now()
				err := n.soap.CreateParticipant(ctx, "SMP-1", scheme, v)
				rmu.Lock()
				results = append(results, result{v, err, time.Since(start)})
				rmu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	cluster.Stop()
	down := time.Now()
	// While it is down: not ready, and why; alive.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := b.get("/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "unavailable") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/readyz with PostgreSQL down: %d %q", code, body)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := b.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with PostgreSQL down: %d", code)
	}
	if code, retry, err := a.adminStatus(); code != http.StatusServiceUnavailable || retry != "5" {
		t.Errorf("admin API status with PostgreSQL down: %d, Retry-After %q (%v); want 503 and 5", code, retry, err)
	}
	time.Sleep(10*time.Second - time.Since(down))
	cluster.Restart()
	// Writes resume with no restart of the nodes.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if err := a.soap.CreateParticipant(ctx, "SMP-1", scheme, "0088:after"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("writes do not resume after PostgreSQL is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stopWrites)
	wwg.Wait()
	close(stopDNS)
	dnsWG.Wait()

	var acked []string
	refused := 0
	for _, r := range results {
		var f *soapmsg.Fault
		switch {
		case r.err == nil:
			acked = append(acked, r.v)
		case errors.As(r.err, &f) && f.Kind == soapmsg.FaultInternal && f.String == unavailableFault:
			refused++
		default:
			t.Errorf("write %s refused without a clear fault: %v", r.v, r.err)
		}
		if r.took > 10*time.Second {
			t.Errorf("write %s took %v", r.v, r.took)
		}
	}
	if refused == 0 {
		t.Error("no write was refused while PostgreSQL was down")
	}
	acked = append(acked, "0088:after")
	want := a.committed(t)
	a.waitSerial(t, want)
	b.waitSerial(t, want)
	a.waitAnswers(t, acked...)
	b.waitAnswers(t, acked...)
	if code, body := b.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after PostgreSQL is back: %d %q", code, body)
	}
	if code, _, err := a.adminStatus(); code != http.StatusOK {
		t.Errorf("admin API status after PostgreSQL is back: %d (%v)", code, err)
	}
	if len(dnsFailures) > 0 {
		t.Errorf("%d of %d DNS queries failed while PostgreSQL was down, e.g. %s", len(dnsFailures), dnsQueries, dnsFailures[0])
	}
	t.Logf("%d writes acknowledged, %d refused while PostgreSQL was down; %d DNS queries", len(acked), refused, dnsQueries)
}

// TestTwoNodesBulkImport: a bulk import on node A resets the zone's journal; node B, whose serial is then no longer
// in the journal, loads the zone afresh and serves the same zone at the same serial, and follows the journal again
// for the next write.
func TestTwoNodesBulkImport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	dsn := pgtest.DSN(t)
	a, b := twoNodes(t, dsn)
	ctx := context.Background()
	var gen bytes.Buffer
	if err := sml.WriteGenerated(&gen, 3000, 3, "sml.test", "CN=Import,O=Test,C=BE:1"); err != nil {
		t.Fatal(err)
	}
	svc := a.app.Service()
	if err := sml.ReadImport(&gen, 1000, func(ib sml.ImportBatch) error { _, err := svc.Import(ctx, ib); return err }); err != nil {
		t.Fatal(err)
	}
	if st, _ := svc.Stats(); st[0].JournalEntries != 0 || st[0].Participants != 3000 {
		t.Fatalf("after the import: %+v; want an empty journal and 3000 participants", st[0])
	}
	want := a.committed(t)
	b.waitSerial(t, want)
	za, _, err := zoneSet(a.dns)
	if err != nil {
		t.Fatal(err)
	}
	zb, _, err := zoneSet(b.dns)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(za, zb) || len(za) < 6000 {
		t.Fatalf("after the import node A serves %d records, node B %d", len(za), len(zb))
	}
	a.create(t, "0088:after-import")
	b.waitAnswers(t, "0088:after-import")
	b.waitSerial(t, a.committed(t))
}
