package lookup

import (
	"context"
	"strings"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
)

// NAPTRChoice is the NAPTR record a lookup would use for a participant and what its rule yields.
type NAPTRChoice struct {
	// Record is the record chosen (nil when none is usable).
	Record *dns.NAPTR
	// Binding is the SMP interface its service selects (BindingRoot for Meta:SMP).
	Binding Binding
	// URL is the SMP base URL the record's rule gives.
	URL string
}

// ChooseNAPTR picks, from the records of a DNS answer for name (the participant's NAPTR name, without the
// trailing dot), the record a lookup uses, by the rules of docs/lookup.md step 2: flag U, a service this
// package understands, order then preference, the first rule that yields an http(s) URL; with preferHTTPS
// (Config.RequireHTTPS) a usable https record comes before any plain-http one. It also returns each record's
// flag and service, for messages. An operator's health check uses it to see DNS as a lookup does.
func ChooseNAPTR(rrs []dns.RR, name string, preferHTTPS bool) (NAPTRChoice, []string) {
	ch, seen := chooseNAPTR(rrs, name)
	if ch.record != nil && preferHTTPS && !strings.HasPrefix(strings.ToLower(ch.baseURL), "https://") {
		if alt, _ := chooseNAPTR(httpsRecords(rrs, name), name); alt.record != nil {
			ch = alt
		}
	}
	return NAPTRChoice{Record: ch.record, Binding: ch.binding, URL: ch.baseURL}, seen
}

// ApplyNAPTRRule applies a NAPTR record's regexp field ("<delim>ERE<delim>replacement<delim>[i]", RFC 3402 and
// RFC 4848) to name, as a lookup does, and returns the result or why the rule is unusable.
func ApplyNAPTRRule(regexpField, name string) (string, error) {
	return applyNAPTRRegexp(regexpField, name)
}

// NAPTRRecords asks the client's name servers (through its cache) for the participant's NAPTR name, as a lookup
// does, and returns the name (without the trailing dot), the answer's records, and whether the name exists (false
// for NXDOMAIN). A failure is a DNSFailure *Error.
func (c *Client) NAPTRRecords(ctx context.Context, pid identifier.ID) (name string, rrs []dns.RR, exists bool, err error) {
	fq := identifier.NAPTRName(pid, c.cfg.Zone, c.cfg.HashMode)
	a, _, err := c.lookupDNS(ctx, fq, dns.TypeNAPTR)
	if err != nil {
		return strings.TrimSuffix(fq, "."), nil, false, c.ctxErr(ctx, err)
	}
	return strings.TrimSuffix(fq, "."), a.answer, a.rcode != dns.RcodeNameError, nil
}
