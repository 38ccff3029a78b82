package conf

import (
	"fmt"
	"strings"
)

// SML networks an SMP can name with sml.network.
const (
	NetworkPeppolProd = "peppol-prod"
	NetworkPeppolTest = "peppol-test"
	NetworkCustom     = "custom"
)

// smlPresets are the SMLs OpenPeppol operates since 2026 (valid from 2026-03-19): the management base URL and the
// DNS zone. Source: phax/peppol-commons, peppol-commons/src/main/java/com/helger/peppol/sml/ESML.java
// (PEPPOL_PRODUCTION "peppolprod" and PEPPOL_TEST "peppoltest") and its test ESMLTest; see docs/smp-sml.md.
var smlPresets = map[string]SMLNetwork{
	NetworkPeppolProd: {Name: NetworkPeppolProd, URL: "https://api.sml.prod.tech.peppol.org/edelivery-sml", Zone: "participant.sml.prod.tech.peppol.org."},
	NetworkPeppolTest: {Name: NetworkPeppolTest, URL: "https://api.sml.test.tech.peppol.org/edelivery-sml", Zone: "participant.sml.test.tech.peppol.org."},
}

// SMLPreset returns the preset network called name (peppol-prod or peppol-test): its SML URL and zone. The
// SMP's sml.network and `signpost lookup --network` both use it, so the zones are written in one place.
func SMLPreset(name string) (SMLNetwork, bool) {
	n, ok := smlPresets[name]
	return n, ok
}

// SMLPresetNames lists the preset networks in a fixed order (production first).
func SMLPresetNames() []string { return []string{NetworkPeppolProd, NetworkPeppolTest} }

// SMLNetwork is the SML an SMP registers in, once sml.network is resolved.
type SMLNetwork struct {
	// Name is peppol-prod, peppol-test or custom.
	Name string
	// URL is the SML's management base URL; empty: no SML registration (custom without sml.url).
	URL string
	// Zone is the SML's DNS zone, fully qualified (ending in a dot); may be empty for custom.
	Zone string
}

// Enabled reports whether the SMP registers its participants in an SML.
func (n SMLNetwork) Enabled() bool { return n.URL != "" }

// Resolved returns the SML network the configuration names: a preset's URL and zone, or sml.url and sml.zone for
// custom (also when sml.network is left out). It fails for an unknown network and for a preset that sml.url or
// sml.zone would override.
func (s *SMLClient) Resolved() (SMLNetwork, error) {
	switch s.Network {
	case "", NetworkCustom:
		return SMLNetwork{Name: NetworkCustom, URL: strings.TrimRight(s.URL, "/"), Zone: fqdn(s.Zone)}, nil
	}
	n, ok := smlPresets[s.Network]
	if !ok {
		return SMLNetwork{}, fmt.Errorf("%q is not an SML network; use %s, %s or %s", s.Network, NetworkPeppolProd, NetworkPeppolTest, NetworkCustom)
	}
	if s.URL != "" || s.Zone != "" {
		return SMLNetwork{}, fmt.Errorf("network %s sets the SML's URL and zone; leave out sml.url and sml.zone, or use network: %s", s.Network, NetworkCustom)
	}
	return n, nil
}

// validate checks the sml section: the network, and, when the SMP registers in an SML, everything the client
// needs.
func (s *SMLClient) validate(p *problems) {
	n, err := s.Resolved()
	if err != nil {
		p.add("sml.network", "%s", err.Error())
		return
	}
	if n.Name == NetworkCustom {
		validateURL(p, "sml.url", s.URL, false)
		if n.Zone != "" && !reDNSName.MatchString(n.Zone) {
			p.add("sml.zone", "%q is not a valid DNS name", s.Zone)
		}
	}
	if !n.Enabled() {
		return
	}
	validateURL(p, "sml.logical_address", s.LogicalAddress, true)
	s.ClientTLS.validate(p, "sml.client_tls", true)
	validatePositive(p, "sml.timeout", s.Timeout)
	if s.MaxConnections < 1 {
		p.add("sml.max_connections", "%d: at least 1", s.MaxConnections)
	}
	validatePositive(p, "sml.retry_min", s.RetryMin)
	validatePositive(p, "sml.retry_max", s.RetryMax)
	if s.RetryMin > 0 && s.RetryMax < s.RetryMin {
		p.add("sml.retry_max", "%s is less than sml.retry_min %s", s.RetryMax, s.RetryMin)
	}
	if s.Batch < 1 || s.Batch > 1000 {
		p.add("sml.batch", "%d: from 1 to 1000 participants per CreateList or DeleteList", s.Batch)
	}
}
