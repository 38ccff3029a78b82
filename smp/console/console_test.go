package console_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/smp/console"
	"github.com/signpost-project/signpost/smp/xmlbind"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

// fixture is an SMP service with the console on a real loopback listener, and three users with passwords:
// root (administrator), alice and bob (owners).
type fixture struct {
	t     testing.TB
	db    *store.DB
	repo  *boltrepo.Repo
	svc   *smp.Service
	creds *auth.Service
	ca    *pki.Authority
	base  string
}

const password = "correct horse battery"

func newFixture(t testing.TB, users bool, opts ...func(*console.Options)) *fixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Console Test CA", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "console signer", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: storetest.Open(t), ca: ca}
	f.repo = boltrepo.New(f.db)
	f.svc, err = smp.New(context.Background(), f.repo, smp.Options{PublicURL: "http://smp.test", Flavour: smp.PEPPOL,
		Policy: identifier.PEPPOL, Binding: xmlbind.Binding{}, Key: leaf.Key, Chain: []*x509.Certificate{leaf.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	f.creds = auth.New(f.repo, nil)
	if users {
		for _, u := range []struct {
			name  string
			admin bool
		}{{"root", true}, {"alice", false}, {"bob", false}} {
			pw := password
			if err := f.creds.SetUser(context.Background(), u.name, auth.UserChange{Admin: u.admin, Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}
	}
	co := console.Options{SMP: f.svc, Creds: f.creds, Sessions: boltrepo.Sessions{DB: f.db}}
	for _, o := range opts {
		o(&co)
	}
	c, err := console.New(co)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.base = "http://" + ln.Addr().String()
	return f
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	f *fixture
	c *http.Client
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	code int
	body string
	hdr  http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) page {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "X-Body" { // a raw body (multipart), not a header
			body = strings.NewReader(hdr[i+1])
			hdr = append(hdr[:i:i], hdr[i+2:]...)
			break
		}
	}
	req, err := http.NewRequest(method, b.f.base+path, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(raw), hdr: resp.Header}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values, hdr ...string) page {
	return b.do(http.MethodPost, path, form, hdr...)
}

func (b *browser) login(user string) page {
	b.f.t.Helper()
	p := b.post("/login", url.Values{"user": {user}, "password": {password}})
	if p.code != http.StatusSeeOther {
		b.f.t.Fatalf("login %s: %d %s", user, p.code, p.body)
	}
	return p
}

func (f *fixture) addGroup(owner, participant string) identifier.ID {
	f.t.Helper()
	id, err := identifier.PEPPOL.Parse(identifier.Participant, participant)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.PutServiceGroup(context.Background(), smp.Principal{User: owner}, smp.ServiceGroup{Participant: id, InSML: true}, smp.GroupWrite{}); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) exists(id identifier.ID) bool {
	f.t.Helper()
	_, err := f.svc.GetServiceGroup(context.Background(), id)
	if err != nil && err != smp.ErrNotFound && !strings.Contains(err.Error(), "not found") {
		f.t.Fatal(err)
	}
	return err == nil
}

// TestLoginCookieAndLogout: pages redirect to the login page without a session; a wrong password is refused; the
// session cookie is HttpOnly and SameSite=Strict (and not Secure over plain HTTP); logout deletes the session in
// the store, so the old cookie no longer opens a page even when sent again by hand.
func TestLoginCookieAndLogout(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	for _, path := range []string{"/", "/groups", "/group?p=0088:1", "/users"} {
		p := b.get(path)
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.hdr.Get("Location"), "/login?next=") {
			t.Fatalf("GET %s without a session: %d %q", path, p.code, p.hdr.Get("Location"))
		}
	}
	if p := b.post("/login", url.Values{"user": {"alice"}, "password": {"wrong"}}); p.code != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong user name or password") {
		t.Fatalf("wrong password: %d", p.code)
	}
	p := b.login("alice")
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: p.hdr}).Cookies() {
		if c.Name == console.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no session cookie in %v", p.hdr)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.Path != "/" {
		t.Fatalf("cookie flags: %+v", cookie)
	}
	raw := p.hdr.Get("Set-Cookie")
	if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
		t.Fatalf("Set-Cookie %q", raw)
	}
	if p := b.get("/"); p.code != http.StatusOK || !strings.Contains(p.body, "Dashboard") {
		t.Fatalf("dashboard: %d", p.code)
	}
	if p := b.get("/"); p.hdr.Get("Content-Security-Policy") == "" || strings.Contains(p.hdr.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatalf("CSP %q", p.hdr.Get("Content-Security-Policy"))
	}
	if p := b.post("/logout", url.Values{}); p.code != http.StatusSeeOther || p.hdr.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", p.code, p.hdr.Get("Location"))
	}
	if p := b.get("/"); p.code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", p.code)
	}
	// The old cookie, replayed by hand, opens nothing: the session is gone from the store.
	replay := f.browser()
	u, _ := url.Parse(f.base)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: console.SessionCookie, Value: cookie.Value}})
	if p := replay.get("/"); p.code != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d", p.code)
	}
}

