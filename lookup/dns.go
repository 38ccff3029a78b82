package lookup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsAnswer is what the client keeps of a DNS reply: the rcode, the answer records, and when it expires.
type dnsAnswer struct {
	rcode   int
	answer  []dns.RR
	server  string
	expires time.Time
}

// resolver asks the configured name servers directly (the system resolver can neither answer NAPTR nor
// tell NXDOMAIN from a failure).
type resolver struct {
	servers  []string
	attempts int // per server, for timeouts (a lost UDP datagram)
	udp      *dns.Client
	tcp      *dns.Client
}

func newResolver(servers []string, timeout time.Duration, attempts int) (*resolver, error) {
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("lookup: no name servers configured and /etc/resolv.conf unreadable: %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, errors.New("lookup: no name servers configured and none in /etc/resolv.conf")
		}
	}
	for i, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			servers[i] = net.JoinHostPort(s, "53")
		}
	}
	return &resolver{
		servers:  servers,
		attempts: attempts,
		udp:      &dns.Client{Net: "udp", Timeout: timeout, UDPSize: 4096},
		tcp:      &dns.Client{Net: "tcp", Timeout: timeout},
	}, nil
}

// query asks each server in turn until one gives an answer (NOERROR or NXDOMAIN). Timeouts, network errors,
// SERVFAIL, REFUSED and other rcodes move on to the next server; when none answers, the error is a
// DNSFailure that names what each server did.
func (r *resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	var problems []string
	for _, srv := range r.servers {
		if err := ctx.Err(); err != nil {
			problems = append(problems, err.Error())
			break
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		m.RecursionDesired = true
		m.SetEdns0(4096, false)
		var resp *dns.Msg
		var err error
		for try := 0; try < r.attempts; try++ {
			resp, _, err = r.udp.ExchangeContext(ctx, m, srv)
			if err == nil && resp.Truncated {
				resp, _, err = r.tcp.ExchangeContext(ctx, m, srv)
			}
			if err == nil || describeNetErr(err) != "timeout" || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			problems = append(problems, srv+": "+describeNetErr(err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return resp, srv, nil
		default:
			problems = append(problems, srv+": "+dns.RcodeToString[resp.Rcode])
		}
	}
	return nil, "", errorf(DNSFailure, nil, "no name server answered %s %s (%s); the participant may well be registered: retry later or check --dns",
		strings.TrimSuffix(name, "."), dns.TypeToString[qtype], strings.Join(problems, "; "))
}

func describeNetErr(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// answerTTL returns how long a reply may be cached: the smallest TTL of the answer records for a positive
// answer; for NXDOMAIN the SOA's negative TTL (min of its TTL and MINIMUM) capped at negMax.
func answerTTL(resp *dns.Msg, qtype uint16, negMax time.Duration) time.Duration {
	if resp.Rcode == dns.RcodeNameError || len(resp.Answer) == 0 {
		ttl := negMax
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				s := min(soa.Hdr.Ttl, soa.Minttl)
				ttl = min(ttl, time.Duration(s)*time.Second)
			}
		}
		return ttl
	}
	var ttl uint32 = 1<<31 - 1
	for _, rr := range resp.Answer {
		ttl = min(ttl, rr.Header().Ttl)
	}
	return time.Duration(ttl) * time.Second
}

// lookupDNS answers name/qtype from the cache or the name servers.
func (c *Client) lookupDNS(ctx context.Context, name string, qtype uint16) (dnsAnswer, bool, error) {
	key := strings.ToLower(dns.Fqdn(name)) + "/" + dns.TypeToString[qtype]
	now := c.now()
	if a, ok := c.cache.getDNS(key, now); ok {
		return a, true, nil
	}
	resp, srv, err := c.res.query(ctx, name, qtype)
	if err != nil {
		return dnsAnswer{}, false, err
	}
	a := dnsAnswer{rcode: resp.Rcode, answer: resp.Answer, server: srv}
	ttl := answerTTL(resp, qtype, c.cfg.NegativeTTL)
	a.expires = now.Add(ttl)
	if ttl > 0 {
		c.cache.putDNS(key, a)
	}
	return a, false, nil
}

// resolveHost returns the IPv4/IPv6 addresses of a host name inside the SML zone (the legacy B- names and
// their publisher CNAMEs), following CNAMEs; a target outside the zone is left to the system resolver.
func (c *Client) resolveHost(ctx context.Context, host string) ([]string, error) {
	name := dns.Fqdn(host)
	for range 8 {
		if !c.inZone(name) {
			return net.DefaultResolver.LookupHost(ctx, strings.TrimSuffix(name, "."))
		}
		a, _, err := c.lookupDNS(ctx, name, dns.TypeA)
		if err != nil {
			return nil, err
		}
		if a.rcode == dns.RcodeNameError {
			return nil, fmt.Errorf("%s: NXDOMAIN", name)
		}
		var addrs []string
		next := ""
		for _, rr := range a.answer {
			switch rr := rr.(type) {
			case *dns.A:
				addrs = append(addrs, rr.A.String())
			case *dns.CNAME:
				if strings.EqualFold(rr.Hdr.Name, name) {
					next = rr.Target
				}
			}
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		if next == "" {
			return nil, fmt.Errorf("%s has no address", name)
		}
		name = next
	}
	return nil, fmt.Errorf("%s: CNAME chain too long", host)
}

func (c *Client) inZone(name string) bool {
	z := c.zoneFQDN
	n := strings.ToLower(dns.Fqdn(name))
	return n == z || strings.HasSuffix(n, "."+z)
}
