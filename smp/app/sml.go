package app

import (
	"crypto/x509"
	"fmt"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// SMLNetwork returns the SML this SMP registers in, as sml.network resolved it: a preset's management URL and DNS
// zone (peppol-prod, peppol-test) or sml.url and sml.zone (custom). Its URL is empty when the SMP registers in no
// SML.
func (a *App) SMLNetwork() conf.SMLNetwork { return a.sml }

// SMLClient returns the client of the SML this SMP registers in; nil when it registers in none.
func (a *App) SMLClient() *smlclient.Client { return a.smlc }

// newSMLClient builds the SML client of the configuration: sml.client_tls (by default the signing key) as the
// client certificate, sml.ca (by default the system roots) for the SML's server certificate.
func newSMLClient(cfg *conf.SMP, n conf.SMLNetwork) (*smlclient.Client, error) {
	if !n.Enabled() {
		return nil, nil
	}
	key, chain, err := LoadSigningKey(cfg.SML.ClientTLS)
	if err != nil {
		return nil, fmt.Errorf("sml.client_tls: %w", err)
	}
	var roots *x509.CertPool
	if cfg.SML.CA != "" {
		if roots, err = pki.LoadCertPool(cfg.SML.CA); err != nil {
			return nil, fmt.Errorf("sml.ca: %w", err)
		}
	}
	return smlclient.New(smlclient.Options{
		URL: n.URL, SMPID: cfg.SMPID, Certificate: tlsCertificate(key, chain), Roots: roots,
		Timeout: cfg.SML.Timeout, MaxConnections: cfg.SML.MaxConnections,
	}), nil
}

// smlAddresses are the addresses this SMP registers itself with.
func smlAddresses(cfg *conf.SMP) smlclient.Addresses {
	return smlclient.Addresses{Logical: cfg.SML.LogicalAddress, Physical: cfg.SML.PhysicalAddress}
}