// TestLoginRateLimit: after 3 failed logins from one address (a limit of 3 an hour, so that the time the slow KDF
// takes gives none back), even the right password is refused with 429.
func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t, true, func(o *console.Options) {
		o.Limiter = ratelimit.New(ratelimit.Config{Failures: 3, Window: time.Hour})
	})
	b := f.browser()
	for i := range 3 {
		if p := b.post("/login", url.Values{"user": {"alice"}, "password": {fmt.Sprint("wrong", i)}}); p.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, p.code)
		}
	}
	p := b.post("/login", url.Values{"user": {"alice"}, "password": {password}})
	if p.code != http.StatusTooManyRequests || p.hdr.Get("Retry-After") == "" {
		t.Fatalf("4th login: %d Retry-After %q", p.code, p.hdr.Get("Retry-After"))
	}
}

// TestCrossOriginRefused: a POST carrying another site's Origin (or Sec-Fetch-Site: cross-site) is refused with
// 403 and changes nothing, with a valid session cookie; the same POST from the console's own origin works.
func TestCrossOriginRefused(t *testing.T) {
	f := newFixture(t, true)
	id := f.addGroup("alice", "iso6523-actorid-upis::0088:1001")
	b := f.browser()
	b.login("root")
	form := url.Values{"p": {id.String()}}
	for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		p := b.post("/group/delete", form, hdr...)
		if p.code != http.StatusForbidden {
			t.Fatalf("%v: %d %s", hdr, p.code, p.body)
		}
		if !f.exists(id) {
			t.Fatalf("%v: the group was deleted", hdr)
		}
	}
	p := b.post("/group/delete", form, "Origin", f.base, "Sec-Fetch-Site", "same-origin")
	if p.code != http.StatusSeeOther || f.exists(id) {
		t.Fatalf("same-origin delete: %d, exists %v", p.code, f.exists(id))
	}
}

