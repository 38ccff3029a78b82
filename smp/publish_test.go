package smp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

var (
	demoParticipant = identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:signpost-demo"}
	demoDocType     = identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"}
	demoProcess     = identifier.ID{Scheme: "cenbii-procid-ubl", Value: "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"}
)

// longDocType is close to the PEPPOL limit of 500 characters.
func longDocType() identifier.ID {
	v := "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
	for len(v) < 480 {
		v += "#ext:" + strings.Repeat("x", 20)
	}
	return identifier.ID{Scheme: "busdox-docid-qns", Value: v + "::2.1"}
}

const extWithComment = `<y:Info xmlns:y="urn:test:ext"><!-- a comment in an extension --><y:Item a="tab&#9;lf&#10;cr&#13;">x &amp; y &lt; z</y:Item></y:Info>`

// trickyMetadata carries values that break naive serialisation.
func trickyMetadata(f *fixture, docType identifier.ID) smp.ServiceMetadata {
	act := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return smp.ServiceMetadata{
		Participant: demoParticipant, DocumentType: docType,
		Processes: []smp.Process{{
			ID: demoProcess,
			Endpoints: []smp.Endpoint{{
				TransportProfile: "peppol-transport-as4-v2_0\ttab\r\ncrlf",
				Address:          "https://ap.signpost.test/as4?a=1&b=2",
				Certificate:      f.leaf.Cert.Raw,
				ActivationDate:   &act, ExpirationDate: &exp,
				Description:                   "Tab\there, CR\rLF\nboth\r\n & < > \" ' äöü € 𝄞",
				TechnicalContactURL:           "mailto:ops@signpost.test",
				TechnicalInformationURL:       "https://signpost.test/info?x=<1>",
				RequireBusinessLevelSignature: true,
				MinimumAuthenticationLevel:    "level\t2",
				Extensions:                    []string{extWithComment},
			}},
			Extensions: []string{extWithComment},
		}},
		Extensions: []string{extWithComment},
	}
}

func (f *fixture) seed(docTypes ...identifier.ID) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: demoParticipant, InSML: true, Extensions: []string{extWithComment}}, smp.GroupWrite{}); err != nil {
		f.t.Fatal(err)
	}
	for _, d := range docTypes {
		if _, err := f.svc.PutServiceMetadata(ctx, smp.System, trickyMetadata(f, d)); err != nil {
			f.t.Fatal(err)
		}
	}
}

func seg(id identifier.ID) string { return identifier.EncodeSegment(id.String()) }

// TestServedDocumentsValidateAndVerify: every document of every flavour, fetched over HTTP, validates against the
// official schema; signed ones verify with xmlsec1 against the CA, and fail with one byte changed.
func TestServedDocumentsValidateAndVerify(t *testing.T) {
	for _, root := range []smp.Flavour{smp.PEPPOL, smp.OASIS1} {
		t.Run(root.String(), func(t *testing.T) {
			f := newFixture(t, fixtureOpts{flavour: root})
			long := longDocType()
			f.seed(demoDocType, long)
			for _, fl := range []smp.Flavour{root, smp.SMP2} {
				prefix := ""
				if fl == smp.SMP2 {
					prefix = "/bdxr-smp-2"
				}
				paths := map[string]bool{ // path -> is a group
					prefix + "/" + seg(demoParticipant):                                   true,
					prefix + "/" + seg(demoParticipant) + "/services/" + seg(demoDocType): false,
					prefix + "/" + seg(demoParticipant) + "/services/" + seg(long):        false,
				}
				for p, group := range paths {
					resp, body := f.get(p)
					if resp.StatusCode != 200 {
						t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
					}
					wantType := "text/xml"
					if fl == smp.SMP2 {
						wantType = "application/xml"
					}
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
						t.Errorf("%s: Content-Type %q, want %s", p, ct, wantType)
					}
					if err := xmllint(t, schemaFor(fl, group), body); err != nil {
						t.Errorf("%v %s does not validate: %v\n%s", fl, p, err, body)
					}
					signed := !group || fl == smp.SMP2
					if got := bytes.Contains(body, []byte("<ds:Signature")); got != signed {
						t.Errorf("%v %s: signed=%v, want %v", fl, p, got, signed)
					}
					if !signed {
						continue
					}
					if ok, msg := xmlsecVerify(t, f.caFile, body); !ok {
						t.Fatalf("%v %s: xmlsec1 rejects it: %s\n%s", fl, p, msg, body)
					}
					for _, tamper := range [][2]string{{"signpost-demo<", "signpost-dEmo<"}, {`scheme="busdox-docid-qns"`, `scheme="busdox-docid-qnS"`}, {`schemeID="busdox-docid-qns"`, `schemeID="busdox-docid-qnS"`}} {
						bad := bytes.Replace(body, []byte(tamper[0]), []byte(tamper[1]), 1)
						if bytes.Equal(bad, body) {
							continue
						}
						if ok, _ := xmlsecVerify(t, f.caFile, bad); ok {
							t.Errorf("%v %s: tampered copy (%s) verifies", fl, p, tamper[0])
						}
					}
				}
			}
		})
	}
}

