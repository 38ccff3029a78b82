package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	smlapp "github.com/signpost-project/signpost/sml/app"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// The fixed names of the development registry (DESIGN.md 1.2).
const (
	devZone  = "sml.test."
	devSMPID = "SMP-DEV"
)

// devOptions are the flags of `signpost dev` (DESIGN.md 1.2); the defaults are the public contract.
type devOptions struct {
	dir      string
	dnsAddr  string
	smlAddr  string
	smpAddr  string
	opsAddr  string
	notify   []string
	noSeed   bool
	logLevel string

	smpAdminAddr string // the SMP's admin API (token in DIR/smp-admin.token)
	smlAdminAddr string // the SML's admin API (token in DIR/sml-admin.token)
}

func newDevCmd() *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR]",
		Short: "Run SML, SMP and ops listener on loopback in one process, with a development PKI and a demo participant",
		Long: `Starts, in one process and on loopback only, the SML (DNS for zone sml.test. and the SOAP management API),
the SMP (PEPPOL flavour, SMP 2.0 under /bdxr-smp-2/) and the operations listener. The development PKI is created
in DIR/pki on first start and reused afterwards. The SMP registers itself and the demo participant in the SML over
its SOAP API with mutual TLS (smp.pem), as it would in production. When everything is ready it prints a lookup
command to paste, then serves until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "./data/dev", "directory for the stores, the development PKI (DIR/pki) and the admin token")
	f.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:15353", "SML DNS address (UDP and TCP)")
	f.StringVar(&o.smlAddr, "sml-addr", "127.0.0.1:18443", "SML SOAP management API address (HTTPS, client certificates)")
	f.StringVar(&o.smpAddr, "smp-addr", "127.0.0.1:18080", "SMP HTTP address")
	f.StringVar(&o.smpAdminAddr, "smp-admin-addr", "127.0.0.1:18081", "SMP admin listener (JSON admin and token API; admin token in DIR/smp-admin.token)")
	f.StringVar(&o.opsAddr, "ops-addr", "127.0.0.1:19090", "operations listener (/healthz, /readyz, /metrics)")
	f.StringVar(&o.smlAdminAddr, "sml-admin-addr", "127.0.0.1:18082", "SML admin API address (loopback HTTP; token in DIR/sml-admin.token)")
	f.StringArrayVar(&o.notify, "notify", nil, "secondary HOST:PORT to NOTIFY on zone changes and allow transfers from (repeatable)")
	f.BoolVar(&o.noSeed, "no-seed", false, "do not create the demo participant")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// devConfigs builds the SML and SMP configurations of the dev registry, validated like files are.
func devConfigs(o *devOptions, files pki.DevFiles) (*conf.SML, *conf.SMP, error) {
	for _, a := range []struct{ flag, v string }{{"--dns-addr", o.dnsAddr}, {"--sml-addr", o.smlAddr}, {"--smp-addr", o.smpAddr}} {
		host, _, err := net.SplitHostPort(a.v)
		if err != nil {
			return nil, nil, fmt.Errorf("dev: %s %q is not HOST:PORT", a.flag, a.v)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, nil, fmt.Errorf("dev: %s %q: dev serves on loopback addresses only", a.flag, a.v)
		}
	}
	var allow []string
	for _, n := range o.notify {
		host, _, err := net.SplitHostPort(n)
		if err != nil {
			return nil, nil, fmt.Errorf("dev: --notify %q is not HOST:PORT", n)
		}
		allow = append(allow, host)
	}
	smlCfg := &conf.SML{
		Store: conf.Store{Path: filepath.Join(o.dir, "sml.db")},
		Log:   conf.Log{Level: o.logLevel},
		DNS:   conf.DNS{Listen: o.dnsAddr, Notify: o.notify, AllowTransfer: allow, NotifyDelay: 200 * time.Millisecond},
		Management: conf.Management{
			Listen: o.smlAddr,
			TLS:    conf.TLSFiles{Cert: files.SML, Key: files.SMLKey},
		},
		Admin: conf.Admin{Listen: o.smlAdminAddr, TokenFile: filepath.Join(o.dir, "sml-admin.token")},
		Domains: []conf.Domain{{
			Zone:           devZone,
			Records:        []string{"naptr", "cname"},
			TrustedIssuers: conf.Files{files.CA},
		}},
	}
	smlCfg.Defaults()
	if err := smlCfg.Validate(); err != nil {
		return nil, nil, err
	}
	smpCfg := &conf.SMP{
		Store:     conf.Store{Path: filepath.Join(o.dir, "smp.db")},
		Log:       conf.Log{Level: o.logLevel},
		HTTP:      conf.HTTP{Listen: o.smpAddr},
		Admin:     conf.Admin{Listen: o.smpAdminAddr, TokenFile: filepath.Join(o.dir, "smp-admin.token")},
		SMPID:     devSMPID,
		PublicURL: "http://" + o.smpAddr,
		Flavour:   "peppol",
		Signing:   conf.TLSFiles{Cert: files.SMP, Key: files.SMPKey},
		SML:       conf.SMLClient{URL: "https://" + o.smlAddr, CA: files.CA, PhysicalAddress: "127.0.0.1"},
	}
	smpCfg.Defaults()
	if err := smpCfg.Validate(); err != nil {
		return nil, nil, err
	}
	return smlCfg, smpCfg, nil
}

func runDev(ctx context.Context, out io.Writer, o *devOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := logging.New(os.Stderr, "text", o.logLevel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	files, created, err := pki.EnsureDev(o.dir, time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Info("development PKI created", "dir", files.Dir)
	}
	smlCfg, smpCfg, err := devConfigs(o, files)
	if err != nil {
		return err
	}

	opsReg := ops.New()
	opsReg.Log = log
	var ready atomic.Bool
	opsReg.AddCheck("dev-registration", func(context.Context) error {
		if !ready.Load() {
			return errors.New("the SMP and the demo participant are not registered in the SML yet")
		}
		return nil
	})
	smlApp, err := smlapp.New(smlCfg, log, opsReg)
	if err != nil {
		return err
	}
	defer smlApp.Close()
	smpApp, err := smpapp.New(ctx, smpCfg, log, opsReg)
	if err != nil {
		return err
	}
	defer smpApp.Close()

	g := &lifecycle.Group{Log: log}
	opsReg.AddCheck("listeners", g.Check) // a listener that died turns readiness red
	g.Add(&lifecycle.HTTP{N: "ops", Server: opsReg.Server(o.opsAddr), OnFail: g.Failed()})
	smlApp.SetFailureHandler(g.Failed())
	g.Add(smlApp.Servers()...)
	g.Add(smpApp.Servers()...)
	if err := g.Start(ctx); err != nil {
		return fmt.Errorf("dev: %w (is another `signpost dev` running? choose other ports with --dns-addr, --sml-addr, --smp-addr, --smp-admin-addr, --sml-admin-addr, --ops-addr)", err)
	}

	tokenFile := filepath.Join(o.dir, "smp-admin.token")
	if _, err := smpapp.EnsureAdminToken(ctx, smpApp.Credentials(), tokenFile); err != nil {
		_ = g.Shutdown()
		return fmt.Errorf("dev: admin token: %w", err)
	}
	pwFile, pw, err := devConsolePassword(o.dir)
	if err == nil {
		err = devSMPConsoleUser(ctx, smpApp.Credentials(), pw)
	}
	if err == nil {
		err = devSMLConsoleUser(ctx, smlApp.ConsoleStore(), pw)
	}
	if err != nil {
		_ = g.Shutdown()
		return err
	}
	if err := devRegister(ctx, o, files, smpApp); err != nil {
		_ = g.Shutdown()
		return err
	}
	ready.Store(true)
	printDevSummary(out, o, files, tokenFile)
	printDevConsoles(out, o, pwFile)
	return g.Wait(ctx)
}

// devRegister makes the dev registry ready the way a production SMP gets there: the SMP's registrar registers it
// in the SML over SOAP with mutual TLS (smp.pem), the demo participant is published by the SMP (which records its
// SML intent with the write), the registrar delivers the intent, and the SML's DNS answers for it. Ready means the
// outbox is drained.
func devRegister(ctx context.Context, o *devOptions, files pki.DevFiles, smpApp *smpapp.App) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !o.noSeed {
		ap, err := pki.LoadCertificates(files.AP)
		if err != nil {
			return err
		}
		if err := smpapp.SeedDemo(ctx, smpApp.Service(), ap[0].Raw); err != nil {
			return fmt.Errorf("dev: seed the demo participant: %w", err)
		}
	}
	if err := devWaitDrained(ctx, smpApp); err != nil {
		return err
	}
	if o.noSeed {
		return nil
	}
	pid, err := identifier.PEPPOL.Parse(identifier.Participant, smpapp.DemoParticipant)
	if err != nil {
		return err
	}
	return devWaitDNS(ctx, o.dnsAddr, identifier.NAPTRName(pid, devZone, identifier.SchemeLabel), "http://"+o.smpAddr)
}

// devWaitDrained waits until the SMP is registered in the SML and its outbox is empty.
func devWaitDrained(ctx context.Context, smpApp *smpapp.App) error {
	reg := smpApp.Registrar()
	for {
		ok, err := reg.Drained(ctx)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			st, serr := reg.Status(context.Background())
			why := ""
			switch {
			case serr != nil:
				why = serr.Error()
			case st.LastError != "":
				why = st.LastError
			case st.Self.LastError != "":
				why = st.Self.LastError
			default:
				why = fmt.Sprintf("%d pending, %d failed (signpost smp sml participants --state failed)", st.Count.Pending, st.Count.Failed)
			}
			return fmt.Errorf("dev: the SMP's SML registrations did not complete: %s: %w", why, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// devWaitDNS asks the SML's DNS server until the demo participant's NAPTR points at the SMP.
func devWaitDNS(ctx context.Context, addr, name, smpURL string) error {
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeNAPTR)
	var last string
	for {
		r, _, err := c.ExchangeContext(ctx, m, addr)
		switch {
		case err != nil:
			last = err.Error()
		case r.Rcode != dns.RcodeSuccess:
			last = dns.RcodeToString[r.Rcode]
		default:
			for _, rr := range r.Answer {
				if n, ok := rr.(*dns.NAPTR); ok && strings.Contains(n.Regexp, smpURL) {
					return nil
				}
			}
			last = "no NAPTR pointing at " + smpURL
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dev: the demo participant did not appear in DNS at %s (%s): %w", addr, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func printDevSummary(out io.Writer, o *devOptions, files pki.DevFiles, tokenFile string) {
	fmt.Fprintf(out, `
