package doctor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup"
)

// naptrOf is what DNS says about a participant: the URL its NAPTR record gives, or why it gives none.
type naptrOf struct {
	name    string
	url     string
	record  string
	problem string // "" when url is set
	fix     string
	service bool // the record found uses Meta:SMP
}

const fixRegister = "register the participant in the SML for this SMP (the SMP does it when the service group is " +
	"published: signpost smp sml status, signpost smp sml retry PARTICIPANT); check --network/--zone and --hashing"

// locate asks DNS for pid's NAPTR record and applies it as a lookup does.
func (r *run) locate(ctx context.Context, pid identifier.ID) naptrOf {
	name, rrs, exists, err := r.lc.NAPTRRecords(ctx, pid)
	out := naptrOf{name: name}
	switch {
	case err != nil:
		out.problem = err.Error()
		out.fix = "check --dns: the name servers must answer for the SML zone " + strings.TrimSuffix(r.cfg.Zone, ".")
		return out
	case !exists:
		out.problem = fmt.Sprintf("participant %s is not registered: DNS answers NXDOMAIN for %s", pid, name)
		out.fix = fixRegister
		return out
	}
	var bad []string
	naptrs := 0
	for _, rr := range rrs {
		n, ok := rr.(*dns.NAPTR)
		if !ok {
			continue
		}
		naptrs++
		var why []string
		if !strings.EqualFold(n.Flags, "U") {
			why = append(why, fmt.Sprintf("flag %q, not U", n.Flags))
		}
		if !strings.EqualFold(n.Service, "Meta:SMP") {
			why = append(why, fmt.Sprintf("service %q, not Meta:SMP", n.Service))
		}
		if u, err := lookup.ApplyNAPTRRule(n.Regexp, name); err != nil {
			why = append(why, fmt.Sprintf("rule %q: %v", n.Regexp, err))
		} else if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			why = append(why, fmt.Sprintf("rule %q gives %q, not an http(s) URL", n.Regexp, u))
		}
		if len(why) > 0 {
			bad = append(bad, strings.ReplaceAll(n.String(), "\t", " ")+": "+strings.Join(why, ", "))
		}
	}
	if naptrs == 0 {
		out.problem = fmt.Sprintf("%s exists but has no NAPTR record", name)
		out.fix = "the SML publishes NAPTR records since 2025-11-01: register the participant again, or ask the SML's operator"
		return out
	}
	ch, _ := lookup.ChooseNAPTR(rrs, name, true)
	if ch.Record == nil {
		out.problem = fmt.Sprintf("no NAPTR record of %s is usable: %s", name, strings.Join(bad, "; "))
		out.fix = "the record must be NAPTR 100 10 \"U\" \"Meta:SMP\" \"!^.*$!https://your-smp.example!\" ., as the SML writes it; register the participant again"
		return out
	}
	n := ch.Record
	out.url, out.record = ch.URL, fmt.Sprintf("NAPTR %d %d %q %q %q %s", n.Order, n.Preference, n.Flags, n.Service, n.Regexp, n.Replacement)
	out.service = strings.EqualFold(ch.Record.Service, "Meta:SMP")
	if !out.service {
		out.problem = fmt.Sprintf("the NAPTR record of %s uses service %q; PEPPOL lookups use Meta:SMP", name, ch.Record.Service)
		out.fix = "register the participant with the PEPPOL SML, which writes Meta:SMP records"
	}
	return out
}

func (r *run) checkNAPTR(ctx context.Context) Result {
	pid := r.cfg.Participant
	if pid.IsZero() {
		return skip(CheckNAPTR, needParticipant, "no participant to look up")
	}
	n := r.locate(ctx, pid)
	if n.url != "" {
		r.rep.NAPTRURL = n.url
	}
	if n.problem != "" {
		return fail(CheckNAPTR, n.fix, "%s", n.problem)
	}
	return pass(CheckNAPTR, "%s: %s gives %s", n.name, n.record, n.url)
}

