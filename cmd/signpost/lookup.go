package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/xmldsig"
)

type lookupOptions struct {
	dns        []string
	network    string
	zone       string
	allowHTTP  bool
	tlsCA      string
	trust      string
	transport  []string
	hashing    string
	policy     string
	cname      bool
	legacyPort int
	json       bool
	timeout    time.Duration
}

func newLookupCmd() *cobra.Command {
	o := &lookupOptions{}
	cmd := &cobra.Command{
		Use:   "lookup [flags] PARTICIPANT [DOCTYPE [PROCESS]]",
		Short: "Resolve a participant like a sending access point: DNS, SMP, signature, endpoint",
		Long: `Resolve a participant like a sending access point does: the NAPTR record of the participant in the SML
zone gives the SMP; the SMP's signed service metadata for DOCTYPE gives the endpoint, after the signature and
the signing certificate's chain to the --trust anchors are checked. Without DOCTYPE, list the document types
of the participant's service group. Identifiers are written scheme::value.

The network (--network) gives the SML zone; --zone names another zone and implies --network custom:
` + lookupNetworkHelp() + `
Under peppol-prod and peppol-test an SMP URL must be https (since 2026-02-01) unless --allow-http is given,
and the SMP's HTTPS certificate is verified against the system roots (or --tls-ca). The PEPPOL SMP CA
certificates are not built in: give them with --trust.

Exit codes (the other codes of signpost --help apply too):
` + exitCodeHelp(isLookupExitRow),
		Example: `  signpost lookup --dns 127.0.0.1:15353 --zone sml.test --trust data/dev/pki/ca.pem \
    iso6523-actorid-upis::9915:signpost-demo \
    'busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1'`,
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLookup(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.dns, "dns", nil, "name server HOST:PORT to ask (repeatable; default: /etc/resolv.conf)")
	f.StringVar(&o.network, "network", conf.NetworkPeppolProd, "SML network: "+strings.Join(append(conf.SMLPresetNames(), conf.NetworkCustom), ", ")+" (custom needs --zone)")
	f.StringVar(&o.zone, "zone", "", "SML zone (implies --network custom), e.g. sml.test for signpost dev")
	f.BoolVar(&o.allowHTTP, "allow-http", false, "under peppol-prod and peppol-test, accept a plain-http SMP URL")
	f.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of the CAs for the SMP's HTTPS certificate (default: the system roots)")
	f.StringVar(&o.trust, "trust", "", "PEM file of the trust anchors for SMP signatures (required)")
	f.StringArrayVar(&o.transport, "transport", nil, "preferred transport profile (repeatable, most preferred first; default: any)")
	f.StringVar(&o.hashing, "hashing", string(identifier.SchemeLabel), "how the participant becomes a DNS name: scheme-label or full-id")
	f.StringVar(&o.policy, "policy", "peppol", "identifier policy: peppol (strict) or oasis (lax)")
	f.BoolVar(&o.cname, "cname-fallback", false, "also try the legacy B-<md5> CNAME when the NAPTR name does not exist")
	f.IntVar(&o.legacyPort, "legacy-port", 80, "port of the SMP reached through the CNAME fallback")
	f.BoolVar(&o.json, "json", false, "print the result (or the error) as JSON")
	f.DurationVar(&o.timeout, "timeout", 15*time.Second, "time limit of the whole lookup")
	return cmd
}

func runLookup(cmd *cobra.Command, o *lookupOptions, args []string) error {
	var policy identifier.Policy
	switch o.policy {
	case "peppol":
		policy = identifier.PEPPOL
	case "oasis":
		policy = identifier.OASIS
	default:
		return usageErrorf("lookup: --policy %q: want peppol or oasis", o.policy)
	}
	mode := identifier.HashMode(o.hashing)
	if !mode.Valid() {
		return usageErrorf("lookup: --hashing %q: want scheme-label or full-id", o.hashing)
	}
	zone, requireHTTPS, err := o.resolveNetwork(cmd)
	if err != nil {
		return err
	}
	var tlsRoots *x509.CertPool
	if o.tlsCA != "" {
		if tlsRoots, err = pki.LoadCertPool(o.tlsCA); err != nil {
			return usageErrorf("lookup: --tls-ca: %v", err)
		}
	}
	if o.trust == "" {
		return usageErrorf("lookup: --trust FILE is required: the PEM trust anchors of the network's SMP certificates (for signpost dev: data/dev/pki/ca.pem)")
	}
	roots, err := pki.LoadCertPool(o.trust)
	if err != nil {
		return usageErrorf("lookup: --trust: %v", err)
	}
	var req lookup.Request
	if req.Participant, err = policy.Parse(identifier.Participant, args[0]); err != nil {
		return usageErrorf("lookup: %v", err)
	}
	if len(args) > 1 {
		if req.DocumentType, err = policy.Parse(identifier.DocumentType, args[1]); err != nil {
			return usageErrorf("lookup: %v", err)
		}
	}
	if len(args) > 2 {
		if req.Process, err = policy.Parse(identifier.Process, args[2]); err != nil {
			return usageErrorf("lookup: %v", err)
		}
	}
	dnsTimeout := min(lookup.DefaultDNSTimeout, o.timeout)
	client, err := lookup.New(lookup.Config{
		Zone:              zone,
		RequireHTTPS:      requireHTTPS,
		TLSRoots:          tlsRoots,
		HashMode:          mode,
		CNAMEFallback:     o.cname,
		LegacyPort:        o.legacyPort,
		Servers:           o.dns,
		Policy:            policy,
		Verifier:          &xmldsig.Verifier{Roots: roots},
		TransportProfiles: o.transport,
		DNSTimeout:        dnsTimeout,
		HTTPTimeout:       o.timeout,
		CacheEntries:      -1,
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	out := cmd.OutOrStdout()
	if req.DocumentType.IsZero() {
		g, err := client.ServiceGroup(ctx, req.Participant)
		if err != nil {
			return lookupFailed(out, o.json, err)
		}
		return printGroup(out, o.json, g)
	}
	res, err := client.Lookup(ctx, req)
	if err != nil {
		return lookupFailed(out, o.json, err)
	}
	return printResult(out, o.json, res)
}

// resolveNetwork (of lookup and doctor) returns the zone of --network or --zone and whether SMP URLs must be https.
func (o *lookupOptions) resolveNetwork(cmd *cobra.Command) (string, bool, error) {
	network := o.network
	zoneSet := cmd.Flags().Changed("zone")
	if zoneSet {
		if cmd.Flags().Changed("network") && network != conf.NetworkCustom {
			return "", false, usageErrorf("%s: --zone names a zone of your own, which --network %s sets already; leave out one of them (--zone implies --network %s)", cmd.Name(), network, conf.NetworkCustom)
		}
		network = conf.NetworkCustom
	}
	if network == conf.NetworkCustom {
		if strings.Trim(o.zone, ".") == "" {
			return "", false, usageErrorf("%s: --network %s needs --zone ZONE", cmd.Name(), conf.NetworkCustom)
		}
		return o.zone, false, nil
	}
	n, ok := conf.SMLPreset(network)
	if !ok {
		return "", false, usageErrorf("%s: --network %q: want %s or %s (with --zone)", cmd.Name(), network, strings.Join(conf.SMLPresetNames(), ", "), conf.NetworkCustom)
	}
	return n.Zone, !o.allowHTTP, nil
}

// lookupNetworkHelp lists the preset networks, their zone and SML, and where they come from.
func lookupNetworkHelp() string {
	var b strings.Builder
	for _, name := range conf.SMLPresetNames() {
		n, _ := conf.SMLPreset(name)
		def := ""
		if name == conf.NetworkPeppolProd {
			def = " (default)"
		}
		fmt.Fprintf(&b, "  %-12s zone %s  SML %s%s\n", name, n.Zone, n.URL, def)
	}
	fmt.Fprintf(&b, "  %-12s zone of --zone (e.g. the EC's old edelivery.tech.ec.europa.eu, which stopped answering in August 2026)\n", conf.NetworkCustom)
	b.WriteString("  (OpenPeppol's SMLs since 2026, as phax/peppol-commons ESML lists them; docs/lookup.md)\n")
	return b.String()
}

// lookupFailed reports a failed lookup: with --json, the error as JSON on out, with its kind and exit code. The
// error returned keeps its lookup.Kind, which exitCode maps.
func lookupFailed(out io.Writer, asJSON bool, err error) error {
	kind, msg := "error", err.Error()
	if k := lookup.KindOf(err); k != 0 {
		kind = k.String()
	}
	if asJSON {
		j := map[string]any{"kind": kind, "message": msg, "exitCode": exitCode(err)}
		var le *lookup.Error
		if errors.As(err, &le) && le.Field != "" {
			j["field"] = le.Field
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"error": j})
	}
	return fmt.Errorf("%s: %w", kind, err)
}

type jsonCert struct {
	PEM       string `json:"pem"`
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Serial    string `json:"serial"`
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
	SHA256    string `json:"sha256"`
}

func certJSON(c *x509.Certificate) *jsonCert {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	return &jsonCert{
		PEM: string(pki.EncodeCertPEM(c)), Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		Serial: c.SerialNumber.Text(16), NotBefore: c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter: c.NotAfter.UTC().Format(time.RFC3339), SHA256: hex.EncodeToString(sum[:]),
	}
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

type jsonTrace struct {
	DNSName     string `json:"dnsName"`
	DNSServer   string `json:"dnsServer,omitempty"`
	NAPTR       string `json:"naptr,omitempty"`
	CNAME       bool   `json:"cnameFallback"`
	SMPBaseURL  string `json:"smpBaseUrl"`
	Binding     string `json:"binding"`
	URL         string `json:"url"`
	RedirectURL string `json:"redirectUrl,omitempty"`
	Signer      string `json:"signer,omitempty"`
}

func traceJSON(t lookup.Trace) jsonTrace {
	j := jsonTrace{DNSName: strings.TrimSuffix(t.DNSName, "."), DNSServer: t.DNSServer, NAPTR: t.NAPTR, CNAME: t.CNAME,
		SMPBaseURL: t.SMPBaseURL, Binding: string(t.Binding), URL: t.URL, RedirectURL: t.RedirectURL}
	if t.Signer != nil {
		j.Signer = t.Signer.Subject.String()
	}
	return j
}

func printResult(out io.Writer, asJSON bool, r *lookup.Result) error {
	ep := r.Endpoint
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"participant":         r.Participant.String(),
			"documentType":        r.DocumentType.String(),
			"matchedDocumentType": r.MatchedDocumentType.String(),
			"process":             r.Process.String(),
			"endpoint": map[string]any{
				"address":                       ep.Address,
				"transportProfile":              ep.TransportProfile,
				"certificate":                   certJSON(ep.Certificate),
				"activationDate":                timeOrEmpty(ep.ActivationDate),
				"expirationDate":                timeOrEmpty(ep.ExpirationDate),
				"description":                   ep.Description,
				"technicalContact":              ep.TechnicalContact,
				"technicalInformationUrl":       ep.TechnicalInformationURL,
				"requireBusinessLevelSignature": ep.RequireBusinessLevelSignature,
			},
			"trace": traceJSON(r.Trace),
		})
	}
	w := func(k, v string) {
		if v != "" {
			fmt.Fprintf(out, "%-15s %s\n", k, v)
		}
	}
	w("participant", r.Participant.String())
	w("document type", r.DocumentType.String())
	if r.MatchedDocumentType != r.DocumentType {
		w("registered as", r.MatchedDocumentType.String())
	}
	w("process", r.Process.String())
	w("endpoint", ep.Address)
	w("transport", ep.TransportProfile)
	if c := ep.Certificate; c != nil {
		sum := sha256.Sum256(c.Raw)
		w("certificate", c.Subject.String())
		w("  issuer", c.Issuer.String())
		w("  serial", c.SerialNumber.Text(16))
		w("  valid", c.NotBefore.UTC().Format(time.RFC3339)+" to "+c.NotAfter.UTC().Format(time.RFC3339))
		w("  sha256", hex.EncodeToString(sum[:]))
	}
	if !ep.ActivationDate.IsZero() || !ep.ExpirationDate.IsZero() {
		f := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format(time.RFC3339)
		}
		w("active", f(ep.ActivationDate)+" to "+f(ep.ExpirationDate))
	}
	w("contact", ep.TechnicalContact)
	printTrace(out, r.Trace)
	return nil
}

