package app_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// within is the generous bound of the tests: what one node wrote is seen by the other within it (the goal, 1 s,
// is measured by make bench, never asserted).
const within = 10 * time.Second

// node is another SMP app on the database of f (the same configuration, its own listeners).
func (f *writeFixture) node(t *testing.T, opts ...smpapp.Option) *writeFixture {
	t.Helper()
	b := *f
	b.o = ops.New()
	var err error
	if b.app, err = smpapp.New(context.Background(), f.cfg, nil, b.o, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.app.Close() })
	serve(t, b.app)
	b.base = "http://" + b.app.Addr()
	return &b
}

// eventually polls cond until it holds, failing the test after within.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not within %s; last: %s", what, within, last)
}

func pgFixture(t *testing.T) (*writeFixture, *pgtest.Cluster) {
	t.Helper()
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	return newWriteFixtureWith(t, "", func(cfg *conf.SMP) { cfg.Store.Backend, cfg.Store.DSN = conf.BackendPostgres, dsn }), c
}

// TestTwoNodes: two SMP nodes on one database. A PUT on A is served by B, signed (xmlsec1 verifies it); a change
// and a delete on A replace what B had cached; a token revoked on A is refused by B; one node at a time runs the
// single-node jobs, and the other takes over when it goes.
func TestTwoNodes(t *testing.T) {
	a, _ := pgFixture(t)
	b := a.node(t)
	const pid = "iso6523-actorid-upis::9915:nodes"
	gpath := "/" + seg(pid)
	mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
	a.want(a.do("PUT", gpath, "alice", []byte(strings.Replace(groupBodyFmt, "%s", "9915:nodes", 1))), 201, "created")
	a.want(a.do("PUT", mpath, "alice", a.metaBody("9915:nodes", invoice, "https://ap.example/one", "", a.ap.Cert.Raw)), 201, "created")
	if n := pgtest.Metric(t, a.o.Registry, "signpost_postgres_acquires_total", map[string]string{"schema": "smp"}); n < 1 {
		t.Errorf("node A's pool metrics count %v acquisitions after its writes", n)
	}
	for _, p := range []string{mpath, "/bdxr-smp-2" + gpath, "/bdxr-smp-2" + mpath} {
		r := b.do("GET", p, "", nil)
		b.want(r, 200, "9915:nodes")
		xmlsecOK(t, a.caFile, []byte(r.body))
	}
	b.want(b.do("GET", mpath, "", nil), 200, "https://ap.example/one") // cached on B now
	b.want(b.do("GET", "/bdxr-smp-2"+mpath, "", nil), 200, "https://ap.example/one")

	// A change on A: B serves the new document although it had the old one cached, in both flavours.
	a.want(a.do("PUT", mpath, "alice", a.metaBody("9915:nodes", invoice, "https://ap.example/two", "", a.ap.Cert.Raw)), 200, "")
	for _, p := range []string{mpath, "/bdxr-smp-2" + mpath} {
		eventually(t, "B serves the change of "+p, func() (bool, string) {
			r := b.do("GET", p, "", nil)
			return r.code == 200 && strings.Contains(r.body, "https://ap.example/two"), fmt.Sprintf("%d %.200s", r.code, r.body)
		})
		xmlsecOK(t, a.caFile, []byte(b.do("GET", p, "", nil).body))
	}
	// A write on B is served by A (both directions).
	b.want(b.do("PUT", mpath, "alice", a.metaBody("9915:nodes", invoice, "https://ap.example/three", "", a.ap.Cert.Raw)), 200, "")
	eventually(t, "A serves B's change", func() (bool, string) {
		r := a.do("GET", mpath, "", nil)
		return strings.Contains(r.body, "https://ap.example/three"), fmt.Sprintf("%d %.200s", r.code, r.body)
	})
	// A delete on A: B answers 404.
	b.want(b.do("GET", gpath, "", nil), 200, "9915:nodes")
	a.want(a.do("DELETE", gpath, "alice", nil), 200, "")
	eventually(t, "B forgets the deleted group", func() (bool, string) {
		r := b.do("GET", gpath, "", nil)
		return r.code == 404, fmt.Sprintf("%d %.200s", r.code, r.body)
	})

	// A token revoked on A is refused by B.
	ctx := context.Background()
	tok, ti, err := a.app.Credentials().CreateToken(ctx, "carol", false)
	if err != nil {
		t.Fatal(err)
	}
	b.tok["carol"] = tok
	b.want(b.do("PUT", "/"+seg("iso6523-actorid-upis::9915:carol"), "carol", []byte(strings.Replace(groupBodyFmt, "%s", "9915:carol", 1))), 201, "created")
	if err := a.app.Credentials().RevokeToken(ctx, ti.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B refuses the revoked token", func() (bool, string) {
		r := b.do("DELETE", "/"+seg("iso6523-actorid-upis::9915:carol"), "carol", nil)
		return r.code == 401, fmt.Sprintf("%d %.200s", r.code, r.body)
	})

	// One node runs the single-node jobs; when it goes, the other takes over.
	var leader, other *writeFixture
	eventually(t, "one leader", func() (bool, string) {
		ra, rb := a.app.RunsJobs(), b.app.RunsJobs()
		switch {
		case ra && !rb:
			leader, other = a, b
		case rb && !ra:
			leader, other = b, a
		}
		return ra != rb, fmt.Sprintf("A runs jobs %v, B %v", ra, rb)
	})
	time.Sleep(3 * smpapp.LeaderPoll)
	if !leader.app.RunsJobs() || other.app.RunsJobs() {
		t.Fatal("the leader changed while both nodes ran")
	}
	if l, o := gauge(t, leader.o, "signpost_smp_runs_jobs"), gauge(t, other.o, "signpost_smp_runs_jobs"); l != 1 || o != 0 {
		t.Errorf("signpost_smp_runs_jobs: %v on the leader, %v on the other node", l, o)
	}
	_ = leader.app.Close()
	eventually(t, "the other node takes over", func() (bool, string) { return other.app.RunsJobs(), "" })
}

