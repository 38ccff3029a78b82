package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/doctor"
	"github.com/signpost-project/signpost/internal/pki"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
)

// errDoctorFailed reports that a check of `signpost doctor` failed (exitDoctor); the report says which.
var errDoctorFailed = errors.New("doctor: a check failed")

type doctorOptions struct {
	lookupOptions // --network, --zone, --allow-http, --dns, --tls-ca, --trust, --hashing, --json, --timeout
	config        string
	smpURL        string
	sample        int
	minValidity   time.Duration
}

func newDoctorCmd() *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor [flags] [PARTICIPANT]",
		Short: "Check an SMP's setup as the network sees it: NAPTR, HTTPS, proxy, signatures, document types, SML",
		Long: `Check an SMP as the PEPPOL network sees it, for its operator and for the domain authority. Give a participant
the SMP serves, this SMP's URL (--smp-url), or the SMP's own configuration (--config: its public_url or
sml.logical_address, its SML network or zone, and its admin listener, which picks a participant when none is
given and lists the participants --sample checks). One line per check, with the fix to make when it fails:

  naptr           the participant's NAPTR record exists, is well formed (flag U, an http(s) URL) and uses Meta:SMP
  naptr-target    it points to this SMP's URL
  https           the SMP URL is https (on port 443 under peppol-prod and peppol-test); --allow-http accepts http
  tls             the SMP answers on the URL's port with a certificate that chains to the system roots (or
                  --tls-ca), names the host and is valid for at least --min-validity
  path-encoding   a reverse proxy in front passes %3A%3A, %23, %2F, + and an upper-case participant unchanged:
                  real documents of the participant, requested with each, give the same answer
  signature       every document of the participant verifies with --trust, names what was asked for, and the
                  signing certificate is valid for at least --min-validity
  document-types  every document type of the participant's service group answers
  sml-agrees      with --sample N: for N participants sampled through the admin listener, DNS points to this SMP

A check that does not apply, or lacks its input, is skipped (-). The exit code is 0 when no check fails, and
` + fmt.Sprint(exitDoctor) + ` (doctor-failed) when one does; the other codes of signpost --help apply to errors that keep the
checks from running (a bad flag, an unreadable --config, an admin listener that does not answer).

The network (--network) gives the SML zone, as for signpost lookup:
` + lookupNetworkHelp(),
		Example: `  signpost doctor --config /etc/signpost/smp.yaml --trust peppol-smp-ca.pem --sample 20
  signpost doctor --network peppol-test --trust smp-ca-test.pem --smp-url https://smp.example.org iso6523-actorid-upis::0088:5790000435968
  signpost doctor --dns 127.0.0.1:15353 --zone sml.test --trust data/dev/pki/ca.pem --allow-http \
    --smp-url http://127.0.0.1:18080 iso6523-actorid-upis::9915:signpost-demo`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDoctor(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "the SMP's configuration file (YAML): its URL, SML network and admin listener")
	f.StringVar(&o.smpURL, "smp-url", "", "this SMP's base URL as the SML should have it (default: from --config, else the NAPTR record's)")
	f.StringArrayVar(&o.dns, "dns", nil, "name server HOST:PORT to ask (repeatable; default: /etc/resolv.conf)")
	f.StringVar(&o.network, "network", conf.NetworkPeppolProd, "SML network: "+strings.Join(append(conf.SMLPresetNames(), conf.NetworkCustom), ", ")+" (custom needs --zone; default: that of --config, else peppol-prod)")
	f.StringVar(&o.zone, "zone", "", "SML zone (implies --network custom), e.g. sml.test for signpost dev")
	f.BoolVar(&o.allowHTTP, "allow-http", false, "accept a plain-http SMP URL (the https check passes with a note)")
	f.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of the CAs for the SMP's HTTPS certificate (default: the system roots)")
	f.StringVar(&o.trust, "trust", "", "PEM file of the trust anchors for SMP signatures (required)")
	f.StringVar(&o.hashing, "hashing", string(identifier.SchemeLabel), "how a participant becomes a DNS name: scheme-label or full-id")
	f.IntVar(&o.sample, "sample", 0, "check that DNS points N participants, sampled through the admin listener of --config, to this SMP")
	f.DurationVar(&o.minValidity, "min-validity", doctor.DefaultMinValidity, "how long the TLS and signing certificates must still be valid")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "time limit of all the checks (each request has at most 10s)")
	return cmd
}