// TestOwnersSeeOnlyTheirGroups: bob cannot see alice's group in the list, in a search, on its page (URL typed by
// hand), in its edit form, nor delete or change it through a forged form; alice and the administrator can.
func TestOwnersSeeOnlyTheirGroups(t *testing.T) {
	f := newFixture(t, true)
	a := f.addGroup("alice", "iso6523-actorid-upis::0088:2001")
	f.addGroup("bob", "iso6523-actorid-upis::0088:2002")
	bob := f.browser()
	bob.login("bob")
	list := bob.get("/groups")
	if strings.Contains(list.body, "0088:2001") || !strings.Contains(list.body, "0088:2002") {
		t.Fatalf("bob's list: %s", list.body)
	}
	if p := bob.get("/groups?q=0088:2001"); strings.Contains(p.body, "0088:2001</a>") {
		t.Fatal("bob's search finds alice's group")
	}
	for _, path := range []string{"/group?p=" + url.QueryEscape(a.String()), "/group/service?p=" + url.QueryEscape(a.String())} {
		if p := bob.get(path); p.code != http.StatusNotFound || strings.Contains(p.body, "alice") {
			t.Fatalf("GET %s as bob: %d", path, p.code)
		}
	}
	if p := bob.post("/group/delete", url.Values{"p": {a.String()}}); p.code != http.StatusNotFound || !f.exists(a) {
		t.Fatalf("bob's delete: %d, exists %v", p.code, f.exists(a))
	}
	if p := bob.post("/group/edit", url.Values{"p": {a.String()}}); p.code != http.StatusNotFound {
		t.Fatalf("bob's group form on alice's group: %d", p.code)
	}
	if sg, err := f.svc.GetServiceGroup(context.Background(), a); err != nil || !sg.InSML {
		t.Fatalf("alice's group after bob's form: %+v %v", sg, err)
	}
	forged := url.Values{"p": {a.String()}, "doctype": {"busdox-docid-qns::doc"}, "process": {"cenbii-procid-ubl::proc"},
		"transport": {"peppol-transport-as4-v2_0"}, "address": {"https://evil.example/as4"}}
	if p := bob.post("/group/service", forged); p.code != http.StatusNotFound {
		t.Fatalf("bob's service form on alice's group: %d", p.code)
	}
	if ms, err := f.svc.GroupMetadata(context.Background(), a); err != nil || len(ms) != 0 {
		t.Fatalf("alice's group after bob's form: %v %v", ms, err)
	}
	if p := bob.get("/users"); p.code != http.StatusForbidden {
		t.Fatalf("bob on /users: %d", p.code)
	}
	alice := f.browser()
	alice.login("alice")
	if p := alice.get("/group?p=" + url.QueryEscape(a.String())); p.code != http.StatusOK {
		t.Fatalf("alice on her group: %d", p.code)
	}
	root := f.browser()
	root.login("root")
	if p := root.get("/groups"); !strings.Contains(p.body, "0088:2001") || !strings.Contains(p.body, "0088:2002") {
		t.Fatal("the administrator does not see every group")
	}
}

var participantLink = regexp.MustCompile(`<a href="/group\?p=[^"]*">([^<]*)</a>`)