// TestTrickyValuesRoundTrip: the served documents carry the awkward values unchanged through a conforming parser.
func TestTrickyValuesRoundTrip(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	for _, fl := range []smp.Flavour{smp.PEPPOL, smp.SMP2} {
		prefix := map[smp.Flavour]string{smp.PEPPOL: "", smp.SMP2: "/bdxr-smp-2"}[fl]
		_, body := f.get(prefix + "/" + seg(demoParticipant) + "/services/" + seg(demoDocType))
		sm, err := xmlbind.DecodeServiceMetadata(body, identifier.PEPPOL, xmlbind.Limits{})
		if err != nil {
			t.Fatalf("%v: decode served document: %v", fl, err)
		}
		want := trickyMetadata(f, demoDocType)
		e, w := sm.Processes[0].Endpoints[0], want.Processes[0].Endpoints[0]
		// XML parsers turn CR LF into LF in text; attributes keep CR, TAB and LF as character references.
		if fl == smp.PEPPOL && e.TransportProfile != w.TransportProfile {
			t.Errorf("transportProfile %q, want %q", e.TransportProfile, w.TransportProfile)
		}
		if got, wantD := e.Description, w.Description; got != wantD {
			t.Errorf("%v: description %q, want %q", fl, got, wantD)
		}
		if e.Address != w.Address || !bytes.Equal(e.Certificate, w.Certificate) {
			t.Errorf("%v: address or certificate changed", fl)
		}
		if len(sm.Extensions) != 1 || !strings.Contains(sm.Extensions[0], "x &amp; y &lt; z") {
			t.Errorf("%v: extensions %q", fl, sm.Extensions)
		}
	}
}

// TestIdentifierEncodingsOverHTTP: each URL form of DIGEST 3.2 reaches the document.
func TestIdentifierEncodingsOverHTTP(t *testing.T) {
	f := newFixture(t, fixtureOpts{prefix: "/smp"})
	plusDoc := identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:x:a+b::Invoice##c+d::2.1"}
	f.seed(demoDocType, plusDoc)
	p := "iso6523-actorid-upis::9915:signpost-demo"
	d := demoDocType.String()
	hashEsc := strings.ReplaceAll(d, "#", "%23")
	cases := []struct {
		name, path string
		want       int
	}{
		{"raw ::", "/" + p + "/services/" + hashEsc, 200},
		{"%3A%3A", "/" + identifier.EncodeSegment(p) + "/services/" + identifier.EncodeSegment(d), 200},
		{"lower-case %3a", "/" + strings.ReplaceAll(identifier.EncodeSegment(p), "%3A", "%3a") + "/services/" + strings.ReplaceAll(identifier.EncodeSegment(d), "%3A", "%3a"), 200},
		{"%23 only", "/" + p + "/services/" + strings.ReplaceAll(d, "#", "%23"), 200},
		{"participant upper case", "/" + strings.ToUpper(p[:4]) + p[4:len(p)-4] + "DEMO" + "/services/" + hashEsc, 200},
		{"literal +", "/" + p + "/services/" + strings.ReplaceAll(plusDoc.String(), "#", "%23"), 200},
		{"%2B", "/" + p + "/services/" + identifier.EncodeSegment(plusDoc.String()), 200},
		{"+ is not a space", "/" + p + "/services/" + strings.ReplaceAll(strings.ReplaceAll(plusDoc.String(), "#", "%23"), "+", "%20"), 400},
		{"with path prefix", "/smp/" + p + "/services/" + hashEsc, 200},
		{"group", "/" + p, 200},
		{"group prefixed", "/smp/" + identifier.EncodeSegment(p), 200},
		{"smp2", "/bdxr-smp-2/" + p + "/services/" + hashEsc, 200},
		{"smp2 prefixed", "/smp/bdxr-smp-2/" + identifier.EncodeSegment(p), 200},
		{"unknown participant", "/iso6523-actorid-upis::9915:nobody", 404},
		{"unknown doctype", "/" + p + "/services/busdox-docid-qns::urn:nothing::here", 404},
		{"malformed participant", "/iso6523-actorid-upis::99:bad", 400},
		{"malformed escape", "/" + p + "%G1", 400},
		{"no scheme", "/9915:signpost-demo", 400},
		{"bad doctype scheme", "/" + p + "/services/nope::x", 400},
		{"extra segment", "/" + p + "/services/" + hashEsc + "/more", 404},
		{"root", "/", 404},
		{"raw # truncates (client bug): group served", "/" + p + "#frag", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if i := strings.IndexByte(path, '#'); i >= 0 { // a fragment never reaches the server
				path = path[:i]
			}
			resp, body := f.get(path)
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, tc.want, body)
			}
			if tc.want >= 400 && (len(body) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain")) {
				t.Errorf("error without a message: %q", body)
			}
		})
	}
	// A B-... host name (PEPPOL CNAME lookups) is served like any other.
	resp, _ := f.get("/"+p, "Host", "B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.sml.test")
	if resp.StatusCode != 200 {
		t.Errorf("B- host: %d", resp.StatusCode)
	}
}