Signpost dev is ready.
  SML DNS        %s (UDP and TCP), zone %s
  SML SOAP API   https://%s  (client certificate issued by %s)
  SMP            http://%s  (PEPPOL; SMP 2.0 under /bdxr-smp-2/), SMP ID %s
  SMP write API  Authorization: Bearer $(cat %s)
  SMP admin API  http://%s/api/v1/ (same token)
  operations     http://%s/healthz /readyz /metrics
  PKI            %s
`, o.dnsAddr, devZone, o.smlAddr, files.CA, o.smpAddr, devSMPID, shellPath(tokenFile), o.smpAdminAddr, o.opsAddr, files.Dir)
	fmt.Fprintf(out, "  SML admin API  http://%s  (signpost sml status --admin-addr %s --token-file %s)\n", o.smlAdminAddr, o.smlAdminAddr, shellPath(filepath.Join(o.dir, "sml-admin.token")))
	fmt.Fprintf(out, "  registrations  the SMP registers what it publishes in the SML through its outbox:\n"+
		"                 bin/signpost smp sml status --admin-addr %s --token-file %s --wait 10s\n", o.smpAdminAddr, shellPath(tokenFile))
	if !o.noSeed {
		fmt.Fprintf(out, "\nLook up the demo participant (paste in another terminal, from the repository root):\n  %s\n",
			devLookupCommand(o, files))
	}
}

// printDevConsoles prints the web consoles' addresses and where their password is, then how to stop.
func printDevConsoles(out io.Writer, o *devOptions, pwFile string) {
	fmt.Fprintf(out, "\nWeb consoles (user %s, password in %s):\n  SMP console    http://%s/\n  SML console    http://%s/\n",
		devConsoleUser, shellPath(pwFile), o.smpAdminAddr, o.smlAdminAddr)
	fmt.Fprintln(out, "\nPress Ctrl-C to stop.")
}

// devLookupCommand is the one-line lookup of the demo participant, runnable as printed.
func devLookupCommand(o *devOptions, files pki.DevFiles) string {
	return fmt.Sprintf("bin/signpost lookup --dns %s --zone %s --trust %s %s '%s' '%s'",
		o.dnsAddr, strings.TrimSuffix(devZone, "."), shellPath(files.CA), smpapp.DemoParticipant, smpapp.DemoDocumentType, smpapp.DemoProcess)
}

func shellPath(p string) string {
	if strings.ContainsAny(p, " '\"$`\\") {
		return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
	}
	return p
}
