package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml/admin"
)

func newSMLMigrationsCmd() *cobra.Command {
	t := &smlTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrations [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--json]",
		Short: "List the pending participant migrations (PrepareToMigrate done, Migrate not yet, key not expired)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			ms, err := api.Migrations(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if ms == nil {
					ms = []admin.Migration{}
				}
				return writeIndentedJSON(out, map[string]any{"migrations": ms})
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tPARTICIPANT\tSMP\tPREPARED\tEXPIRES")
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Domain, m.Participant, m.SMP,
					m.Prepared.UTC().Format(time.RFC3339), m.Expires.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the migrations as JSON")
	return cmd
}