func listed(body string) []string {
	var out []string
	for _, m := range participantLink.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

var nextLink = regexp.MustCompile(`<a href="(/groups\?[^"]*)" rel="next">`)

// TestPagingAndSearch1000: 1,000 groups page by 50 in participant order, each once; a search by the start of a
// participant lists exactly the groups that start with it; an owner pages through its own 500 only.
func TestPagingAndSearch1000(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	var groups []smp.ServiceGroup
	for i := range 1000 {
		owner := "alice"
		if i%2 == 1 {
			owner = "bob"
		}
		id, _ := identifier.PEPPOL.Parse(identifier.Participant, fmt.Sprintf("iso6523-actorid-upis::0088:%04d", i))
		groups = append(groups, smp.ServiceGroup{Participant: id, Owner: owner, InSML: true})
	}
	if _, err := f.svc.PutBatch(ctx, groups, nil); err != nil {
		t.Fatal(err)
	}
	walk := func(b *browser, path string) []string {
		var all []string
		for n := 0; path != "" && n < 100; n++ {
			p := b.get(path)
			if p.code != http.StatusOK {
				t.Fatalf("%s: %d", path, p.code)
			}
			got := listed(p.body)
			if len(got) > console.PageSize {
				t.Fatalf("%s: %d groups on a page", path, len(got))
			}
			all = append(all, got...)
			path = ""
			if m := nextLink.FindStringSubmatch(p.body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		return all
	}
	root := f.browser()
	root.login("root")
	all := walk(root, "/groups")
	if len(all) != 1000 {
		t.Fatalf("paged %d groups, want 1000", len(all))
	}
	for i, p := range all {
		if want := fmt.Sprintf("iso6523-actorid-upis::0088:%04d", i); p != want {
			t.Fatalf("entry %d is %s, want %s", i, p, want)
		}
	}
	got := walk(root, "/groups?q=0088:012")
	if len(got) != 10 || got[0] != "iso6523-actorid-upis::0088:0120" || got[9] != "iso6523-actorid-upis::0088:0129" {
		t.Fatalf("search 0088:012: %v", got)
	}
	if got := walk(root, "/groups?q="+url.QueryEscape("iso6523-actorid-upis::0088:0999")); len(got) != 1 {
		t.Fatalf("search of one participant: %v", got)
	}
	if got := walk(root, "/groups?q=0088:2"); len(got) != 0 {
		t.Fatalf("search 0088:2: %v", got)
	}
	bob := f.browser()
	bob.login("bob")
	mine := walk(bob, "/groups")
	if len(mine) != 500 {
		t.Fatalf("bob pages %d groups, want 500", len(mine))
	}
	for _, p := range mine {
		var n int
		fmt.Sscanf(strings.TrimPrefix(p, "iso6523-actorid-upis::0088:"), "%d", &n)
		if n%2 != 1 {
			t.Fatalf("bob sees %s", p)
		}
	}
}

// TestFormsCreateEditAndErrors: the new group form with a malformed certificate shows the API's error next to the
// certificate field and creates nothing; with the access point's certificate (PEM pasted) it creates the group and
// its document type, shown on the group's page with the certificate's subject.
func TestFormsCreateEditAndErrors(t *testing.T) {
	f := newFixture(t, true)
	now := time.Now()
	ap, err := f.ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "AP form", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.login("alice")
	form := url.Values{"p": {"0088:3001"}, "in_sml": {"1"}, "doctype": {"busdox-docid-qns::urn:test:doc"},
		"process": {"cenbii-procid-ubl::urn:test:proc"}, "transport": {"peppol-transport-as4-v2_0"},
		"address": {"https://ap.test/as4"}, "cert": {"-----BEGIN CERTIFICATE-----\nYmxhY2VydA==\n-----END CERTIFICATE-----\n"}}
	p := b.post("/groups/new", form)
	if p.code != http.StatusBadRequest || !regexp.MustCompile(`<p class="field-error" id="cert-err">Endpoint Certificate: not a base64 DER X.509`).MatchString(p.body) {
		t.Fatalf("malformed certificate: %d %s", p.code, p.body)
	}
	id, _ := identifier.PEPPOL.Parse(identifier.Participant, "iso6523-actorid-upis::0088:3001")
	if f.exists(id) {
		t.Fatal("a refused form created the group")
	}
	form.Set("address", "not a url")
	form.Set("cert", string(pki.EncodeCertPEM(ap.Cert)))
	if p := b.post("/groups/new", form); p.code != http.StatusBadRequest || !strings.Contains(p.body, `id="address-err"`) {
		t.Fatalf("bad address: %d", p.code)
	}
	form.Set("address", "https://ap.test/as4")
	p = b.post("/groups/new", form)
	if p.code != http.StatusSeeOther || !strings.Contains(p.hdr.Get("Location"), "done=created") {
		t.Fatalf("create: %d %s", p.code, p.body)
	}
	page := b.get(p.hdr.Get("Location"))
	if !strings.Contains(page.body, "CN=AP form") || !strings.Contains(page.body, "https://ap.test/as4") || !strings.Contains(page.body, "The service group was created.") {
		t.Fatalf("group page: %s", page.body)
	}
	sg, err := f.svc.GetServiceGroup(context.Background(), id)
	if err != nil || sg.Owner != "alice" {
		t.Fatalf("stored group %+v %v", sg, err)
	}
	// Edit: the form comes prefilled; a new address is saved and signed.
	d := "busdox-docid-qns::urn:test:doc"
	edit := b.get("/group/service?p=" + url.QueryEscape(id.String()) + "&d=" + url.QueryEscape(d))
	if !strings.Contains(edit.body, `value="https://ap.test/as4"`) {
		t.Fatalf("edit form: %s", edit.body)
	}
	form.Set("p", id.String())
	form.Set("address", "https://ap2.test/as4")
	if p := b.post("/group/service", form); p.code != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.code, p.body)
	}
	ms, err := f.svc.GroupMetadata(context.Background(), id)
	if err != nil || len(ms) != 1 || ms[0].Processes[0].Endpoints[0].Address != "https://ap2.test/as4" {
		t.Fatalf("stored metadata %+v %v", ms, err)
	}
	if p := b.post("/group/service/delete", url.Values{"p": {id.String()}, "d": {d}}); p.code != http.StatusSeeOther {
		t.Fatalf("delete service: %d", p.code)
	}
	if ms, _ := f.svc.GroupMetadata(context.Background(), id); len(ms) != 0 {
		t.Fatal("document type not deleted")
	}
}

var tokenValue = regexp.MustCompile(`<p class="secret" id="token-value">(spt_[A-Za-z0-9_-]+)</p>`)
var tokenID = regexp.MustCompile(`name="id" value="([0-9a-f]{16})"`)

// TestTokensCreateShowOnceRevoke: a token created in the console is shown once, works with the API's
// authentication, is listed by ID only, and is refused once revoked.
func TestTokensCreateShowOnceRevoke(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	b.login("root")
	p := b.post("/tokens", url.Values{"user": {"carol"}})
	m := tokenValue.FindStringSubmatch(p.body)
	if p.code != http.StatusOK || m == nil {
		t.Fatalf("create token: %d %s", p.code, p.body)
	}
	tok := m[1]
	if _, err := f.creds.Authenticate(context.Background(), "Bearer "+tok); err != nil {
		t.Fatalf("the new token: %v", err)
	}
	list := b.get("/users")
	if strings.Contains(list.body, tok) {
		t.Fatal("the token is shown again")
	}
	ids := tokenID.FindAllStringSubmatch(list.body, -1)
	if len(ids) != 1 {
		t.Fatalf("token IDs listed: %v", ids)
	}
	if p := b.post("/tokens/revoke", url.Values{"id": {ids[0][1]}}); p.code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.code)
	}
	if _, err := f.creds.Authenticate(context.Background(), "Bearer "+tok); err == nil {
		t.Fatal("the revoked token still authenticates")
	}
}

