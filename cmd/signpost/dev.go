package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/internal/pki"
)

// devOptions are the flags of `signpost dev` (DESIGN.md 1.2); the defaults are the public contract.
type devOptions struct {
	dir     string
	dnsAddr string
	smlAddr string
	smpAddr string
	opsAddr string
	notify  []string
	noSeed  bool
}

func newDevCmd() *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR]",
		Short: "Run SML, SMP and ops listener on loopback in one process, with a development PKI and a demo participant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "./data/dev", "directory for the stores, the development PKI (DIR/pki) and the admin token")
	f.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:15353", "SML DNS address (UDP and TCP)")
	f.StringVar(&o.smlAddr, "sml-addr", "127.0.0.1:18443", "SML SOAP management API address (HTTPS, client certificates)")
	f.StringVar(&o.smpAddr, "smp-addr", "127.0.0.1:18080", "SMP HTTP address")
	f.StringVar(&o.opsAddr, "ops-addr", "127.0.0.1:19090", "operations listener (/healthz, /readyz, /metrics)")
	f.StringArrayVar(&o.notify, "notify", nil, "secondary HOST:PORT to NOTIFY on zone changes and allow transfers from (repeatable)")
	f.BoolVar(&o.noSeed, "no-seed", false, "do not create the demo participant")
	return cmd
}

func runDev(cmd *cobra.Command, o *devOptions) error {
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	files, created, err := pki.EnsureDev(o.dir, time.Now())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	verb := "reused"
	if created {
		verb = "created"
	}
	fmt.Fprintf(out, "development PKI %s in %s\n", verb, files.Dir)
	fmt.Fprintf(out, "  CA          %s\n  SML TLS     %s\n  SMP         %s\n  access point %s\n", files.CA, files.SML, files.SMP, files.AP)
	fmt.Fprintf(out, "would start: SML DNS on %s (zone sml.test.), SML SOAP on https://%s, SMP on http://%s, ops on http://%s\n",
		o.dnsAddr, o.smlAddr, o.smpAddr, o.opsAddr)
	return notYet("dev servers")
}
