// Package dnstest holds DNS test helpers: records from zone-file text, query cases compared without regard to
// record order or name case, and an in-memory zone source with a journal for the DNS server's tests and
// benchmarks.
package dnstest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// RR parses one record in zone-file syntax; it panics on bad text (test tables are constants).
func RR(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil || r == nil {
		panic(fmt.Sprintf("dnstest: bad record %q: %v", s, err))
	}
	return r
}

// RRs parses records, one per line; blank lines and ;-comments are skipped.
func RRs(text string) []dns.RR {
	var out []dns.RR
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		out = append(out, RR(l))
	}
	return out
}

// Case is one query and the answer expected.
type Case struct {
	Name   string // for failure messages; defaults to "QNAME QTYPE"
	Qname  string
	Qtype  uint16
	Rcode  int
	AA     bool
	TC     bool
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR // OPT records are left out of the comparison
}

// Msg returns the query of the case, without recursion desired.
func (c Case) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(c.Qname, c.Qtype)
	m.RecursionDesired = false
	return m
}

// String names the case.
func (c Case) String() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Qname + " " + dns.TypeToString[c.Qtype]
}

// SortAndCheck compares resp with the case: rcode, AA, TC, RA clear, and each section as a set of records
// (names compared case-insensitively, order ignored). It returns nil or an error saying what differs.
func SortAndCheck(resp *dns.Msg, c Case) error {
	if resp == nil {
		return fmt.Errorf("%s: no response", c)
	}
	var errs []string
	if resp.Rcode != c.Rcode {
		errs = append(errs, fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.Rcode]))
	}
	if resp.Authoritative != c.AA {
		errs = append(errs, fmt.Sprintf("aa %v, want %v", resp.Authoritative, c.AA))
	}
	if resp.Truncated != c.TC {
		errs = append(errs, fmt.Sprintf("tc %v, want %v", resp.Truncated, c.TC))
	}
	if resp.RecursionAvailable {
		errs = append(errs, "ra set")
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, c.Qname) || resp.Question[0].Qtype != c.Qtype {
		errs = append(errs, fmt.Sprintf("question %v, want %s", resp.Question, c))
	}
	var extra []dns.RR
	for _, r := range resp.Extra {
		if r.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, r)
		}
	}
	for _, s := range []struct {
		name      string
		got, want []dns.RR
	}{{"answer", resp.Answer, c.Answer}, {"authority", resp.Ns, c.Ns}, {"additional", extra, c.Extra}} {
		g, w := Canon(s.got), Canon(s.want)
		if !slices.Equal(g, w) {
			errs = append(errs, fmt.Sprintf("%s section:\n  got  %s\n  want %s", s.name,
				strings.Join(g, "\n       "), strings.Join(w, "\n       ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", c, strings.Join(errs, "; "))
	}
	return nil
}

// Canon returns records as sorted, lower-cased presentation lines (for order- and case-independent comparison).
func Canon(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, r := range rrs {
		out = append(out, strings.ToLower(r.String()))
	}
	slices.Sort(out)
	return out
}
