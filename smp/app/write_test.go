package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// writeFixture is an SMP app with the management API on a real loopback listener.
type writeFixture struct {
	t      *testing.T
	ca     *pki.Authority
	caFile string
	ap     *pki.Leaf
	app    *smpapp.App
	cfg    *conf.SMP
	o      *ops.Ops
	base   string
	tok    map[string]string // user -> token
}

func newWriteFixture(t *testing.T, extra string) *writeFixture {
	t.Helper()
	return newWriteFixtureWith(t, extra, nil)
}

// newWriteFixtureWith is newWriteFixture with the parsed configuration changed by edit (nil: as parsed).
func newWriteFixtureWith(t *testing.T, extra string, edit func(*conf.SMP)) *writeFixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Write Test CA", now.Add(-48*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &writeFixture{t: t, ca: ca, caFile: filepath.Join(dir, "ca.pem"), tok: map[string]string{}}
	if err := os.WriteFile(f.caFile, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf := issue(t, ca, "SMP write signer")
	certFile, keyFile := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem")
	if err := leaf.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	f.ap = issue(t, ca, "AP one")
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}\n%s", certFile, keyFile, extra))
	if edit != nil {
		edit(cfg)
	}
	f.cfg = cfg
	f.o = ops.New()
	if f.app, err = smpapp.New(context.Background(), cfg, nil, f.o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.app.Close() })
	ctx := context.Background()
	serve(t, f.app)
	f.base = "http://" + f.app.Addr()
	for _, u := range []struct {
		name  string
		admin bool
	}{{"admin", true}, {"alice", false}, {"bob", false}} {
		tok, _, err := f.app.Credentials().CreateToken(ctx, u.name, u.admin)
		if err != nil {
			t.Fatal(err)
		}
		f.tok[u.name] = tok
	}
	return f
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

// do sends a request with the path exactly as given, the bearer token of user (none for ""), and body as text/xml.
func (f *writeFixture) do(method, path, user string, body []byte, hdr ...string) answer {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	base := f.base
	if strings.HasPrefix(path, "/api/v1/") {
		base = "http://" + f.app.AdminAddr() // the admin API lives on the admin listener only
	}
	req, err := http.NewRequest(method, base+"/", rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.URL.RawQuery = path[i+1:]
		path = path[:i]
	}
	req.URL.Opaque = "//" + req.URL.Host + path
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tok[user])
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/xml")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

func (f *writeFixture) export() string {
	f.t.Helper()
	var buf bytes.Buffer
	if _, err := f.app.Service().WriteExport(context.Background(), &buf); err != nil {
		f.t.Fatal(err)
	}
	return buf.String()
}

func (f *writeFixture) want(a answer, code int, substr string) {
	f.t.Helper()
	if a.code != code || !strings.Contains(a.body, substr) {
		f.t.Fatalf("got %d %q; want %d with %q", a.code, a.body, code, substr)
	}
}

func xmlsecOK(t *testing.T, caFile string, doc []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmlsec1", "--verify", "--enabled-reference-uris", "empty", "--enabled-key-data", "x509",
		"--trusted-pem", caFile, p).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 does not verify: %v\n%s\n%s", err, out, doc)
	}
}

func xmllintOK(t *testing.T, schema string, doc []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--nonet", "--schema", schema, p).CombinedOutput(); err != nil {
		t.Fatalf("xmllint %s: %v\n%s", schema, err, out)
	}
}

