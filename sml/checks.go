// Checks of what callers send: the caller's domain and ownership of an SMP, SMP IDs, addresses, participant
// identifiers, NAPTR services and batch sizes.

package sml

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode"

	"github.com/signpost-project/signpost/identifier"
)

// callerDomain returns the domain of the caller's certificate.
func (s *Service) callerDomain(c Caller) (*Domain, error) {
	d, ok := s.domains[fqdn(c.Domain)]
	if !ok {
		return nil, errorf(KindUnauthorized, "your certificate does not belong to a domain of this SML; ask the SML operator which certificate issuer is trusted")
	}
	if c.Identity == "" {
		return nil, errorf(KindUnauthorized, "no client certificate identity; call with your SMP certificate")
	}
	return d, nil
}

// ownedSMP reads the SMP and checks that the caller owns it.
func (s *Service) ownedSMP(t Tx, c Caller, id string) (SMP, *Domain, error) {
	if err := checkSMPID(id); err != nil {
		return SMP{}, nil, err
	}
	smp, ok, err := t.SMP(id)
	if err != nil {
		return SMP{}, nil, err
	}
	if !ok {
		return SMP{}, nil, smpError(KindNotFound, id, "the SMP '%s' does not exist; create it first (CreateServiceMetadataPublisherService)", id)
	}
	owner, err := ownerAt(t, smp.Owner, s.now()) // a scheduled certificate change may have taken effect
	if err != nil {
		return SMP{}, nil, err
	}
	if owner != c.Identity {
		return SMP{}, nil, smpError(KindUnauthorized, id, "the SMP '%s' belongs to another certificate; call with the certificate that created it", id)
	}
	d, ok := s.domains[smp.Domain]
	if !ok || smp.Domain != fqdn(c.Domain) {
		return SMP{}, nil, smpError(KindUnauthorized, id, "the SMP '%s' is not in the SML domain of your certificate", id)
	}
	return smp, d, nil
}

