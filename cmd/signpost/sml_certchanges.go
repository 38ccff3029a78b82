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