// TestPostgresDown: PostgreSQL stops for 10 s during a stream of PUTs. Every acknowledged PUT is there afterwards,
// every refused one got 503 with Retry-After; a cached document is served throughout while a read the cache
// cannot answer gets 503 too; /readyz says why while /healthz stays 200; everything resumes once PostgreSQL is
// back, with no restart.
func TestPostgresDown(t *testing.T) {
	f, c := pgFixture(t)
	const cachedPID = "iso6523-actorid-upis::9915:cached"
	cpath := "/" + seg(cachedPID) + "/services/" + seg("busdox-docid-qns::"+invoice)
	f.want(f.do("PUT", "/"+seg(cachedPID), "alice", []byte(strings.Replace(groupBodyFmt, "%s", "9915:cached", 1))), 201, "created")
	f.want(f.do("PUT", cpath, "alice", f.metaBody("9915:cached", invoice, "https://ap.example/cached", "", f.ap.Cert.Raw)), 201, "created")
	f.want(f.do("GET", cpath, "", nil), 200, "https://ap.example/cached")
	g := f.node(t) // a second node, which has the document cached too
	g.want(g.do("GET", cpath, "", nil), 200, "https://ap.example/cached")

	probe := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		f.o.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}

	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		acked     []string
		refused   int
		afterBack atomic.Int32
		back      atomic.Bool
		readErr   atomic.Value
	)
	wg.Add(2)
	go func() { // the writer
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			v := fmt.Sprintf("9915:w%04d", i)
			r := f.do("PUT", "/"+seg("iso6523-actorid-upis::"+v), "alice", []byte(strings.Replace(groupBodyFmt, "%s", v, 1)))
			mu.Lock()
			switch {
			case r.code == 201:
				acked = append(acked, v)
				if back.Load() {
					afterBack.Add(1)
				}
			case r.code == 503 && r.hdr.Get("Retry-After") != "":
				refused++
			default:
				mu.Unlock()
				readErr.Store(fmt.Sprintf("PUT %s: %d (Retry-After %q) %s", v, r.code, r.hdr.Get("Retry-After"), r.body))
				return
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	go func() { // the reader of a cached document, on both nodes
		defer wg.Done()
		for !stop.Load() {
			for _, n := range []*writeFixture{f, g} {
				if r := n.do("GET", cpath, "", nil); r.code != 200 || !strings.Contains(r.body, "https://ap.example/cached") {
					readErr.Store(fmt.Sprintf("cached GET: %d %.200s", r.code, r.body))
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	c.Stop()
	eventually(t, "a PUT refused while PostgreSQL is down", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return refused > 0, ""
	})
	// A read the cache cannot answer fails fast with 503 and Retry-After; readiness says why, health stays up.
	if r := f.do("GET", "/"+seg("iso6523-actorid-upis::9915:never"), "", nil); r.code != 503 || r.hdr.Get("Retry-After") == "" {
		t.Errorf("uncached GET with PostgreSQL down: %d (Retry-After %q) %s", r.code, r.hdr.Get("Retry-After"), r.body)
	}
	if code, body := probe("/readyz"); code != 503 || !strings.Contains(body, "database is unavailable") {
		t.Errorf("readyz with PostgreSQL down: %d %s", code, body)
	}
	if code, body := probe("/healthz"); code != 200 {
		t.Errorf("healthz with PostgreSQL down: %d %s", code, body)
	}
	// The console: a page behind a session, and a login, say to come back later.
	req, _ := http.NewRequest("GET", "http://"+f.app.AdminAddr()+"/", nil)
	req.AddCookie(&http.Cookie{Name: "signpost_smp_session", Value: "some-session"})
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("console page with PostgreSQL down: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	login := "user=alice&password=" + strings.Repeat("x", 14)
	req, _ = http.NewRequest("POST", "http://"+f.app.AdminAddr()+"/login", strings.NewReader(login))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+f.app.AdminAddr())
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("console login with PostgreSQL down: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	time.Sleep(10 * time.Second)
	c.Restart()
	back.Store(true)
	eventually(t, "PUTs acknowledged again once PostgreSQL is back", func() (bool, string) {
		return afterBack.Load() >= 3, fmt.Sprint(readErr.Load())
	})
	stop.Store(true)
	wg.Wait()
	if e := readErr.Load(); e != nil {
		t.Fatal(e)
	}
	if code, body := probe("/readyz"); code != 200 {
		t.Errorf("readyz after PostgreSQL came back: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range acked {
		if r := f.do("GET", "/"+seg("iso6523-actorid-upis::"+v), "", nil); r.code != 200 {
			t.Errorf("acknowledged PUT of %s lost: GET %d", v, r.code)
		}
	}
	t.Logf("%d PUTs acknowledged, %d refused with 503", len(acked), refused)
	if resp, err := http.Get(f.base + cpath); err != nil || resp.StatusCode != 200 {
		t.Errorf("cached GET at the end: %v %v", resp, err)
	}
	// The second node listens again: a change on the first replaces what it had cached.
	f.want(f.do("PUT", cpath, "alice", f.metaBody("9915:cached", invoice, "https://ap.example/after-outage", "", f.ap.Cert.Raw)), 200, "")
	eventually(t, "the other node serves a change made after the outage", func() (bool, string) {
		r := g.do("GET", cpath, "", nil)
		return strings.Contains(r.body, "https://ap.example/after-outage"), fmt.Sprintf("%d %.200s", r.code, r.body)
	})
}

// TestKilledNode: one of two nodes on one database is killed with SIGKILL while it writes. Every write it
// acknowledged is served by the other node, which kept serving its cached documents throughout, and still writes.
func TestKilledNode(t *testing.T) {
	if path := os.Getenv("SIGNPOST_SMP_NODE_CHILD"); path != "" {
		childNode(path)
		return
	}
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	_, _, dir, certFile, keyFile := newSigner(t, "Kill Test CA", "SMP kill signer")
	y := fmt.Sprintf("store: {backend: postgres, dsn: %q}\nops: {addr: \"\"}\nhttp: {listen: \"127.0.0.1:0\"}\n"+
		"admin: {listen: \"127.0.0.1:0\", token_file: %s}\nsmp_id: SMP-TEST\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		dsn, filepath.Join(dir, "smp-admin.token"), certFile, keyFile)
	path := filepath.Join(dir, "smp.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.LoadSMP(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	serve(t, b)
	cached := "iso6523-actorid-upis::9915:b-cached"
	id, err := cfg.Policy().Parse(identifier.Participant, cached)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Service().PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: id}, smp.GroupWrite{}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var readErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // B serves while A writes and dies
		defer wg.Done()
		for !stop.Load() {
			resp, err := http.Get("http://" + b.Addr() + "/" + seg(cached))
			if err != nil {
				readErr.Store(err.Error())
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				readErr.Store(fmt.Sprintf("GET on B: %d", resp.StatusCode))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	acked := testproc.KillAfterAcks(t, "TestKilledNode", "SIGNPOST_SMP_NODE_CHILD="+path, 40)
	for _, p := range acked {
		if code, body := get(t, "http://"+b.Addr()+"/"+seg(p)); code != 200 {
			t.Errorf("%s acknowledged by the killed node, GET on the other: %d %s", p, code, body)
		}
	}
	late, _ := cfg.Policy().Parse(identifier.Participant, "iso6523-actorid-upis::9915:after-kill")
	if _, err := b.Service().PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: late}, smp.GroupWrite{}); err != nil {
		t.Errorf("write on the remaining node after the kill: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	if e := readErr.Load(); e != nil {
		t.Fatal(e)
	}
	eventually(t, "the remaining node runs the single-node jobs", func() (bool, string) { return b.RunsJobs(), "" })
}

// childNode serves the SMP of the configuration at path as a second node and writes service groups, reporting
// each once PutServiceGroup has returned.
func childNode(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg, err := conf.LoadSMP(path)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		fail(err)
	}
	for _, s := range a.Servers() {
		if err := s.Start(ctx); err != nil {
			fail(err)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		p := fmt.Sprintf("iso6523-actorid-upis::9915:killed-%05d", i)
		id, err := cfg.Policy().Parse(identifier.Participant, p)
		if err != nil {
			fail(err)
		}
		if _, err := a.Service().PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: id}, smp.GroupWrite{}); err != nil {
			fail(err)
		}
		fmt.Fprintln(w, "acked", p)
		w.Flush()
	}
}

// TestTwoNodesRekey: a signing key switched at once on node A (its files in the data directory both nodes use) is
// followed by node B, which signs its writes with it, and the node holding the lock re-signs every document: B
// serves them all signed by the new certificate (xmlsec1 verifies them).
func TestTwoNodesRekey(t *testing.T) {
	a, _ := pgFixture(t)
	b := a.node(t)
	const n = 5
	paths := make([]string, 0, n)
	for i := range n {
		v := fmt.Sprintf("9915:rekey%d", i)
		gpath := "/" + seg("iso6523-actorid-upis::"+v)
		mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
		a.want(a.do("PUT", gpath, "alice", []byte(strings.Replace(groupBodyFmt, "%s", v, 1))), 201, "created")
		a.want(a.do("PUT", mpath, "alice", a.metaBody(v, invoice, "https://ap.example/rekey", "", a.ap.Cert.Raw)), 201, "created")
		paths = append(paths, mpath)
		b.want(b.do("GET", mpath, "", nil), 200, v) // cached on B, signed by the first key
	}
	next := issue(t, a.ca, "SMP write signer 2")
	keyPEM, err := pki.EncodeKeyPEM(next.Key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.app.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM)}); err != nil {
		t.Fatal(err)
	}
	newCert := base64.StdEncoding.EncodeToString(next.Cert.Raw)
	eventually(t, "B signs with the new key", func() (bool, string) {
		return b.app.Service().Generation() == a.app.Service().Generation() &&
			smp.Fingerprint(b.app.Service().Certificate()) == smp.Fingerprint(next.Cert), fmt.Sprintf("B at generation %d", b.app.Service().Generation())
	})
	// A write on B is signed by the new key.
	mpath := "/" + seg("iso6523-actorid-upis::9915:rekey0") + "/services/" + seg("busdox-docid-qns::"+invoice)
	b.want(b.do("PUT", mpath, "alice", a.metaBody("9915:rekey0", invoice, "https://ap.example/after", "", a.ap.Cert.Raw)), 200, "")
	for _, p := range paths {
		eventually(t, "B serves "+p+" signed by the new key", func() (bool, string) {
			r := b.do("GET", p, "", nil)
			return r.code == 200 && strings.Contains(r.body, newCert), fmt.Sprintf("%d", r.code)
		})
		xmlsecOK(t, a.caFile, []byte(b.do("GET", p, "", nil).body))
	}
	eventually(t, "nothing left to re-sign, and both nodes know it", func() (bool, string) {
		need, err := b.app.Service().NeedsResign(ctx)
		return err == nil && !need && !a.app.Service().Stale() && !b.app.Service().Stale(),
			fmt.Sprintf("need %v (%v), stale on A %v, on B %v", need, err, a.app.Service().Stale(), b.app.Service().Stale())
	})
}

// TestTwoNodesRekeyAt: a switch scheduled with rekey --at on node A is carried out by the nodes whose clocks reach
// the moment first (B and C here, while A's clock is still before it): both learn of the schedule from the store
// while running, the key switches once (one generation, whichever node is first), A follows, and the documents are
// re-signed with the new key.
func TestTwoNodesRekeyAt(t *testing.T) {
	a, _ := pgFixture(t)
	const v = "9915:rekeyat"
	gpath := "/" + seg("iso6523-actorid-upis::"+v)
	mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
	a.want(a.do("PUT", gpath, "alice", []byte(strings.Replace(groupBodyFmt, "%s", v, 1))), 201, "created")
	a.want(a.do("PUT", mpath, "alice", a.metaBody(v, invoice, "https://ap.example/rekeyat", "", a.ap.Cert.Raw)), 201, "created")

	now := time.Now().UTC()
	at := now.Truncate(24 * time.Hour).Add(24 * time.Hour) // 00:00 UTC tomorrow, the moment of `rekey --at` tomorrow
	ahead := at.Sub(now) + time.Minute
	clock := smpapp.WithClock(func() time.Time { return time.Now().Add(ahead) })
	tick := smpapp.WithScheduleTick(20 * time.Millisecond)
	b, c := a.node(t, clock, tick), a.node(t, clock, tick) // started before the schedule exists
	gen := a.app.Service().Generation()

	next, err := a.ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "SMP scheduled signer", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(next.Key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.app.Rekey(context.Background(), httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM), At: at.Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.At.Equal(at) {
		t.Fatalf("scheduled for %s, want %s", res.At, at)
	}
	fp := smp.Fingerprint(next.Cert)
	for name, n := range map[string]*writeFixture{"A": a, "B": b, "C": c} {
		eventually(t, name+" signs with the scheduled key, one generation on", func() (bool, string) {
			svc := n.app.Service()
			return smp.Fingerprint(svc.Certificate()) == fp && svc.Generation() == gen+1,
				fmt.Sprintf("generation %d (before: %d), %s", svc.Generation(), gen, svc.Certificate().Subject)
		})
	}
	if ks, ok := b.app.KeySchedule(); !ok || ks.Pending() || ks.Fingerprint != fp {
		t.Errorf("B's schedule: %+v (%v); want the switch to %s done", ks, ok, next.Cert.Subject)
	}
	newCert := base64.StdEncoding.EncodeToString(next.Cert.Raw)
	for name, n := range map[string]*writeFixture{"A": a, "B": b} {
		eventually(t, name+" serves the document signed by the scheduled key", func() (bool, string) {
			r := n.do("GET", mpath, "", nil)
			return r.code == 200 && strings.Contains(r.body, newCert), fmt.Sprintf("%d", r.code)
		})
		xmlsecOK(t, a.caFile, []byte(n.do("GET", mpath, "", nil).body))
	}
	// Still one generation on, after every node had its chance to switch.
	time.Sleep(200 * time.Millisecond)
	for name, n := range map[string]*writeFixture{"A": a, "B": b, "C": c} {
		if g := n.app.Service().Generation(); g != gen+1 {
			t.Errorf("%s at generation %d, want %d: the scheduled switch was made more than once", name, g, gen+1)
		}
	}
}

// gauge returns the value of a metric without labels.
func gauge(t *testing.T, o *ops.Ops, name string) float64 {
	t.Helper()
	mfs, err := o.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestSharedStoreRefusesOlderKey: after a rekey on node A, a node whose data directory lacks the new key's files
// refuses to start, saying which files to copy, instead of switching every node back to its configured older key;
// the nodes keep signing with the new key.
func TestSharedStoreRefusesOlderKey(t *testing.T) {
	a, _ := pgFixture(t)
	next := issue(t, a.ca, "SMP write signer 2")
	keyPEM, err := pki.EncodeKeyPEM(next.Key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.app.Rekey(ctx, httpapi.RekeyRequest{CertificatePEM: string(pki.EncodeCertPEM(next.Cert)), KeyPEM: string(keyPEM)}); err != nil {
		t.Fatal(err)
	}
	cfg := *a.cfg
	cfg.Store.Path = filepath.Join(t.TempDir(), "smp.db") // another data directory, without the key files
	cfg.Admin.TokenFile = filepath.Join(filepath.Dir(cfg.Store.Path), "smp-admin.token")
	c, err := smpapp.New(ctx, &cfg, nil, ops.New())
	if err == nil {
		_ = c.Close()
		t.Fatal("a node without the active key's files started on the shared store")
	}
	if !strings.Contains(err.Error(), "copy them from the node that ran the rekey") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}
	if got := smp.Fingerprint(a.app.Service().Certificate()); got != smp.Fingerprint(next.Cert) {
		t.Errorf("node A signs with %s after the refused start, want the new key", got)
	}
	if need, err := a.app.Service().NeedsResign(ctx); err != nil {
		t.Fatal(err)
	} else if gen := a.app.Service().Generation(); gen != 2 {
		t.Errorf("generation %d after the refused start, want 2 (need re-sign %v)", gen, need)
	}
}