// TestDeletedUserSessionEnds: a session whose user is deleted opens nothing more; a user made administrator
// sees the administrators' pages from the next request.
func TestDeletedUserSessionEnds(t *testing.T) {
	f := newFixture(t, true)
	b := f.browser()
	b.login("alice")
	if p := b.get("/users"); p.code != http.StatusForbidden {
		t.Fatalf("alice on /users: %d", p.code)
	}
	if err := f.creds.SetUser(context.Background(), "alice", auth.UserChange{Admin: true}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/users"); p.code != http.StatusOK {
		t.Fatalf("alice, now an administrator, on /users: %d", p.code)
	}
	if err := f.creds.DeleteUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/"); p.code != http.StatusSeeOther {
		t.Fatalf("deleted user's session: %d", p.code)
	}
}

// TestImportUpload: an export of one SMP uploaded to another's console is imported, the page showing a progress
// line per committed batch and the result; an upload over the body limit is refused with the limit named.
func TestImportUpload(t *testing.T) {
	src := newFixture(t, false)
	var groups []smp.ServiceGroup
	for i := range 1200 {
		id, _ := identifier.PEPPOL.Parse(identifier.Participant, fmt.Sprintf("iso6523-actorid-upis::0088:%04d", i))
		groups = append(groups, smp.ServiceGroup{Participant: id, InSML: true})
	}
	if _, err := src.svc.PutBatch(context.Background(), groups, nil); err != nil {
		t.Fatal(err)
	}
	var export strings.Builder
	if _, err := src.svc.WriteExport(context.Background(), &export); err != nil {
		t.Fatal(err)
	}
	dst := newFixture(t, true, func(o *console.Options) { o.MaxBodyBytes = int64(export.Len()) + 4096 })
	b := dst.browser()
	b.login("root")
	upload := func(content string) page {
		var body strings.Builder
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "export.jsonl")
		_, _ = io.WriteString(fw, content)
		_ = mw.Close()
		return b.do(http.MethodPost, "/import", nil, "Content-Type", mw.FormDataContentType(), "X-Body", body.String())
	}
	p := upload(export.String())
	if p.code != http.StatusOK || !strings.Contains(p.body, `id="import-result"`) || strings.Contains(p.body, `id="import-error"`) {
		t.Fatalf("import: %d %s", p.code, p.body)
	}
	if n := strings.Count(p.body, "<li>"); n < 2 {
		t.Fatalf("%d progress lines for 1,200 records in batches of 500: %s", n, p.body)
	}
	if g, _, err := dst.svc.Counts(context.Background()); err != nil || g != 1200 {
		t.Fatalf("imported %d groups, %v", g, err)
	}
	p = upload(export.String() + strings.Repeat(" ", 8192))
	if !strings.Contains(p.body, "write.max_body_bytes") {
		t.Fatalf("over the limit: %d %s", p.code, p.body)
	}
}

