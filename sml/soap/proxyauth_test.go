package soap_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// The dev SML certificate (sml.pem: serverAuth only) is refused as a client over real mutual TLS, with an
// UnauthorizedFault naming the missing clientAuth usage; the dev SMP certificate (clientAuth and serverAuth) is
// accepted, and so are a clientAuth-only certificate and one without the extended-key-usage extension.
func TestServerCertificateRefusedAsClient(t *testing.T) {
	files, _, err := pki.EnsureDev(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	load := func(c, k string) *pki.KeyPair {
		kp, err := pki.LoadKeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	ca := load(files.CA, files.CAKey)
	sml := load(files.SML, files.SMLKey)
	p := &testPKI{ca: &pki.Authority{Cert: ca.Cert, Key: ca.Key}, caFile: files.CA, server: sml,
		clients: map[string]*pki.KeyPair{"smp": load(files.SMP, files.SMPKey), "sml": sml}}
	issue := func(prof pki.Profile, cn string) *pki.KeyPair {
		kp, err := p.ca.Issue(pki.LeafSpec{Profile: prof, CommonName: cn, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	p.clients["client-only"] = issue(pki.TLSClient, "Client Only")
	p.clients["no-eku"] = issue(pki.Signing, "No EKU")
	e := newAuthEnv(t, authEnvOptions{pki: p})

	for _, op := range []string{"smp-create.xml", "participant-list.xml"} {
		f := e.send(t, "sml", op, nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=")
		if !strings.Contains(f.String, "lacks the clientAuth extended key usage (it has serverAuth)") {
			t.Errorf("%s: %q does not name the missing usage", op, f.String)
		}
	}
	e.send(t, "smp", "smp-create.xml", nil).ok(t)
	create := func(id string) []byte {
		return bytes.Replace(soaptest.Request(t, "smp-create-b.xml"), []byte(">SMP-B<"), []byte(">"+id+"<"), 1)
	}
	e.post(t, "client-only", "/manageservicemetadata", create("SMP-C"), nil, nil).ok(t)
	e.post(t, "no-eku", "/manageservicemetadata", create("SMP-D"), nil, nil).ok(t)
}

// proxyEnv is a plain-HTTP management listener behind a "proxy" on proxies, reading the certificate from
// header in format.
func proxyEnv(t *testing.T, p *testPKI, format string, plain bool, proxies ...string) *env {
	t.Helper()
	return newAuthEnv(t, authEnvOptions{pki: p, plain: plain, wrap: func(c *soap.CertAuthenticator, log *slog.Logger) soap.Authenticator {
		a, err := soap.NewProxyAuthenticator(c, conf.Proxy{Addresses: proxies, Header: "X-Client-Cert", Format: format}, log)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}})
}

// escapedPEM encodes as nginx's $ssl_client_escaped_cert: every byte but unreserved ones %-escaped (a space is
// %20, a plus %2B).
func escapedPEM(kp *pki.KeyPair) string {
	return strings.ReplaceAll(url.QueryEscape(string(pki.EncodeCertPEM(kp.Cert))), "+", "%20")
}

func rfc9440(kp *pki.KeyPair) string {
	return ":" + base64.StdEncoding.EncodeToString(kp.Cert.Raw) + ":"
}

// postHeader posts a testdata request with the certificate header set (v "" : without it).
func (e *env) postHeader(t *testing.T, client, file, v string) result {
	t.Helper()
	body := soaptest.Request(t, file)
	path := "/manageservicemetadata"
	if strings.HasPrefix(file, "participant-") {
		path = "/manageparticipantidentifier"
	}
	req, err := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if v != "" {
		req.Header.Set("X-Client-Cert", v)
	}
	resp, err := e.clients[client].Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	r := result{status: resp.StatusCode, body: b.Bytes()}
	if r.resp, err = soapmsg.DecodeResponse(bytes.NewReader(r.body), soapmsg.Limits{}, nil); err != nil {
		t.Fatalf("not SOAP: %v\n%s", err, r.body)
	}
	return r
}

// Behind a TLS-terminating proxy (plain HTTP from 127.0.0.1, a configured proxy address): the certificate in the
// header is the caller, in both formats, checked like a TLS client certificate (a foreign-CA certificate, a
// serverAuth-only one and an expired one are refused); without the header there is no caller.
func TestProxyHeaderFromProxy(t *testing.T) {
	p := newPKI(t)
	for _, c := range []struct {
		format  string
		proxies []string
		enc     func(*pki.KeyPair) string
	}{{soap.FormatEscapedPEM, []string{"127.0.0.1"}, escapedPEM}, {soap.FormatRFC9440, []string{"192.0.2.0/24", "127.0.0.0/8"}, rfc9440}} {
		t.Run(c.format, func(t *testing.T) {
			e := proxyEnv(t, p, c.format, true, c.proxies...)
			e.postHeader(t, "none", "smp-create.xml", c.enc(p.clients["smp-a"])).ok(t)
			e.postHeader(t, "none", "smp-read.xml", c.enc(p.clients["smp-a"])).ok(t)
			// The SMP belongs to the header's certificate: another certificate in the header is not its owner.
			e.postHeader(t, "none", "smp-read.xml", c.enc(p.clients["smp-b"])).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The SMP 'SMP-A' belongs to another")
			f := e.postHeader(t, "none", "smp-read.xml", c.enc(p.clients["foreign"])).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=SMP A")
			if !strings.Contains(f.String, "not issued by a trusted") {
				t.Errorf("foreign CA: %q", f.String)
			}
			e.postHeader(t, "none", "smp-read.xml", c.enc(p.clients["expired"])).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=SMP Expired")
			e.postHeader(t, "none", "smp-read.xml", c.enc(p.server)).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=sml.test")
			e.postHeader(t, "none", "smp-read.xml", "").fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] No client certificate")
			e.postHeader(t, "none", "smp-read.xml", "garbage").fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The client certificate in the proxy's header X-Client-Cert could not be read")
		})
	}
}

// From an address that is not a configured proxy the header is ignored and logged: the TLS client certificate
// (or none) is the caller.
func TestProxyHeaderFromOtherAddress(t *testing.T) {
	p := newPKI(t)
	e := proxyEnv(t, p, soap.FormatEscapedPEM, false, "192.0.2.1", "10.0.0.0/8")
	e.postHeader(t, "none", "smp-create.xml", escapedPEM(p.clients["smp-a"])).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] No client certificate")
	if !strings.Contains(e.log.String(), "certificate header from an address that is not a configured proxy ignored") {
		t.Errorf("not logged:\n%s", e.log.String())
	}
	// smp-b over TLS with smp-a's certificate in the header creates an SMP owned by smp-b.
	e.postHeader(t, "smp-b", "smp-create.xml", escapedPEM(p.clients["smp-a"])).ok(t)
	e.postHeader(t, "smp-b", "smp-read.xml", "").ok(t)
	e.postHeader(t, "smp-a", "smp-read.xml", "").fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The SMP 'SMP-A' belongs to another")
}

// RFC 9440's Client-Cert-Chain carries intermediates: a leaf of an intermediate CA verifies against a trusted
// root only with it. The proxy addresses may be IPv4-mapped IPv6 peers.
func TestProxyRFC9440Chain(t *testing.T) {
	now := time.Now()
	root, _ := pki.NewRoot("Root", now.Add(-time.Hour), now.Add(time.Hour))
	inter, err := root.NewIntermediate("SMP CA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "SMP I", NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cert := &soap.CertAuthenticator{Domains: []soap.DomainTrust{{Zone: zoneName, Issuers: root.Pool()}}}
	a, err := soap.NewProxyAuthenticator(cert, conf.Proxy{Addresses: []string{"10.0.0.0/8"}, Header: "Client-Cert", Format: soap.FormatRFC9440}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Proxies[0].Contains(netip.MustParseAddr("10.1.2.3")) {
		t.Fatal("prefix not parsed")
	}
	req := func(chain bool) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://sml/manageservicemetadata", nil)
		r.RemoteAddr = "[::ffff:10.1.2.3]:4000"
		r.Header.Set("Client-Cert", rfc9440(leaf))
		if chain {
			r.Header.Set("Client-Cert-Chain", ":"+base64.StdEncoding.EncodeToString(inter.Cert.Raw)+":")
		}
		return r
	}
	if _, err := a.Authenticate(req(false)); err == nil {
		t.Error("leaf without its intermediate accepted")
	}
	if c, err := a.Authenticate(req(true)); err != nil || c.Identity != pki.Identity(leaf.Cert) {
		t.Errorf("leaf with Client-Cert-Chain: %+v %v", c, err)
	}
}

// FuzzProxyHeader: any header value, in either format, is refused or yields a caller of the trusted domain;
// decoding never panics.
func FuzzProxyHeader(f *testing.F) {
	p := newPKI(f)
	f.Add(escapedPEM(p.clients["smp-a"]), "")
	f.Add(rfc9440(p.clients["smp-a"]), ":"+base64.StdEncoding.EncodeToString(p.ca.Cert.Raw)+":")
	f.Add("%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE", ":AAAA:, :")
	cert := &soap.CertAuthenticator{Domains: []soap.DomainTrust{{Zone: zoneName, Issuers: p.ca.Pool()}}}
	auths := map[string]*soap.ProxyAuthenticator{}
	for _, format := range []string{soap.FormatEscapedPEM, soap.FormatRFC9440} {
		a, err := soap.NewProxyAuthenticator(cert, conf.Proxy{Addresses: []string{"127.0.0.1"}, Header: "Client-Cert", Format: format}, nil)
		if err != nil {
			f.Fatal(err)
		}
		auths[format] = a
	}
	f.Fuzz(func(t *testing.T, v, chain string) {
		for _, a := range auths {
			r, _ := http.NewRequest(http.MethodPost, "http://sml/manageservicemetadata", nil)
			r.RemoteAddr = "127.0.0.1:4000"
			r.Header["Client-Cert"] = []string{v}
			r.Header["Client-Cert-Chain"] = []string{chain}
			c, err := a.Authenticate(r)
			if err == nil && (c.Domain != zoneName || c.Identity == "") {
				t.Fatalf("caller %+v from %q", c, v)
			}
		}
	})
}