func (r *run) checkNAPTRTarget() Result {
	switch {
	case r.rep.NAPTRURL == "":
		return skip(CheckNAPTRTarget, "", "no SMP URL from DNS (see the naptr check)")
	case r.cfg.SMPURL == "":
		return skip(CheckNAPTRTarget, "give --smp-url or --config to compare the NAPTR record with this SMP's URL",
			"the NAPTR record gives %s; nothing to compare it with", r.rep.NAPTRURL)
	case !sameBase(r.rep.NAPTRURL, r.cfg.SMPURL):
		return fail(CheckNAPTRTarget,
			"the participant is registered for another SMP, or this SMP's URL changed: move the participant to this SMP in "+
				"the SML (a migration), or set sml.logical_address/public_url to the URL registered and let the SMP update its SML entry",
			"the NAPTR record of %s gives %s, but this SMP is %s", r.cfg.Participant, r.rep.NAPTRURL, r.cfg.SMPURL)
	}
	return pass(CheckNAPTRTarget, "the NAPTR record points to this SMP, %s", r.cfg.SMPURL)
}

func (r *run) checkHTTPS() Result {
	u := r.rep.NAPTRURL
	from := "the NAPTR record's"
	if u == "" {
		u, from = r.cfg.SMPURL, "this SMP's"
	}
	if u == "" {
		return skip(CheckHTTPS, needParticipant+", or give --smp-url", "no SMP URL to check")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fail(CheckHTTPS, "", "%s URL %q does not parse: %v", from, u, err)
	}
	const fixHTTPS = "serve the SMP over HTTPS on port 443 with a certificate from a public web CA (http.acme, or http.tls files, in conf/smp.yaml, " +
		"or a TLS reverse proxy in front), and set public_url to the https URL; the SMP then updates its SML entry"
	if !strings.EqualFold(p.Scheme, "https") {
		if r.cfg.AllowHTTP {
			return pass(CheckHTTPS, "%s URL %s is plain http, accepted because of --allow-http (the PEPPOL networks refuse it since 2026-02-01)", from, u)
		}
		return fail(CheckHTTPS, fixHTTPS, "%s URL %s is plain http; lookups under the PEPPOL networks refuse it since 2026-02-01", from, u)
	}
	if port := p.Port(); r.cfg.PEPPOL && port != "" && port != "443" {
		return fail(CheckHTTPS, fixHTTPS, "%s URL %s uses port %s; PEPPOL SMPs answer on port 443", from, u, port)
	}
	return pass(CheckHTTPS, "%s URL %s is https", from, u)
}

// checkSMLAgrees samples participants through the admin API and checks that DNS points each of those the SMP
// registered in the SML (in_sml) to this SMP.
func (r *run) checkSMLAgrees(ctx context.Context) Result {
	if r.cfg.Sample <= 0 {
		return skip(CheckSMLAgrees, "", "not asked for (--sample N)")
	}
	want := r.cfg.SMPURL
	if want == "" {
		want = r.rep.NAPTRURL
	}
	if want == "" {
		return skip(CheckSMLAgrees, "give --smp-url or --config", "no URL of this SMP to compare DNS with")
	}
	// Reservoir sampling over every page: each registered participant is as likely to be checked.
	var sample []string
	seen := 0
	after := ""
	for {
		gs, next, err := r.cfg.Admin.Groups(ctx, after, 500)
		if err != nil {
			return fail(CheckSMLAgrees, "check the admin listener and its token (--config)", "listing the SMP's service groups: %v", err)
		}
		for _, g := range gs {
			if !g.InSML {
				continue
			}
			seen++
			if len(sample) < r.cfg.Sample {
				sample = append(sample, g.Participant)
			} else if j := rand.IntN(seen); j < r.cfg.Sample {
				sample[j] = g.Participant
			}
		}
		if next == "" || len(gs) == 0 {
			break
		}
		after = next
	}
	if len(sample) == 0 {
		return skip(CheckSMLAgrees, "", "the SMP has registered no participant in the SML")
	}
	var bad []string
	for _, s := range sample {
		pid, err := r.cfg.Policy.Parse(identifier.Participant, s)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", s, err))
			continue
		}
		n := r.locate(ctx, pid)
		switch {
		case n.url == "":
			bad = append(bad, fmt.Sprintf("%s: %s", s, n.problem))
		case !sameBase(n.url, want):
			bad = append(bad, fmt.Sprintf("%s: DNS points to %s", s, n.url))
		}
	}
	if len(bad) > 0 {
		return fail(CheckSMLAgrees,
			"the SMP believes it registered these in the SML: see signpost smp sml participants --state failed, and signpost smp sml retry PARTICIPANT; "+
				"a participant another SMP holds needs a migration",
			"%d of %d sampled participants (of %d registered) disagree: %s", len(bad), len(sample), seen, strings.Join(bad, "; "))
	}
	return pass(CheckSMLAgrees, "DNS points all %d sampled participants (of %d registered) to %s", len(sample), seen, want)
}