// checkSMPID checks that id can form a DNS label: 1..63 letters, digits, '-' or '_', not beginning or ending with '-'.
func checkSMPID(id string) error {
	if id == "" {
		return smpError(KindBadRequest, id, "the SMP ID is empty; give the ID agreed for your SMP")
	}
	if len(id) > 63 {
		return smpError(KindBadRequest, id, "the SMP ID '%s' is longer than 63 characters (it must form a DNS label)", shorten(id))
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-'
		if !ok {
			return smpError(KindBadRequest, id, "the SMP ID '%s' has the character %q at position %d; use letters, digits, '-' and '_' (it must form a DNS label)", shorten(id), rune(ch), i+1)
		}
	}
	if id[0] == '-' || id[len(id)-1] == '-' {
		return smpError(KindBadRequest, id, "the SMP ID '%s' begins or ends with '-'; it must form a DNS label", id)
	}
	return nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// MaxAddressLength bounds the logical address: it goes into a NAPTR character-string (255 bytes with "!^.*$!...!").
const MaxAddressLength = 240

func checkAddresses(smp *SMP) error {
	smp.LogicalAddress = strings.TrimSpace(smp.LogicalAddress)
	smp.PhysicalAddress = strings.TrimSpace(smp.PhysicalAddress)
	la := smp.LogicalAddress
	u, err := url.Parse(la)
	if la == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return smpError(KindBadRequest, smp.ID, "the logical address '%s' is not an absolute http or https URL; give the SMP's base URL, e.g. https://smp.example.org", shorten(la))
	}
	if len(la) > MaxAddressLength {
		return smpError(KindBadRequest, smp.ID, "the logical address is %d characters long; at most %d fit into a NAPTR record", len(la), MaxAddressLength)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(la, "!\\\" ") {
		return smpError(KindBadRequest, smp.ID, "the logical address '%s' has a query, fragment, space, quote, '!' or '\\'; give the SMP's base URL only", shorten(la))
	}
	for _, r := range la {
		if r > unicode.MaxASCII || unicode.IsControl(r) {
			return smpError(KindBadRequest, smp.ID, "the logical address '%s' has a non-ASCII or control character; encode it (punycode host, percent-encoded path)", shorten(la))
		}
	}
	if smp.PhysicalAddress != "" {
		a, err := netip.ParseAddr(smp.PhysicalAddress)
		if err != nil || a.Zone() != "" {
			return smpError(KindBadRequest, smp.ID, "the physical address '%s' is not an IP address; give the SMP's IPv4 address, e.g. 192.0.2.10", shorten(smp.PhysicalAddress))
		}
	}
	return nil
}

// canonical validates a received identifier with the domain's policy and scheme pattern. wildcard allows "*".
func (d *Domain) canonical(raw identifier.ID, wildcard bool) (identifier.ID, error) {
	var id identifier.ID
	if raw.Value == Wildcard {
		if !wildcard {
			return id, participantError(KindUnauthorized, raw, "registering the wildcard participant '*' of scheme '%s' needs a certificate allowed to; ask the SML operator", raw.Scheme)
		}
		if d.Hashing != identifier.SchemeLabel {
			return id, participantError(KindBadRequest, raw, "the wildcard participant '*' needs a domain with a scheme label (hashing scheme-label)")
		}
		probe, err := d.Policy.New(identifier.Participant, raw.Scheme, "wildcard")
		if err != nil && !d.Policy.Lax && strings.EqualFold(raw.Scheme, identifier.SchemeISO6523) {
			probe, err = identifier.ID{Scheme: identifier.SchemeISO6523}, nil
		}
		if err != nil {
			return id, &Error{Kind: KindBadRequest, Participant: raw, Msg: err.Error()}
		}
		id = identifier.ID{Scheme: probe.Scheme, Value: Wildcard}
	} else {
		var err error
		id, err = d.Policy.New(identifier.Participant, strings.TrimSpace(raw.Scheme), strings.TrimSpace(raw.Value))
		if err != nil {
			return id, &Error{Kind: KindBadRequest, Participant: raw, Msg: err.Error() + "; correct the participant identifier"}
		}
	}
	if d.schemes != nil && !d.schemes.MatchString(id.Scheme) {
		return id, participantError(KindBadRequest, raw, "the participant scheme '%s' is not accepted in domain %s (allowed: %s)", id.Scheme, d.Zone, d.SchemePattern)
	}
	return id, nil
}

func checkService(svc string) (string, error) {
	if svc == "" {
		return DefaultService, nil
	}
	if len(svc) > 100 {
		return "", errorf(KindBadRequest, "the NAPTR service '%s' is longer than 100 characters", shorten(svc))
	}
	for _, r := range svc {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' {
			return "", errorf(KindBadRequest, "the NAPTR service '%s' has a space, quote, backslash or non-ASCII character; use e.g. Meta:SMP", shorten(svc))
		}
	}
	// RFC 3958 section 6.5: service-parms = app-service *(":" app-protocol); each part is ALPHA *31ALPHANUMSYM
	// (ALPHANUMSYM = ALPHA / DIGIT / "+" / "-" / "." / "_"). A URL ("https://...") is not one. One extension:
	// '#' is accepted after the first character, for DBNAlliance's oasis-bdxr-smp-2#dbnalliance-1.1 (DIGEST, other communities).
	for _, part := range strings.Split(svc, ":") {
		if !rfc3958Part(part) {
			return "", errorf(KindBadRequest, "the NAPTR service '%s' is not an RFC 3958 service field (parts of a letter and up to 31 "+
				"letters, digits, '+', '-', '.', '_' or '#', joined by ':', e.g. Meta:SMP); a URL belongs in the SMP's logical address", shorten(svc))
		}
	}
	return svc, nil
}

func rfc3958Part(p string) bool {
	if p == "" || len(p) > 32 {
		return false
	}
	for i := 0; i < len(p); i++ {
		ch := p[i]
		alpha := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if i == 0 && !alpha {
			return false
		}
		if !alpha && !(ch >= '0' && ch <= '9') && ch != '+' && ch != '-' && ch != '.' && ch != '_' && ch != '#' {
			return false
		}
	}
	return true
}

func checkBatch(n int) error {
	if n < 1 || n > MaxBatch {
		return errorf(KindBadRequest, "%d participants in one call; give 1 to %d", n, MaxBatch)
	}
	return nil
}
