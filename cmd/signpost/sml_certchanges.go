package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml/admin"
)

func newSMLCertificateChangesCmd() *cobra.Command {
	t := &smlTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "certificate-changes [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--json]",
		Short: "List the SMP certificate changes: scheduled (PrepareChangeCertificate) and done",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			cs, err := api.CertificateChanges(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if cs == nil {
					cs = []admin.CertificateChange{}
				}
				return writeIndentedJSON(out, map[string]any{"certificate_changes": cs})
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tAT\tSTATE\tOLD CERTIFICATE\tNEW CERTIFICATE")
			for _, c := range cs {
				state := "done"
				if c.Pending {
					state = "scheduled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Domain, c.At.UTC().Format(time.RFC3339), state, c.Old, c.New)
			}
			return tw.Flush()
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSMLExpiringCmd() *cobra.Command {
	t := &smlTarget{}
	var asJSON bool
	var days int
	cmd := &cobra.Command{
		Use:   "expiring-certificates [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--days N] [--json]",
		Short: "Report the SMPs whose owner certificate expires within N days (default 30), or whose expiry is not known yet",
		Long: `Report the SMPs whose owner certificate expires within N days, soonest first, with the owner's latest
certificate change (scheduled or done), so the operator can remind whoever runs an SMP that has not scheduled one.
The SML learns an owner certificate's expiry when that certificate creates or updates the SMP; an SMP it has not
seen since is listed as "unknown".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 0 {
				return usageErrorf("--days %d: give a number of days, 0 or more", days)
			}
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			es, err := api.ExpiringCertificates(cmd.Context(), time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if es == nil {
					es = []admin.ExpiringCertificate{}
				}
				return writeIndentedJSON(out, map[string]any{"smps": es})
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SMP\tDOMAIN\tEXPIRES\tCERTIFICATE CHANGE\tOWNER")
			for _, e := range es {
				exp := "unknown"
				if e.NotAfter != nil {
					exp = e.NotAfter.UTC().Format(time.RFC3339)
				}
				change := "none"
				if c := e.Change; c != nil {
					change = "done " + c.At.UTC().Format(time.RFC3339)
					if c.Pending {
						change = "scheduled " + c.At.UTC().Format(time.RFC3339)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.SMP, e.Domain, exp, change, e.Owner)
			}
			return tw.Flush()
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().IntVar(&days, "days", 30, "report certificates that expire within this many days")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
