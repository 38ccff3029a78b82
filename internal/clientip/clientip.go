// Package clientip finds the address of the client that sent an HTTP request.
//
// The address is the connection's peer (r.RemoteAddr), unless that peer is a trusted proxy: then the forwarding
// header is read from right to left, each hop appended by a trusted proxy being believed, and the first hop that
// is not a trusted proxy is the client. Entries left of it are what the client itself sent and are never read,
// so a client cannot choose its address, and the clients behind one proxy are told apart.
//
// Only one forwarding header is read, the one the proxies write: a proxy that appends to X-Forwarded-For passes
// a Forwarded field that the client made up through unchanged, and the other way round.
package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the forwarding header that the trusted proxies write.
type Header string

const (
	// XForwardedFor is the de facto header (nginx $proxy_add_x_forwarded_for, HAProxy option forwardfor, cloud
	// load balancers): a comma-separated list of addresses, the nearest proxy's peer last.
	XForwardedFor Header = "X-Forwarded-For"
	// Forwarded is RFC 7239: comma-separated elements whose for= parameter is the address.
	Forwarded Header = "Forwarded"
)

// Resolver finds client addresses. Its zero value trusts no proxy: the address is always the peer's.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New returns a Resolver that believes the forwarding header h when the peer is in trusted: addresses
// ("192.0.2.7", "2001:db8::1") or CIDR prefixes ("10.0.0.0/8", "2001:db8::/32"), as in http.trusted_proxies.
// An empty h means X-Forwarded-For. The error names each entry that is neither.
func New(trusted []string, h Header) (*Resolver, error) {
	switch h {
	case "":
		h = XForwardedFor
	case XForwardedFor, Forwarded:
	default:
		return nil, fmt.Errorf("clientip: forwarding header %q: use %q or %q", string(h), XForwardedFor, Forwarded)
	}
	r := &Resolver{header: h}
	var errs []error
	for _, s := range trusted {
		p, err := ParseTrusted(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.trusted = append(r.trusted, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// ParseTrusted parses one trusted-proxy entry: an address or a CIDR prefix.
func ParseTrusted(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q is not a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("clientip: trusted proxy %q is not an IP address or a CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client address of req: the peer's, or, when the peer is a trusted proxy, the rightmost hop of
// the forwarding header that is not a trusted proxy. A hop that cannot be read (malformed, "unknown", an
// obfuscated identifier) ends the walk at the proxy that passed it on. When every hop is a trusted proxy, the
// leftmost is returned. It returns the zero Addr when RemoteAddr is not an IP address (a Unix socket).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer, ok := parseHostPort(req.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !r.Trusted(peer) {
		return peer
	}
	hops := r.hops(req.Header)
	addr := peer
	for i := len(hops) - 1; i >= 0 && r.Trusted(addr); i-- {
		if !hops[i].IsValid() {
			break
		}
		addr = hops[i]
	}
	return addr
}

// hops returns the addresses in the forwarding header, leftmost first; an unreadable hop is the zero Addr.
func (r *Resolver) hops(h http.Header) []netip.Addr {
	var hops []netip.Addr
	for _, field := range h.Values(string(r.header)) {
		if r.header == Forwarded {
			for _, el := range splitOutsideQuotes(field, ',') {
				hops = append(hops, forwardedFor(el))
			}
			continue
		}
		for _, v := range strings.Split(field, ",") {
			a, _ := parseHop(strings.TrimSpace(v))
			hops = append(hops, a)
		}
	}
	return hops
}

// forwardedFor returns the for= address of one Forwarded element, or the zero Addr.
func forwardedFor(el string) netip.Addr {
	var found netip.Addr
	n := 0
	for _, pair := range splitOutsideQuotes(el, ';') {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "for") {
			continue
		}
		n++
		v := strings.TrimSpace(value)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
		} else if strings.ContainsAny(v, `"\`) {
			return netip.Addr{}
		}
		found, _ = parseHop(v)
	}
	if n != 1 { // none, or an element that says two things
		return netip.Addr{}
	}
	return found
}

// splitOutsideQuotes splits s at sep where it is not inside a quoted-string.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseHop reads one hop: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711".
func parseHop(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), true
		}
		return netip.Addr{}, false
	}
	return parseHostPort(s)
}

// parseHostPort reads "ADDR:PORT" or "[ADDR]:PORT" (a port is required, as in RemoteAddr; RFC 7239's
// obfuscated "_port" is allowed).
func parseHostPort(s string) (netip.Addr, bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || !validPort(port) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	// A zone on the peer (fe80::1%eth0) is where it came in, not who it is.
	return a.WithZone("").Unmap(), true
}

func validPort(p string) bool {
	if p == "" {
		return false
	}
	if p[0] == '_' {
		for _, c := range p[1:] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RateKey returns the key under which to count a's attempts: the address for IPv4, its /64 for IPv6 (one
// subscriber commonly holds a whole /64, so counting single IPv6 addresses would count nothing).
func RateKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}
