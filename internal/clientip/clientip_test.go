package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestAddr(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48", "::ffff:172.16.0.0/108"}
	for _, tc := range []struct {
		name    string
		trusted []string // default proxies
		header  Header
		peer    string
		fields  []string // values of the forwarding header, one field each
		want    string
	}{
		{name: "no proxy trusted: the peer", trusted: []string{}, peer: "198.51.100.7:4711",
			fields: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "spoofed header from an untrusted peer is ignored", peer: "198.51.100.7:4711",
			fields: []string{"10.1.1.1, 203.0.113.9"}, want: "198.51.100.7"},
		{name: "trusted proxy, one hop", peer: "10.0.0.5:4711", fields: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "trusted proxy without a header: the proxy", peer: "10.0.0.5:4711", want: "10.0.0.5"},
		{name: "client-sent entries left of the first untrusted hop are never read", peer: "10.0.0.5:4711",
			fields: []string{"1.2.3.4, 10.9.9.9, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", peer: "192.0.2.1:80",
			fields: []string{"1.2.3.4, 203.0.113.9, 10.0.0.7, 10.0.0.6"}, want: "203.0.113.9"},
		{name: "chain over several fields", peer: "192.0.2.1:80",
			fields: []string{"1.2.3.4, 203.0.113.9", "10.0.0.7", "10.0.0.6"}, want: "203.0.113.9"},
		{name: "every hop trusted: the leftmost", peer: "10.0.0.5:4711", fields: []string{"10.0.0.9, 10.0.0.8"}, want: "10.0.0.9"},
		{name: "hops with ports", peer: "10.0.0.5:4711", fields: []string{"203.0.113.9:51000"}, want: "203.0.113.9"},
		{name: "IPv6 peer trusted, IPv6 client", peer: "[2001:db8:ffff::2]:443",
			fields: []string{"2001:db8:1::9"}, want: "2001:db8:1::9"},
		{name: "bracketed IPv6 hop with a port", peer: "[2001:db8:ffff::2]:443",
			fields: []string{"[2001:db8:1::9]:51000"}, want: "2001:db8:1::9"},
		{name: "bracketed IPv6 hop", peer: "[2001:db8:ffff::2]:443", fields: []string{"[2001:db8:1::9]"}, want: "2001:db8:1::9"},
		{name: "IPv6 peer outside the trusted prefix", peer: "[2001:db8:fffe::2]:443",
			fields: []string{"2001:db8:1::9"}, want: "2001:db8:fffe::2"},
		{name: "IPv4-mapped peer matches an IPv4 entry", peer: "[::ffff:10.0.0.5]:4711",
			fields: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4 peer matches an IPv4-mapped entry", peer: "172.16.0.9:4711",
			fields: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "IPv4-mapped hop is unmapped", peer: "10.0.0.5:4711", fields: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "zone on the peer is dropped", trusted: []string{}, peer: "[fe80::1%eth0]:4711", want: "fe80::1"},
		{name: "malformed hop: the proxy that passed it on", peer: "10.0.0.5:4711",
			fields: []string{"203.0.113.9, not-an-address"}, want: "10.0.0.5"},
		{name: "malformed hop behind a trusted one", peer: "192.0.2.1:80",
			fields: []string{"203.0.113.9, garbage, 10.0.0.7"}, want: "10.0.0.7"},
		{name: "empty hop", peer: "10.0.0.5:4711", fields: []string{"203.0.113.9,"}, want: "10.0.0.5"},
		{name: "hop with a zone", peer: "10.0.0.5:4711", fields: []string{"fe80::1%eth0"}, want: "10.0.0.5"},
		{name: "hop with a bad port", peer: "10.0.0.5:4711", fields: []string{"203.0.113.9:http"}, want: "10.0.0.5"},
		{name: "Forwarded is not read when X-Forwarded-For is configured", peer: "10.0.0.5:4711",
			fields: []string{}, want: "10.0.0.5"},
		{name: "unreadable peer", trusted: []string{}, peer: "@", want: "invalid IP"},

		// RFC 7239
		{name: "Forwarded: for=", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{"for=203.0.113.9;proto=https;by=10.0.0.5"}, want: "203.0.113.9"},
		{name: "Forwarded: case-insensitive name, quoted IPv6 with port", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{`For="[2001:db8:1::9]:4711"`}, want: "2001:db8:1::9"},
		{name: "Forwarded: chain", header: Forwarded, peer: "192.0.2.1:80",
			fields: []string{`for=1.2.3.4, for=203.0.113.9;proto=http, for="10.0.0.7:80"`}, want: "203.0.113.9"},
		{name: "Forwarded: spoofed from an untrusted peer", header: Forwarded, peer: "198.51.100.7:4711",
			fields: []string{"for=10.1.1.1"}, want: "198.51.100.7"},
		{name: "Forwarded: unknown", header: Forwarded, peer: "10.0.0.5:4711", fields: []string{"for=unknown"}, want: "10.0.0.5"},
		{name: "Forwarded: obfuscated", header: Forwarded, peer: "10.0.0.5:4711", fields: []string{"for=_hidden"}, want: "10.0.0.5"},
		{name: "Forwarded: obfuscated port", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{`for="203.0.113.9:_p1"`}, want: "203.0.113.9"},
		{name: "Forwarded: element without for", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{"for=203.0.113.9, proto=https"}, want: "10.0.0.5"},
		{name: "Forwarded: two for in one element", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{"for=203.0.113.9;for=198.51.100.1"}, want: "10.0.0.5"},
		{name: "Forwarded: comma inside quotes does not split", header: Forwarded, peer: "10.0.0.5:4711",
			fields: []string{`for=203.0.113.9;x="a, for=10.0.0.8"`}, want: "203.0.113.9"},
		{name: "Forwarded: unbalanced quote from the client swallows nothing of the proxy's field", header: Forwarded,
			peer: "10.0.0.5:4711", fields: []string{`for="1.2.3.4`, "for=203.0.113.9"}, want: "203.0.113.9"},
		{name: "Forwarded: stray quote", header: Forwarded, peer: "10.0.0.5:4711", fields: []string{`for=203.0.113.9"`}, want: "10.0.0.5"},
		{name: "Forwarded: X-Forwarded-For is not read", header: Forwarded, peer: "10.0.0.5:4711", want: "10.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted := proxies
			if tc.trusted != nil {
				trusted = tc.trusted
			}
			r, err := New(trusted, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest(http.MethodGet, "http://smp.test/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.RemoteAddr = tc.peer
			h := tc.header
			if h == "" {
				h = XForwardedFor
			}
			for _, f := range tc.fields {
				req.Header.Add(string(h), f)
			}
			// The other header, set as a client would to confuse: never read.
			other := Forwarded
			if h == Forwarded {
				other = XForwardedFor
			}
			req.Header.Set(string(other), "for=10.2.2.2, 10.2.2.2")
			if got := r.Addr(req).String(); got != tc.want {
				t.Errorf("Addr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestZeroResolverTrustsNoOne(t *testing.T) {
	var r *Resolver
	req, _ := http.NewRequest(http.MethodGet, "http://smp.test/", nil)
	req.RemoteAddr = "10.0.0.5:1"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := r.Addr(req); got != netip.MustParseAddr("10.0.0.5") {
		t.Fatalf("nil Resolver: %v", got)
	}
	if got := (&Resolver{}).Addr(req); got != netip.MustParseAddr("10.0.0.5") {
		t.Fatalf("zero Resolver: %v", got)
	}
}

func TestNewRefuses(t *testing.T) {
	_, err := New([]string{"10.0.0.0/8", "10.0.0.0/33", "proxy.example", "fe80::1%eth0", " 192.0.2.1 "}, "")
	if err == nil {
		t.Fatal("New accepted bad entries")
	}
	for _, want := range []string{`"10.0.0.0/33" is not a CIDR prefix`, `"proxy.example" is not an IP address`, `"fe80::1%eth0" is not an IP address`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "192.0.2.1") {
		t.Errorf("error %q names a good entry", err)
	}
	if _, err := New(nil, "X-Real-IP"); err == nil || !strings.Contains(err.Error(), `use "X-Forwarded-For" or "Forwarded"`) {
		t.Errorf("New with X-Real-IP: %v", err)
	}
}

func TestParseTrusted(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3/8":          "10.0.0.0/8",
		"192.0.2.1":           "192.0.2.1/32",
		"2001:db8::1":         "2001:db8::1/128",
		"::ffff:192.0.2.1":    "192.0.2.1/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:0.0.0.0/90":   "0.0.0.0/0",
	} {
		p, err := ParseTrusted(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseTrusted(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}

func TestRateKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":          "203.0.113.9",
		"::ffff:203.0.113.9":   "203.0.113.9",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
	} {
		if got := RateKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("RateKey(%s) = %s, want %s", in, got, want)
		}
	}
}