func runDoctor(cmd *cobra.Command, o *doctorOptions, args []string) error {
	mode := identifier.HashMode(o.hashing)
	if !mode.Valid() {
		return usageErrorf("doctor: --hashing %q: want scheme-label or full-id", o.hashing)
	}
	if o.sample < 0 {
		return usageErrorf("doctor: --sample %d: give a number of participants, 1 or more (0: no sampling)", o.sample)
	}
	if o.minValidity <= 0 {
		return usageErrorf("doctor: --min-validity %s: give a positive duration, e.g. 720h", o.minValidity)
	}
	if o.timeout <= 0 {
		return usageErrorf("doctor: --timeout %s: give a positive duration", o.timeout)
	}
	cfg := doctor.Config{HashMode: mode, Servers: o.dns, AllowHTTP: o.allowHTTP, MinValidity: o.minValidity, Sample: o.sample,
		SMPURL: o.smpURL}
	if o.config != "" {
		c, err := loadSMP(o.config)
		if err != nil {
			return err
		}
		if err := o.fromConfig(cmd, c, &cfg, o.sample > 0 || len(args) == 0); err != nil {
			return err
		}
	} else if o.sample > 0 {
		return usageErrorf("doctor: --sample lists the SMP's participants through its admin listener: give --config")
	}
	if len(args) == 0 && cfg.Admin == nil && cfg.SMPURL == "" {
		return usageErrorf("doctor: name a participant, this SMP's URL (--smp-url) or its configuration (--config)")
	}
	zone, _, err := o.resolveNetwork(cmd)
	if err != nil {
		return err
	}
	cfg.Zone = zone
	cfg.PEPPOL = !cmd.Flags().Changed("zone") && o.network != conf.NetworkCustom
	if o.tlsCA != "" {
		if cfg.TLSRoots, err = pki.LoadCertPool(o.tlsCA); err != nil {
			return usageErrorf("doctor: --tls-ca: %v", err)
		}
	}
	if o.trust == "" {
		return usageErrorf("doctor: --trust FILE is required: the PEM trust anchors of the network's SMP certificates (for signpost dev: data/dev/pki/ca.pem)")
	}
	if cfg.Trust, err = pki.LoadCertPool(o.trust); err != nil {
		return usageErrorf("doctor: --trust: %v", err)
	}
	if len(args) > 0 {
		if cfg.Participant, err = cfg.Policy.Parse(identifier.Participant, args[0]); err != nil {
			return usageErrorf("doctor: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	rep, err := doctor.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
			return cmd.Context().Err()
		}
		if rep != nil && errors.Is(err, context.DeadlineExceeded) {
			// The checks that ran out of time failed: the report says which.
			if perr := printDoctor(cmd.OutOrStdout(), o.json, rep); perr != nil {
				return perr
			}
			return fmt.Errorf("%w: the checks took longer than --timeout %s: %s", errDoctorFailed, o.timeout, strings.Join(rep.Failed(), ", "))
		}
		if errors.Is(err, doctor.ErrConfig) {
			return usageError(err)
		}
		return err
	}
	if err := printDoctor(cmd.OutOrStdout(), o.json, rep); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%w: %s (the report above says what to fix)", errDoctorFailed, strings.Join(rep.Failed(), ", "))
	}
	return nil
}

// fromConfig takes from the SMP's configuration what the flags left open: the SMP's URL, the SML network and, when
// needAdmin (to sample, or to pick a participant), the admin listener.
func (o *doctorOptions) fromConfig(cmd *cobra.Command, c *conf.SMP, cfg *doctor.Config, needAdmin bool) error {
	cfg.Policy = c.Policy() // the identifier rules the SMP applies (identifiers: peppol or oasis)
	if cfg.SMPURL == "" {
		cfg.SMPURL = c.SML.LogicalAddress
		if cfg.SMPURL == "" {
			cfg.SMPURL = c.PublicURL
		}
	}
	if !cmd.Flags().Changed("network") && !cmd.Flags().Changed("zone") {
		n, err := c.SML.Resolved()
		if err != nil {
			return configError(fmt.Errorf("%s: sml.network: %w", c.File(), err))
		}
		switch {
		case n.Name != conf.NetworkCustom:
			_ = cmd.Flags().Set("network", n.Name)
		case strings.Trim(n.Zone, ".") != "":
			_ = cmd.Flags().Set("zone", strings.TrimSuffix(n.Zone, "."))
		default:
			return usageErrorf("doctor: %s has no sml.network or sml.zone: give --network or --zone", c.File())
		}
	}
	if !needAdmin {
		return nil
	}
	if c.Admin.Listen == "" {
		if o.sample > 0 {
			return usageErrorf("doctor: --sample needs the admin listener, and %s has no admin.listen", c.File())
		}
		return nil // then a participant must be named
	}
	tok, err := smpadmin.ReadTokenFile(c.Admin.TokenFile)
	if err != nil {
		return fileError(fmt.Errorf("doctor: %w (admin.token_file of %s)", err, c.File()))
	}
	cfg.Admin = &smpadmin.Client{Addr: dialable(c.Admin.Listen), Token: tok}
	return nil
}

// dialable turns a listen address into one to connect to: an unspecified host becomes the loopback address.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

var doctorMarks = map[doctor.Status]string{doctor.Pass: "✓", doctor.Fail: "✗", doctor.Skip: "-"}

func printDoctor(out io.Writer, asJSON bool, rep *doctor.Report) error {
	if asJSON {
		code := exitOK
		if !rep.OK() {
			code = exitDoctor
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			OK       bool     `json:"ok"`
			ExitCode int      `json:"exitCode"`
			Failed   []string `json:"failed"`
			*doctor.Report
		}{rep.OK(), code, append([]string{}, rep.Failed()...), rep})
	}
	if rep.Participant != "" {
		fmt.Fprintf(out, "participant %s\n", rep.Participant)
	}
	if rep.SMPURL != "" {
		fmt.Fprintf(out, "SMP         %s\n", rep.SMPURL)
	}
	skipped := 0
	for _, c := range rep.Checks {
		fmt.Fprintf(out, "%s %-15s %s\n", doctorMarks[c.Status], c.ID, c.Message)
		if c.Fix != "" && c.Status == doctor.Fail {
			fmt.Fprintf(out, "  %-15s fix: %s\n", "", c.Fix)
		}
		if c.Status == doctor.Skip {
			skipped++
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		fmt.Fprintf(out, "%d of %d checks failed: %s\n", len(failed), len(rep.Checks), strings.Join(failed, ", "))
	} else {
		fmt.Fprintf(out, "all checks passed (%d skipped)\n", skipped)
	}
	return nil
}
