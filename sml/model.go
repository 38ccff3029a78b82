package sml

import (
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
)

// MaxBatch is the largest number of participants in one CreateParticipants or DeleteParticipants call (the
// CreateList / DeleteList limit of the SML interface).
const MaxBatch = 100

// DefaultService is the NAPTR service of a participant registered without one.
const DefaultService = "Meta:SMP"

// Caller is the authenticated client of a use case.
type Caller struct {
	// Identity is the caller's certificate identity, "<subject DN, RFC 4514>:<serial, lower-case hex>"
	// (pki.Identity); it becomes the Owner of the SMPs the caller creates.
	Identity string
	// Domain is the zone (FQDN) of the domain the caller's certificate belongs to.
	Domain string
	// Wildcard allows the caller to register the participant value "*" (a whole scheme).
	Wildcard bool
	// NotAfter is when the caller's certificate expires (zero when unknown); the SMPs it creates or updates
	// record it, for the operator's expiry report.
	NotAfter time.Time
}

// SMP is a registered service metadata publisher.
type SMP struct {
	// ID is chosen by the SMP's operator; it must form a DNS label (letters, digits, '-', '_', at most 63).
	ID string
	// LogicalAddress is the SMP's base URL (http or https), published in every NAPTR of its participants.
	LogicalAddress string
	// PhysicalAddress is the SMP's IP address (PEPPOL: IPv4).
	PhysicalAddress string
	// Owner is the certificate identity that created the SMP; only it may change the SMP and its participants.
	Owner string
	// Domain is the zone the SMP belongs to (FQDN, lower case).
	Domain           string
	Created, Updated time.Time
	// CertNotAfter is when the owner's certificate expires, as last seen when the SMP was created or updated
	// (zero: not seen since this was recorded).
	CertNotAfter time.Time
}

// Participant is a registered participant.
type Participant struct {
	ID      identifier.ID // canonical
	SMPID   string
	Service string // NAPTR service, "Meta:SMP" by default
	Domain  string // zone
	Created time.Time
	Updated time.Time
}

// ParticipantSpec is a participant to register.
type ParticipantSpec struct {
	// ID is the scheme and value as received; the service validates and canonicalises them with the domain's
	// identifier policy.
	ID identifier.ID
	// Service is the NAPTR service; "" means Meta:SMP.
	Service string
}

// Domain is one SML domain: a zone and its rules, from the configuration.
type Domain struct {
	Zone        string // lower-case FQDN
	NAPTR       bool   // publishes NAPTR records
	CNAME       bool   // publishes B- CNAME records and the publisher names
	Hashing     identifier.HashMode
	Policy      identifier.Policy
	Identifiers string // peppol or oasis
	// SchemePattern is the regular expression participant schemes must match.
	SchemePattern string
	TTL           uint32 // seconds, of the participant and publisher records
	SOA           zone.SOA
	NS            []string
	// Glue are the A/AAAA records of name servers inside the zone.
	Glue []zone.Record
	// TrustedIssuers are the PEM bundle paths of the domain's SMP certificate issuers (used by the SOAP API).
	TrustedIssuers []string
	// WildcardOwners are the certificate identities allowed to register the wildcard participant "*".
	WildcardOwners []string
	// Authority are the certificate identities of the domain's SML authority (ChangeCertificate).
	Authority []string
	// CRL lists the domain's certificate revocation list files (used by the SOAP API).
	CRL []string
	// RequireHTTPS refuses SMPs whose logical address is not https.
	RequireHTTPS bool

	schemes *regexp.Regexp
}

// identities returns configured certificate identities with their serial in the form callers have (lower-case
// hex without leading zeros, as pki.Identity writes it), so that a serial copied from openssl's output matches.
func identities(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if id, ok := ownerIdentity(s); ok {
			s = id
		}
		out = append(out, s)
	}
	return out
}

// DomainFromConf converts a validated (defaulted) configuration domain.
func DomainFromConf(c conf.Domain) (Domain, error) {
	re, err := regexp.Compile(c.ParticipantSchemes)
	if err != nil {
		return Domain{}, fmt.Errorf("sml: domain %s: participant_schemes: %w", c.Zone, err)
	}
	z := fqdn(c.Zone)
	return Domain{
		Zone:           z,
		NAPTR:          c.Publishes("naptr"),
		CNAME:          c.Publishes("cname"),
		Hashing:        c.HashMode(),
		Policy:         c.Policy(),
		Identifiers:    c.Identifiers,
		SchemePattern:  c.ParticipantSchemes,
		TTL:            seconds(c.TTL),
		TrustedIssuers: append([]string(nil), c.TrustedIssuers...),
		WildcardOwners: identities(c.WildcardOwners),
		Authority:      identities(c.Authority),
		CRL:            c.CRL,
		RequireHTTPS:   c.RequireHTTPS,
		SOA: zone.SOA{
			MName: fqdn(c.SOA.MName), RName: fqdn(c.SOA.RName),
			Refresh: seconds(c.SOA.Refresh), Retry: seconds(c.SOA.Retry), Expire: seconds(c.SOA.Expire),
			Minimum: seconds(c.SOA.Minimum), TTL: seconds(c.TTL),
		},
		NS:      fqdns(c.NS),
		Glue:    glue(c.Glue, seconds(c.TTL)),
		schemes: re,
	}, nil
}

func glue(g map[string][]string, ttl uint32) []zone.Record {
	var out []zone.Record
	names := make([]string, 0, len(g))
	for n := range g {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, a := range g[n] {
			if r, ok := addrRecord(fqdn(n), a, ttl); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

func fqdns(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = fqdn(s)
	}
	return out
}

// wildcardOwner reports whether identity may register the wildcard participant "*" in d.
func (d *Domain) wildcardOwner(identity string) bool {
	for _, o := range d.WildcardOwners {
		if o == identity {
			return true
		}
	}
	return false
}
