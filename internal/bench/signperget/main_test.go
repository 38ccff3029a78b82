package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/xmldsig"
)

func testKey(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench SMP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// sign signs src as the SMP does at write time.
func sign(t *testing.T, s *xmldsig.Signer, src string, place xmldsig.Placement) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	out, err := s.SignEnveloped(doc, place)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The wrapper signs again on every GET: a stored document whose content no longer matches its signature comes out
// with a valid one, in the profile and at the place of the stored signature; other responses pass unchanged.
func TestResignsEveryGet(t *testing.T) {
	key, cert := testKey(t)
	rs, err := newResigner(key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	v := &xmldsig.Verifier{Roots: roots}

	smp1 := sign(t, rs.smp1, `<SignedServiceMetadata xmlns="http://busdox.org/serviceMetadata/publishing/1.0/"><ServiceMetadata><Endpoint>https://ap-a.test/as4</Endpoint></ServiceMetadata></SignedServiceMetadata>`, xmldsig.SecondChild)
	smp2 := sign(t, rs.smp2, `<ServiceMetadata xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"><ID>p</ID><Endpoint>https://ap-a.test/as4</Endpoint></ServiceMetadata>`, xmldsig.LastChild)
	for name, signed := range map[string][]byte{"smp1": smp1, "smp2": smp2} {
		if _, _, err := v.Verify(signed); err != nil {
			t.Fatalf("%s: the stored document does not verify: %v", name, err)
		}
		stale := bytes.Replace(signed, []byte("ap-a.test"), []byte("ap-b.test"), 1)
		if _, _, err := v.Verify(stale); err == nil {
			t.Fatalf("%s: a changed document still verifies", name)
		}
		var calls int
		h := rs.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.Header().Set("Content-Type", "text/xml")
			w.Header().Set("Content-Length", "1")
			_, _ = w.Write(stale)
		}))
		for range 2 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/p/services/d", nil))
			body := rec.Body.Bytes()
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Length") != itoa(len(body)) {
				t.Fatalf("%s: status %d, Content-Length %q for %d bytes", name, rec.Code, rec.Header().Get("Content-Length"), len(body))
			}
			el, _, err := v.Verify(body)
			if err != nil {
				t.Fatalf("%s: the re-signed document does not verify: %v\n%s", name, err, body)
			}
			if el.FindElement("//Endpoint").Text() != "https://ap-b.test/as4" {
				t.Fatalf("%s: re-signed the wrong content:\n%s", name, body)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(body); err != nil {
				t.Fatal(err)
			}
			kids := doc.Root().ChildElements()
			sigAt := map[string]int{"smp1": 1, "smp2": len(kids) - 1}[name]
			if kids[sigAt].Tag != "Signature" || len(doc.Root().SelectElements("Signature")) != 1 {
				t.Fatalf("%s: the signature is not the one child at %d:\n%s", name, sigAt, body)
			}
			want := map[string]string{"smp1": xmldsig.C14N10, "smp2": xmldsig.C14N11}[name]
			if got := kids[sigAt].FindElement("./SignedInfo/CanonicalizationMethod").SelectAttrValue("Algorithm", ""); got != want {
				t.Fatalf("%s: canonicalisation %s, want %s", name, got, want)
			}
		}
		if calls != 2 {
			t.Fatalf("%s: inner handler called %d times for 2 GETs", name, calls)
		}
	}

	// Unsigned documents, errors and other methods pass as they are.
	for _, c := range []struct {
		method string
		status int
		body   string
	}{{http.MethodGet, http.StatusOK, "<ServiceGroup/>"}, {http.MethodGet, http.StatusNotFound, string(smp1)}, {http.MethodPut, http.StatusOK, string(smp1)}} {
		h := rs.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, "/p", nil))
		if rec.Code != c.status || rec.Body.String() != c.body {
			t.Fatalf("%s %d: got %d %q", c.method, c.status, rec.Code, rec.Body.String())
		}
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