const (
	groupBodyFmt = `<?xml version="1.0" encoding="UTF-8"?>
<smp:ServiceGroup xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:id="http://busdox.org/transport/identifiers/1.0/">
  <id:ParticipantIdentifier scheme="iso6523-actorid-upis">%s</id:ParticipantIdentifier>
  <smp:ServiceMetadataReferenceCollection/>
</smp:ServiceGroup>`
	peppolMetaFmt = `<?xml version="1.0" encoding="UTF-8"?>
<ServiceMetadata xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/" xmlns:wsa="http://www.w3.org/2005/08/addressing">
 <ServiceInformation>
  <ids:ParticipantIdentifier scheme="iso6523-actorid-upis">%s</ids:ParticipantIdentifier>
  <ids:DocumentIdentifier scheme="busdox-docid-qns">%s</ids:DocumentIdentifier>
  <ProcessList><Process>
   <ids:ProcessIdentifier scheme="cenbii-procid-ubl">urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</ids:ProcessIdentifier>
   <ServiceEndpointList><Endpoint transportProfile="peppol-transport-as4-v2_0">
    <wsa:EndpointReference><wsa:Address>%s</wsa:Address></wsa:EndpointReference>
    <RequireBusinessLevelSignature>false</RequireBusinessLevelSignature>
    %s
    <Certificate>%s</Certificate>
    <ServiceDescription>test AP</ServiceDescription>
    <TechnicalContactUrl>mailto:ops@example.org</TechnicalContactUrl>
   </Endpoint></ServiceEndpointList>
  </Process></ProcessList>
 </ServiceInformation>
</ServiceMetadata>`
	invoice = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)

func seg(s string) string { return identifier.EncodeSegment(s) }