// TestEditAndDeleteGroup: the group form turns "register in the SML" off and the stored group says so (its owner
// kept); the delete form removes it.
func TestEditAndDeleteGroup(t *testing.T) {
	f := newFixture(t, true)
	id := f.addGroup("alice", "iso6523-actorid-upis::0088:4001")
	b := f.browser()
	b.login("alice")
	if p := b.post("/group/edit", url.Values{"p": {id.String()}}); p.code != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.code, p.body)
	}
	sg, err := f.svc.GetServiceGroup(context.Background(), id)
	if err != nil || sg.InSML || sg.Owner != "alice" {
		t.Fatalf("after edit: %+v %v", sg, err)
	}
	if p := b.post("/group/delete", url.Values{"p": {id.String()}}); p.code != http.StatusSeeOther || f.exists(id) {
		t.Fatalf("delete: %d, exists %v", p.code, f.exists(id))
	}
}

// TestIdleSessionsSwept: a session idle longer than Idle is refused, and the next login deletes from the store the
// idle sessions that nobody presented again.
func TestIdleSessionsSwept(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	f := newFixture(t, true, func(o *console.Options) { o.Now = clock; o.Idle = 30 * time.Minute })
	sessions := func() int {
		n := 0
		_ = f.db.View(func(tx *store.Tx) error { n = tx.Count(store.ConsoleSessions, nil); return nil })
		return n
	}
	alice, bob, carol := f.browser(), f.browser(), f.browser()
	alice.login("alice")
	bob.login("bob")
	if n := sessions(); n != 2 {
		t.Fatalf("%d sessions stored, want 2", n)
	}
	advance(20 * time.Minute)
	if p := bob.get("/"); p.code != http.StatusOK { // bob stays active
		t.Fatalf("bob after 20 minutes: %d", p.code)
	}
	advance(20 * time.Minute)
	carol.login("root") // alice idle 40 minutes: swept; bob idle 20: kept
	if n := sessions(); n != 2 {
		t.Fatalf("%d sessions stored after the sweep, want 2 (bob, root)", n)
	}
	if p := alice.get("/"); p.code != http.StatusSeeOther {
		t.Fatalf("alice after 40 idle minutes: %d", p.code)
	}
	if p := bob.get("/"); p.code != http.StatusOK {
		t.Fatalf("bob: %d", p.code)
	}
}