func TestConditionalAndHead(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	path := "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)
	resp, body := f.get(path)
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || strings.HasPrefix(etag, "W/") || lm == "" {
		t.Fatalf("ETag %q Last-Modified %q", etag, lm)
	}
	if r, _ := f.get(path, "If-None-Match", etag); r.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
	if r, _ := f.get(path, "If-None-Match", `"other", `+etag); r.StatusCode != 304 {
		t.Errorf("If-None-Match list: %d", r.StatusCode)
	}
	if r, _ := f.get(path, "If-None-Match", `"other"`); r.StatusCode != 200 {
		t.Errorf("If-None-Match other: %d", r.StatusCode)
	}
	if r, _ := f.get(path, "If-Modified-Since", lm); r.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", r.StatusCode)
	}
	if r, _ := f.get(path, "If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"); r.StatusCode != 200 {
		t.Errorf("If-Modified-Since old: %d", r.StatusCode)
	}
	r, hb := f.do(http.MethodHead, path)
	if r.StatusCode != 200 || len(hb) != 0 || r.ContentLength != int64(len(body)) || r.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d, body %d bytes, length %d, etag %q", r.StatusCode, len(hb), r.ContentLength, r.Header.Get("ETag"))
	}
	if r, _ := f.do(http.MethodPost, path); r.StatusCode != 405 {
		t.Errorf("POST: %d", r.StatusCode)
	}
}

func TestWritePathRendersGroupAndDeletes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	created, err := f.svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: demoParticipant, InSML: true}, smp.GroupWrite{})
	if err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if created, _ := f.svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: demoParticipant, InSML: true}, smp.GroupWrite{}); created {
		t.Error("second put reports created")
	}
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, smp.ServiceMetadata{Participant: identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:none"},
		DocumentType: demoDocType, Processes: trickyMetadata(f, demoDocType).Processes}); smp.KindOf(err) != smp.KindNotFound {
		t.Errorf("metadata without group: %v", err)
	}
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, trickyMetadata(f, demoDocType)); err != nil {
		t.Fatal(err)
	}
	_, group := f.get("/" + seg(demoParticipant))
	href := xmlbind.MetadataURL(f.base, demoParticipant, demoDocType)
	if !bytes.Contains(group, []byte(`href="`+href+`"`)) {
		t.Fatalf("group lacks href %s:\n%s", href, group)
	}
	// The href works as given.
	if r, _ := f.get(strings.TrimPrefix(href, f.base)); r.StatusCode != 200 {
		t.Errorf("GET href: %d", r.StatusCode)
	}
	_, g2 := f.get("/bdxr-smp-2/" + seg(demoParticipant))
	if !bytes.Contains(g2, []byte(demoProcess.Value)) {
		t.Errorf("SMP 2.0 group lacks the process reference:\n%s", g2)
	}
	if _, err := f.svc.DeleteServiceMetadata(ctx, smp.System, demoParticipant, demoDocType); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.get(strings.TrimPrefix(href, f.base)); r.StatusCode != 404 {
		t.Errorf("deleted metadata: %d", r.StatusCode)
	}
	if _, group = f.get("/" + seg(demoParticipant)); bytes.Contains(group, []byte("href=")) {
		t.Errorf("group still references deleted metadata:\n%s", group)
	}
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, trickyMetadata(f, demoDocType)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteServiceGroup(ctx, smp.System, demoParticipant); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/" + seg(demoParticipant), strings.TrimPrefix(href, f.base), "/bdxr-smp-2/" + seg(demoParticipant)} {
		if r, _ := f.get(p); r.StatusCode != 404 {
			t.Errorf("after group delete GET %s: %d", p, r.StatusCode)
		}
	}
	if err := f.svc.DeleteServiceGroup(ctx, smp.System, demoParticipant); smp.KindOf(err) != smp.KindNotFound {
		t.Errorf("delete twice: %v", err)
	}
}

