package conf_test

import (
	"strings"
	"testing"

	"github.com/signpost-project/signpost/conf"
)

// management.proxy: defaults by format, addresses and prefixes only, plain HTTP (no management.tls) only on
// loopback or private addresses; domains[].crl needs trusted_issuers.
func TestSMLProxyAndCRL(t *testing.T) {
	parse := func(y string) (*conf.SML, error) {
		return conf.ParseSML("p.yaml", []byte(y+"domains:\n  - zone: sml.test\n    trusted_issuers: ca.pem\n    crl: [a.crl, b.crl]\n"))
	}
	c, err := parse("management:\n  listen: 10.1.2.3:8443\n  proxy:\n    addresses: [127.0.0.1, 10.0.0.0/8]\n")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Management.Proxy; p.Format != "escaped-pem" || p.Header != "X-SSL-Client-Cert" {
		t.Errorf("defaults: %+v", p)
	}
	if got := c.Domains[0].CRL; len(got) != 2 || got[1] != "b.crl" {
		t.Errorf("crl = %v", got)
	}
	c, err = parse("management:\n  proxy:\n    addresses: [\"::1\"]\n    format: rfc9440\n")
	if err != nil || c.Management.Proxy.Header != "Client-Cert" {
		t.Errorf("rfc9440 default header: %+v %v", c, err)
	}
	for y, want := range map[string]string{
		"management:\n  listen: 192.0.2.1:8443\n  proxy:\n    addresses: [127.0.0.1]\n":                                   "management.listen",
		"management:\n  listen: 192.0.2.1:8443\n  tls: {cert: c.pem, key: k.pem}\n  proxy:\n    addresses: [127.0.0.1]\n": "",
		"management:\n  proxy:\n    addresses: [proxy.example.org]\n":                                                     "management.proxy.addresses[0]",
		"management:\n  proxy:\n    addresses: [127.0.0.1]\n    format: pem\n":                                            "management.proxy.format",
		"management:\n  proxy:\n    addresses: [127.0.0.1]\n    header: \"X Cert\"\n":                                     "management.proxy.header",
		"management:\n  proxy:\n    header: X-Cert\n":                                                                     "management.proxy.addresses",
	} {
		_, err := parse(y)
		if want == "" && err != nil {
			t.Errorf("%q refused: %v", y, err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: err = %v, want a %s problem", y, err, want)
		}
	}
	_, err = conf.ParseSML("n.yaml", []byte("domains:\n  - zone: sml.test\n    crl: [a.crl]\n"))
	if err == nil || !strings.Contains(err.Error(), "domains[0].crl[0]") {
		t.Errorf("crl without trusted_issuers: %v", err)
	}
}