func (f *writeFixture) metaBody(participant, docValue, address, dates string, cert []byte) []byte {
	return fmt.Appendf(nil, peppolMetaFmt, participant, docValue, address, dates, base64.StdEncoding.EncodeToString(cert))
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/smp/samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWriteAPI: PUT and DELETE of service groups and service metadata in each body flavour, on the root paths and
// under /bdxr-smp-2/, with the statuses of DESIGN.md 1.3; what is written is served signed at once.
func TestWriteAPI(t *testing.T) {
	f := newWriteFixture(t, "")
	const pid = "iso6523-actorid-upis::9915:xxx"
	gpath := "/" + seg(pid)

	// The phoss-SMP PUT bodies (testdata/smp/samples).
	f.want(f.do("PUT", gpath, "alice", sample(t, "peppol-smp1_peppol-service-group.xml")), 201, "created")
	f.want(f.do("PUT", gpath, "alice", sample(t, "peppol-smp1_peppol-service-group.xml")), 200, "stored")
	f.want(f.do("GET", gpath, "", nil), 200, "9915:xxx")
	phossMeta := sample(t, "bdxr-smp1_bdxr1-service-metadata.xml")
	mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
	// Verbatim, its certificate ("blacert") is not X.509: refused, naming the field.
	f.want(f.do("PUT", mpath, "alice", phossMeta), 400, "Endpoint Certificate: not a base64 DER X.509 certificate")
	withCert := bytes.Replace(phossMeta, []byte("YmxhY2VydA=="), []byte(base64.StdEncoding.EncodeToString(f.ap.Cert.Raw)), 1)
	f.want(f.do("PUT", mpath, "alice", withCert, "Content-Type", "application/xml; charset=UTF-8"), 201, "created")
	f.want(f.do("PUT", mpath, "alice", withCert), 200, "stored")
	for _, p := range []string{mpath, "/bdxr-smp-2" + mpath, "/prefix" + mpath} {
		a := f.do("GET", p, "", nil)
		f.want(a, 200, "http://test.smpserver/as4")
		xmlsecOK(t, f.caFile, []byte(a.body))
	}
	xmllintOK(t, "../../testdata/xsd/peppol-smp1/validate.xsd", []byte(f.do("GET", mpath, "", nil).body))
	xmllintOK(t, "../../testdata/xsd/bdxr-smp2/ServiceMetadata-2.0.xsd", []byte(f.do("GET", "/bdxr-smp-2"+mpath, "", nil).body))
	g := f.do("GET", gpath, "", nil)
	f.want(g, 200, "/services/busdox-docid-qns%3A%3Aurn%3Aoasis")
	xmllintOK(t, "../../testdata/xsd/peppol-smp1/validate.xsd", []byte(g.body))
	g2 := f.do("GET", "/bdxr-smp-2"+gpath, "", nil)
	xmlsecOK(t, f.caFile, []byte(g2.body))

	// SMP 2.0 bodies (the official example group; a metadata rendered in SMP 2.0) under /bdxr-smp-2/ and on the root.
	g2body := sample(t, "bdxr-smp2_simpleGroupExample.xml")
	p2 := "/bdxr-smp-2/" + seg("iso6523-actorid-upis::9908:810418052")
	f.want(f.do("PUT", p2, "bob", g2body), 201, "created")
	pol := identifier.PEPPOL
	mustID := func(k identifier.Kind, s string) identifier.ID {
		id, err := pol.Parse(k, s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	sm := smp.ServiceMetadata{
		Participant: mustID(identifier.Participant, "iso6523-actorid-upis::9908:810418052"), DocumentType: mustID(identifier.DocumentType, "busdox-docid-qns::"+invoice),
		Processes: []smp.Process{{ID: mustID(identifier.Process, "cenbii-procid-ubl::p1"), Endpoints: []smp.Endpoint{{
			TransportProfile: "peppol-transport-as4-v2_0", Address: "https://ap2.example/as4", Certificate: f.ap.Cert.Raw}}}},
	}
	doc, err := xmlbind.RenderMetadata(smp.SMP2, &sm)
	if err != nil {
		t.Fatal(err)
	}
	m2body, _ := doc.WriteToBytes()
	m2path := p2 + "/services/" + seg("busdox-docid-qns::"+invoice)
	f.want(f.do("PUT", m2path, "bob", m2body), 201, "created")
	f.want(f.do("PUT", strings.TrimPrefix(m2path, "/bdxr-smp-2"), "bob", m2body), 200, "stored")
	a := f.do("GET", strings.TrimPrefix(m2path, "/bdxr-smp-2"), "", nil)
	f.want(a, 200, "https://ap2.example/as4")
	xmlsecOK(t, f.caFile, []byte(a.body))

	// Document types with '+' and '#', written and read back through each encoding.
	const odd = "busdox-docid-qns::urn:x:a+b::Inv##c#d+e::2.1"
	encodings := []string{
		seg(odd), // every reserved byte escaped
		strings.NewReplacer("#", "%23").Replace(odd),                         // raw ':' and '+'
		strings.NewReplacer("::", "%3a%3a", "#", "%23").Replace(odd),         // lower-case hex
		strings.NewReplacer(":", "%3A", "#", "%23", "+", "%2B").Replace(odd), // '+' escaped
	}
	var served string
	for i, e := range encodings {
		p := gpath + "/services/" + e
		want := 200
		if i == 0 {
			want = 201
		}
		f.want(f.do("PUT", p, "alice", f.metaBody("9915:xxx", strings.TrimPrefix(odd, "busdox-docid-qns::"), "https://ap.example/as4", "", f.ap.Cert.Raw)), want, "urn:x:a+b::Inv##c#d+e::2.1")
		for _, e2 := range encodings {
			a := f.do("GET", gpath+"/services/"+e2, "", nil)
			f.want(a, 200, "urn:x:a+b::Inv##c#d+e::2.1")
			if served == "" {
				served = a.body
			} else if a.body != served {
				t.Fatalf("encoding %q serves another document", e2)
			}
			f.want(f.do("GET", "/bdxr-smp-2"+gpath+"/services/"+e2, "", nil), 200, "urn:x:a+b::Inv##c#d+e::2.1")
		}
	}
	xmlsecOK(t, f.caFile, []byte(served))

	// A redirect names no identifiers: they come from the URL.
	redirect := []byte(`<ServiceMetadata xmlns="http://busdox.org/serviceMetadata/publishing/1.0/"><Redirect href="https://other-smp.example/x"><CertificateUID>CN=other</CertificateUID></Redirect></ServiceMetadata>`)
	rpath := gpath + "/services/" + seg("busdox-docid-qns::urn:redirected::x")
	f.want(f.do("PUT", rpath, "alice", redirect), 201, "created")
	ra := f.do("GET", rpath, "", nil)
	f.want(ra, 200, `href="https://other-smp.example/x"`)
	xmlsecOK(t, f.caFile, []byte(ra.body))
	f.want(f.do("PUT", rpath, "alice", bytes.Replace(redirect, []byte("https://other-smp.example/x"), []byte("other-smp/x"), 1)), 400, "Redirect href")
	f.want(f.do("DELETE", rpath, "alice", nil), 200, "deleted")

	// create-in-sml=false is recorded.
	other := "/" + seg("iso6523-actorid-upis::9915:nosml")
	f.want(f.do("PUT", other+"?create-in-sml=false", "alice", fmt.Appendf(nil, groupBodyFmt, "9915:nosml")), 201, "created")
	f.want(f.do("PUT", other+"?create-in-sml=maybe", "alice", fmt.Appendf(nil, groupBodyFmt, "9915:nosml")), 400, "create-in-sml")
	sg, err := f.app.Service().GetServiceGroup(context.Background(), mustID(identifier.Participant, "iso6523-actorid-upis::9915:nosml"))
	if err != nil || sg.InSML || sg.Owner != "alice" {
		t.Fatalf("group %+v %v", sg, err)
	}
	// A replace without the parameter keeps the flag.
	f.want(f.do("PUT", other, "alice", fmt.Appendf(nil, groupBodyFmt, "9915:nosml")), 200, "stored")
	if sg, _ = f.app.Service().GetServiceGroup(context.Background(), sg.Participant); sg.InSML {
		t.Error("replace without create-in-sml changed the flag")
	}

	// Deletes: one metadata, all metadata of a group, then the group (with its metadata).
	f.want(f.do("DELETE", mpath, "alice", nil), 200, "deleted")
	f.want(f.do("GET", mpath, "", nil), 404, "not found")
	f.want(f.do("DELETE", mpath, "alice", nil), 404, "not found")
	f.want(f.do("GET", gpath+"/services/"+seg(odd), "", nil), 200, "")
	f.want(f.do("DELETE", gpath+"/services", "alice", nil), 200, "deleted 1 service metadata")
	f.want(f.do("GET", gpath+"/services/"+seg(odd), "", nil), 404, "")
	if strings.Contains(f.do("GET", gpath, "", nil).body, "/services/") {
		t.Error("group still lists references")
	}
	f.want(f.do("DELETE", m2path, "bob", nil), 200, "deleted")
	f.want(f.do("PUT", m2path, "bob", m2body), 201, "created")
	f.want(f.do("DELETE", p2, "bob", nil), 200, "deleted service group")
	f.want(f.do("GET", p2, "", nil), 404, "")
	f.want(f.do("GET", m2path, "", nil), 404, "")
	f.want(f.do("DELETE", p2, "bob", nil), 404, "not found")

	// Methods, media types, sizes.
	f.want(f.do("POST", gpath, "alice", []byte("<x/>")), 405, "not allowed")
	f.want(f.do("PUT", gpath, "alice", []byte("{}"), "Content-Type", "application/json"), 415, "text/xml")
	big := append(fmt.Appendf(nil, groupBodyFmt, "9915:xxx"), bytes.Repeat([]byte("<!-- padding -->"), 5<<20/16)...)
	f.want(f.do("PUT", gpath, "alice", big), 413, "max_body_bytes")
	// The same body chunked (no Content-Length): 413 too, once the limit is read.
	creq, err := http.NewRequest("PUT", f.base+gpath, io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	creq.Header.Set("Authorization", "Bearer "+f.tok["alice"])
	creq.Header.Set("Content-Type", "text/xml")
	cresp, err := http.DefaultClient.Do(creq)
	if err == nil { // the server may close before the client has sent everything: an error is fine as well
		cb, _ := io.ReadAll(cresp.Body)
		cresp.Body.Close()
		if cresp.StatusCode != 413 || creq.ContentLength != 0 {
			t.Errorf("chunked body over the limit: %d %s (length %d)", cresp.StatusCode, cb, creq.ContentLength)
		}
	}

	// Metrics: writes by route and status.
	mfs, err := f.o.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "signpost_smp_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var route, code string
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					route = l.GetValue()
				} else {
					code = l.GetValue()
				}
			}
			if route == "service_metadata" && code == "201" && m.GetCounter().GetValue() >= 3 {
				found = true
			}
		}
	}
	if !found {
		t.Error("signpost_smp_requests_total{route=service_metadata,code=201} not counted")
	}
}