func TestInvalidModelsRefused(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed()
	ctx := context.Background()
	bad := trickyMetadata(f, demoDocType)
	bad.Processes[0].Endpoints[0].Description = "bell\x07"
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, bad); smp.KindOf(err) != smp.KindInvalid {
		t.Errorf("control character: %v", err)
	}
	bad = trickyMetadata(f, demoDocType)
	bad.Extensions = []string{"<unqualified/>"}
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, bad); smp.KindOf(err) != smp.KindInvalid {
		t.Errorf("extension without namespace: %v", err)
	}
	bad = trickyMetadata(f, demoDocType)
	bad.Extensions = []string{"<a:b xmlns:a='urn:a'>"}
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, bad); smp.KindOf(err) != smp.KindInvalid {
		t.Errorf("malformed extension: %v", err)
	}
}

// TestRedirectServed: a redirect renders, validates and verifies in every flavour.
func TestRedirectServed(t *testing.T) {
	for _, root := range []smp.Flavour{smp.PEPPOL, smp.OASIS1} {
		t.Run(root.String(), func(t *testing.T) { testRedirect(t, root) })
	}
}

func testRedirect(t *testing.T, root smp.Flavour) {
	f := newFixture(t, fixtureOpts{flavour: root})
	f.seed()
	other := f.issue("other SMP")
	sm := smp.ServiceMetadata{Participant: demoParticipant, DocumentType: demoDocType, Redirect: &smp.Redirect{
		Href: "https://other.example/iso6523-actorid-upis%3A%3A9915%3Asignpost-demo/services/x", CertificateUID: "CN=other SMP,O=Signpost,C=BE",
		Certificate: other.Cert.Raw, Extensions: []string{extWithComment},
	}}
	if _, err := f.svc.PutServiceMetadata(context.Background(), smp.System, sm); err != nil {
		t.Fatal(err)
	}
	for _, fl := range []smp.Flavour{root, smp.SMP2} {
		prefix := map[smp.Flavour]string{root: "", smp.SMP2: "/bdxr-smp-2"}[fl]
		resp, body := f.get(prefix + "/" + seg(demoParticipant) + "/services/" + seg(demoDocType))
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("other.example")) {
			t.Fatalf("%v: %d %s", fl, resp.StatusCode, body)
		}
		if err := xmllint(t, schemaFor(fl, false), body); err != nil {
			t.Errorf("%v: %v", fl, err)
		}
		if ok, msg := xmlsecVerify(t, f.caFile, body); !ok {
			t.Errorf("%v: %s", fl, msg)
		}
	}
	if n := counter(t, f, "signpost_smp_requests_total"); n < 2 {
		t.Errorf("requests counted: %v", n)
	}
	if n := counter(t, f, "signpost_smp_signatures_total"); n < 4 {
		t.Errorf("signatures counted: %v", n)
	}
}

// TestLayoutChangeRerenders: another public URL or another set of flavours on the same store marks it stale;
// Resign renders every document for the new layout and drops the flavours no longer served.
func TestLayoutChangeRerenders(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	repo := testRepo(t)
	opts := smp.Options{PublicURL: "http://one.test", Flavour: smp.PEPPOL, SMP2: true, Policy: identifier.PEPPOL,
		Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}, Binding: xmlbind.Binding{}}
	a, err := smp.New(context.Background(), repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: demoParticipant, InSML: true}, smp.GroupWrite{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutServiceMetadata(ctx, smp.System, trickyMetadata(f, demoDocType)); err != nil {
		t.Fatal(err)
	}
	opts.PublicURL, opts.SMP2 = "http://two.test/smp", false
	b, err := smp.New(context.Background(), repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Stale() {
		t.Fatal("layout change not detected")
	}
	if n, err := b.Resign(ctx, nil); err != nil || n != 1 {
		t.Fatalf("resign: %d %v", n, err)
	}
	d, err := b.Lookup(context.Background(), smp.PEPPOL, demoParticipant, identifier.ID{})
	if err != nil || !bytes.Contains(d.Body, []byte(`href="http://two.test/smp/`)) {
		t.Fatalf("group not re-rendered: %v %s", err, d.Body)
	}
	if _, err := b.Lookup(context.Background(), smp.SMP2, demoParticipant, demoDocType); !errors.Is(err, smp.ErrNotFound) {
		t.Errorf("SMP 2.0 document of a flavour no longer served: %v", err)
	}
	c, err := smp.New(context.Background(), repo, opts)
	if err != nil || c.Stale() {
		t.Fatalf("unchanged layout reported stale: %v", err)
	}
}