func printTrace(out io.Writer, t lookup.Trace) {
	how := "NAPTR " + t.NAPTR
	if t.CNAME {
		how = "legacy CNAME " + strings.TrimSuffix(t.DNSName, ".")
	}
	if t.DNSServer != "" {
		how += " (from " + t.DNSServer + ")"
	}
	fmt.Fprintf(out, "%-15s %s\n", "via", how)
	fmt.Fprintf(out, "%-15s %s (%s)\n", "SMP", t.SMPBaseURL, t.Binding)
	fmt.Fprintf(out, "%-15s %s\n", "fetched", t.URL)
	if t.RedirectURL != "" {
		fmt.Fprintf(out, "%-15s %s\n", "redirected to", t.RedirectURL)
	}
	if t.Signer != nil {
		fmt.Fprintf(out, "%-15s %s (signature and chain verified)\n", "signed by", t.Signer.Subject.String())
	}
}

func printGroup(out io.Writer, asJSON bool, g *lookup.ServiceGroup) error {
	if asJSON {
		docs := []string{}
		for _, d := range g.DocumentTypes {
			docs = append(docs, d.Raw)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"participant": g.Participant.String(), "documentTypes": docs, "signed": g.Signed, "trace": traceJSON(g.Trace)})
	}
	fmt.Fprintf(out, "%-15s %s\n", "participant", g.Participant)
	if len(g.DocumentTypes) == 0 {
		fmt.Fprintf(out, "%-15s %s\n", "document types", "(none)")
	}
	for i, d := range g.DocumentTypes {
		k := ""
		if i == 0 {
			k = "document types"
		}
		fmt.Fprintf(out, "%-15s %s\n", k, d.Raw)
	}
	printTrace(out, g.Trace)
	if !g.Signed {
		fmt.Fprintf(out, "%-15s %s\n", "note", "the service group is unsigned (as PEPPOL and OASIS 1.0 define it); each document type's metadata is verified when looked up")
	}
	return nil
}