// TestWriteRefusals: each refused write answers its status and a message naming the problem, and leaves the store
// as it was (the export before and after is the same).
func TestWriteRefusals(t *testing.T) {
	f := newWriteFixture(t, "")
	ctx := context.Background()
	const pid = "iso6523-actorid-upis::9915:alice"
	gpath := "/" + seg(pid)
	mpath := gpath + "/services/" + seg("busdox-docid-qns::"+invoice)
	good := f.metaBody("9915:alice", invoice, "https://ap.example/as4", "", f.ap.Cert.Raw)
	f.want(f.do("PUT", gpath, "alice", fmt.Appendf(nil, groupBodyFmt, "9915:alice")), 201, "")
	f.want(f.do("PUT", mpath, "alice", good), 201, "")
	revoked, ti, err := f.app.Credentials().CreateToken(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	f.tok["revoked"] = revoked
	f.want(f.do("PUT", mpath, "revoked", good), 200, "") // works before the revocation
	if err := f.app.Credentials().RevokeToken(ctx, ti.ID); err != nil {
		t.Fatal(err)
	}
	f.tok["bogus"] = auth.TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	expired, err := f.ca.Issue(pki.LeafSpec{Profile: pki.AccessPoint, CommonName: "old AP", NotBefore: time.Now().Add(-40 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	before := f.export()
	if !strings.Contains(before, `"owner":"alice"`) || !strings.Contains(before, `{"owner":{"name":"admin","admin":true}}`) {
		t.Fatalf("export lacks owners:\n%s", before)
	}
	cases := []struct {
		name, method, path, user string
		body                     []byte
		code                     int
		msg                      string
	}{
		{"no token", "PUT", mpath, "", good, 401, "no credentials"},
		{"no token, delete", "DELETE", gpath, "", nil, 401, "no credentials"},
		{"revoked token", "PUT", mpath, "revoked", good, 401, "unknown or revoked"},
		{"unknown token", "DELETE", mpath, "bogus", nil, 401, "unknown or revoked"},
		{"another owner: group", "PUT", gpath, "bob", fmt.Appendf(nil, groupBodyFmt, "9915:alice"), 403, "belongs to another user"},
		{"another owner: metadata", "PUT", mpath, "bob", good, 403, "belongs to another user"},
		{"another owner: delete", "DELETE", gpath, "bob", nil, 403, "belongs to another user"},
		{"another owner: delete all", "DELETE", gpath + "/services", "bob", nil, 403, "belongs to another user"},
		{"not XML", "PUT", mpath, "alice", []byte("this is not <xml"), 400, "body: line 1, column 1: text before the root element"},
		// Namespaces in XML: each is refused before a tree is built (etree would let it through, xmlsec1 would not).
		{"unbound prefix", "PUT", gpath, "alice", nsBody(`<x:Extension/>`, ""), 400, `prefix "x"`},
		{"prefix undeclared", "PUT", gpath, "alice", nsBody("", ` xmlns:y=""`), 400, `xmlns:y=""`},
		{"QName x:", "PUT", gpath, "alice", nsBody(`<smp:Extension x:="1"/>`, ""), 400, "x:"},
		{"QName :a", "PUT", gpath, "alice", nsBody(`<smp:Extension :a="1"/>`, ""), 400, ":a"},
		{"one attribute twice", "PUT", gpath, "alice", nsBody(`<smp:Extension b="1" b="2"/>`, ""), 400, "attribute b appears twice"},
		{"one expanded name through two prefixes", "PUT", gpath, "alice", nsBody(`<smp:Extension xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>`, ""), 400, "urn:x"},
		{"two roots", "PUT", gpath, "alice", append(fmt.Appendf(nil, groupBodyFmt, "9915:alice"), "<second/>"...), 400, "root"},
		{"text after the root", "PUT", gpath, "alice", append(fmt.Appendf(nil, groupBodyFmt, "9915:alice"), "trailing"...), 400, "root"},
		{"too many namespaces on one element", "PUT", gpath, "alice", nsBody("", manyNS(65)), 400, "write.max_ns_per_element"},
		{"unknown namespace", "PUT", gpath, "alice", []byte(`<ServiceGroup xmlns="urn:other"/>`), 400, `unknown namespace "urn:other"`},
		{"no namespace", "PUT", mpath, "alice", []byte(`<ServiceMetadata/>`), 400, "has no namespace"},
		{"DOCTYPE", "PUT", gpath, "alice", []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x/>`), 400, "DOCTYPE"},
		{"metadata body on a group path", "PUT", gpath, "alice", good, 400, "expected a ServiceGroup"},
		{"participant differs (group)", "PUT", gpath, "alice", fmt.Appendf(nil, groupBodyFmt, "9915:other"), 400, "ParticipantIdentifier: iso6523-actorid-upis::9915:other in the body differs"},
		{"participant differs (metadata)", "PUT", mpath, "alice", f.metaBody("9915:other", invoice, "https://ap.example/as4", "", f.ap.Cert.Raw), 400, "ParticipantIdentifier"},
		{"document type differs", "PUT", mpath, "alice", f.metaBody("9915:alice", "urn:other::x", "https://ap.example/as4", "", f.ap.Cert.Raw), 400, "DocumentIdentifier"},
		{"expired certificate", "PUT", mpath, "alice", f.metaBody("9915:alice", invoice, "https://ap.example/as4", "", expired.Cert.Raw), 400, "Endpoint Certificate: certificate \"CN=old AP\" expired"},
		{"malformed certificate", "PUT", mpath, "alice", f.metaBody("9915:alice", invoice, "https://ap.example/as4", "", []byte("not DER")), 400, "Endpoint Certificate: not a base64 DER X.509"},
		{"certificate not base64", "PUT", mpath, "alice", bytes.Replace(good, []byte("<Certificate>"), []byte("<Certificate>*"), 1), 400, "Certificate: not base64"},
		{"relative address", "PUT", mpath, "alice", f.metaBody("9915:alice", invoice, "/as4", "", f.ap.Cert.Raw), 400, `Endpoint address: "/as4" is not an absolute URL`},
		{"activation after expiration", "PUT", mpath, "alice", f.metaBody("9915:alice", invoice, "https://ap.example/as4",
			"<ServiceActivationDate>2027-01-02T00:00:00Z</ServiceActivationDate><ServiceExpirationDate>2027-01-01T00:00:00Z</ServiceExpirationDate>", f.ap.Cert.Raw), 400, "ServiceExpirationDate"},
		{"bad date", "PUT", mpath, "alice", f.metaBody("9915:alice", invoice, "https://ap.example/as4",
			"<ServiceActivationDate>yesterday</ServiceActivationDate>", f.ap.Cert.Raw), 400, "ServiceActivationDate"},
		{"group missing", "PUT", "/" + seg("iso6523-actorid-upis::9915:none") + "/services/" + seg("busdox-docid-qns::"+invoice), "alice",
			f.metaBody("9915:none", invoice, "https://ap.example/as4", "", f.ap.Cert.Raw), 404, "service group iso6523-actorid-upis::9915:none not found"},
		{"bad participant in path", "PUT", "/" + seg("iso6523-actorid-upis::99:x"), "alice", fmt.Appendf(nil, groupBodyFmt, "99:x"), 400, "bad participant identifier in the path"},
		{"PUT on /services", "PUT", gpath + "/services", "alice", good, 405, "needs a document type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.do(c.method, c.path, c.user, c.body)
			if a.code != c.code || !strings.Contains(a.body, c.msg) {
				t.Fatalf("got %d %q; want %d with %q", a.code, a.body, c.code, c.msg)
			}
			if c.code == 401 && len(a.hdr.Values("WWW-Authenticate")) == 0 {
				t.Error("401 without WWW-Authenticate")
			}
			if after := f.export(); after != before {
				t.Fatalf("store changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	// An administrator changes every group; HTTP Basic works with a password, not without.
	f.want(f.do("PUT", mpath, "admin", good), 200, "stored")
	if err := f.app.Credentials().SetPassword(ctx, "bob", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	bpath := "/" + seg("iso6523-actorid-upis::9915:bob")
	f.want(f.do("PUT", bpath, "", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "Authorization", basic("bob", "wrong password!!")), 401, "wrong user name or password")
	f.want(f.do("PUT", bpath, "", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "Authorization", basic("alice", "correct horse battery")), 401, "wrong user name or password")
	f.want(f.do("PUT", bpath, "", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "Authorization", basic("bob", "correct horse battery")), 201, "created")
	f.want(f.do("PUT", bpath, "", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "Authorization", basic("bob", "correct horse battery")), 200, "stored")
	// Only an administrator gives a group to another user.
	f.want(f.do("PUT", bpath, "bob", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "ServiceGroup-Owner", "alice"), 403, "only an administrator")
	f.want(f.do("PUT", bpath, "admin", fmt.Appendf(nil, groupBodyFmt, "9915:bob"), "ServiceGroup-Owner", "alice"), 200, "")
	f.want(f.do("DELETE", bpath, "bob", nil), 403, "another user")
	f.want(f.do("DELETE", bpath, "alice", nil), 200, "deleted")
}

// TestExpiredCertificateWarn: with write.expired_certificates: warn, an expired endpoint certificate is accepted
// with a Warning header.
func TestExpiredCertificateWarn(t *testing.T) {
	f := newWriteFixture(t, "write: {expired_certificates: warn}")
	expired, err := f.ca.Issue(pki.LeafSpec{Profile: pki.AccessPoint, CommonName: "old AP", NotBefore: time.Now().Add(-40 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	gpath := "/" + seg("iso6523-actorid-upis::9915:w")
	f.want(f.do("PUT", gpath, "alice", fmt.Appendf(nil, groupBodyFmt, "9915:w")), 201, "")
	a := f.do("PUT", gpath+"/services/"+seg("busdox-docid-qns::"+invoice), "alice", f.metaBody("9915:w", invoice, "https://ap.example/as4", "", expired.Cert.Raw))
	f.want(a, 201, "created")
	if w := a.hdr.Get("Warning"); !strings.Contains(w, "expired") {
		t.Errorf("Warning header %q", w)
	}
}

// TestAdminAPIAndRoundTrip: the JSON admin API pages through the service groups (administrators only); the export
// of an SMP written through the API imports into an empty SMP and exports to the same file; the admin token file
// is created once and reused.
func TestAdminAPIAndRoundTrip(t *testing.T) {
	f := newWriteFixture(t, "")
	for i := range 5 {
		p := fmt.Sprintf("9915:p%d", i)
		user := "alice"
		if i%2 == 1 {
			user = "bob"
		}
		f.want(f.do("PUT", "/"+seg("iso6523-actorid-upis::"+p)+"?create-in-sml=false", user, fmt.Appendf(nil, groupBodyFmt, p)), 201, "")
		f.want(f.do("PUT", "/"+seg("iso6523-actorid-upis::"+p)+"/services/"+seg("busdox-docid-qns::"+invoice), user,
			f.metaBody(p, invoice, "https://ap.example/as4", "", f.ap.Cert.Raw)), 201, "")
	}
	var got []smp.GroupSummary
	after := ""
	pages := 0
	for {
		a := f.do("GET", "/api/v1/service-groups?limit=2&after="+after, "admin", nil)
		f.want(a, 200, "service_groups")
		var page httpapi.ServiceGroupPage
		if err := json.Unmarshal([]byte(a.body), &page); err != nil {
			t.Fatal(err)
		}
		got = append(got, page.ServiceGroups...)
		pages++
		if page.Next == "" {
			break
		}
		after = seg(page.Next)
	}
	if len(got) != 5 || pages != 3 || got[0].Participant != "iso6523-actorid-upis::9915:p0" || got[1].Owner != "bob" || got[0].InSML || got[0].ServiceMetadata != 1 {
		t.Fatalf("%d pages: %+v", pages, got)
	}
	f.want(f.do("GET", "/prefix/api/v1/service-groups", "admin", nil), 404, "not found") // not on the public port
	f.want(f.do("GET", "/api/v1/service-groups", "alice", nil), 403, "administrators")
	f.want(f.do("GET", "/api/v1/service-groups", "", nil), 401, "no credentials")
	f.want(f.do("GET", "/api/v1/service-groups?limit=0", "admin", nil), 400, "limit")
	f.want(f.do("GET", "/api/v1/nothing", "admin", nil), 404, "service-groups")

	out1 := f.export()
	g := newWriteFixture(t, "")
	if _, err := g.app.Service().Import(context.Background(), "export", strings.NewReader(out1), nil); err != nil {
		t.Fatal(err)
	}
	if out2 := g.export(); out2 != out1 {
		t.Fatalf("round trip differs:\n%s\n---\n%s", out1, out2)
	}
	st, err := g.app.Service().Import(context.Background(), "export", strings.NewReader(out1), nil)
	if err != nil || st.Created+st.Replaced != 0 {
		t.Fatalf("re-import changed something: %+v %v", st, err)
	}

	// The admin token of `signpost dev`.
	tf := filepath.Join(t.TempDir(), "smp-admin.token")
	tok, err := smpapp.EnsureAdminToken(context.Background(), f.app.Credentials(), tf)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(tf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi.Mode(), err)
	}
	again, err := smpapp.EnsureAdminToken(context.Background(), f.app.Credentials(), tf)
	if err != nil || again != tok {
		t.Fatalf("not reused: %v", err)
	}
	f.tok["file"] = tok
	f.want(f.do("GET", "/api/v1/service-groups", "file", nil), 200, "9915:p0")
	// A store that no longer knows it (another store here): a new one is written.
	third, err := smpapp.EnsureAdminToken(context.Background(), g.app.Credentials(), tf)
	if err != nil || third == tok {
		t.Fatalf("not replaced: %v", err)
	}
}

// TestTokenAPI: a running server creates, lists and revokes tokens through its admin API; a revoked token is refused
// from the next request on.
func TestTokenAPI(t *testing.T) {
	f := newWriteFixture(t, "")
	a := f.do("POST", "/api/v1/tokens", "admin", []byte(`{"user":"carol"}`), "Content-Type", "application/json")
	f.want(a, 201, `"user":"carol"`)
	var nt httpapi.NewToken
	if err := json.Unmarshal([]byte(a.body), &nt); err != nil || !strings.HasPrefix(nt.Token, auth.TokenPrefix) || len(nt.ID) != 16 {
		t.Fatalf("%v %+v", err, nt)
	}
	f.tok["carol"] = nt.Token
	gpath := "/" + seg("iso6523-actorid-upis::9915:carol")
	f.want(f.do("PUT", gpath, "carol", fmt.Appendf(nil, groupBodyFmt, "9915:carol")), 201, "")
	list := f.do("GET", "/api/v1/tokens", "admin", nil)
	f.want(list, 200, nt.ID)
	if strings.Contains(list.body, nt.Token) {
		t.Fatal("the token list shows a token")
	}
	f.want(f.do("POST", "/api/v1/tokens", "carol", []byte(`{"user":"carol","admin":true}`)), 403, "administrators")
	f.want(f.do("POST", "/api/v1/tokens", "admin", []byte(`{"user":"bad name"}`)), 400, "user")
	f.want(f.do("DELETE", "/api/v1/tokens/"+nt.ID, "admin", nil), 200, nt.ID)
	f.want(f.do("PUT", gpath, "carol", fmt.Appendf(nil, groupBodyFmt, "9915:carol")), 401, "unknown or revoked")
	f.want(f.do("DELETE", "/api/v1/tokens/"+nt.ID, "admin", nil), 404, "not found")
	f.want(f.do("PUT", "/api/v1/tokens", "admin", nil), 405, "")
}

// manyNS returns n namespace declarations, as attributes.
func manyNS(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " xmlns:n%d=\"urn:n%d\"", i, i)
	}
	return b.String()
}

// nsBody is alice's group body with inner markup in the group and extra attributes on its root.
func nsBody(inner, rootAttrs string) []byte {
	b := fmt.Sprintf(groupBodyFmt, "9915:alice")
	b = strings.Replace(b, `<smp:ServiceMetadataReferenceCollection/>`, `<smp:ServiceMetadataReferenceCollection/>`+inner, 1)
	return []byte(strings.Replace(b, `xmlns:id=`, strings.TrimPrefix(rootAttrs, " ")+` xmlns:id=`, 1))
}
