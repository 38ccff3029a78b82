package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml/admin"
)

func newSMLMigrationsCmd() *cobra.Command {
	cmd, _ := smlListCmd("migrations", "List the pending participant migrations (PrepareToMigrate done, Migrate not yet, key not expired)",
		"migrations", "DOMAIN\tPARTICIPANT\tSMP\tPREPARED\tEXPIRES",
		func(cmd *cobra.Command, api admin.API) ([]admin.Migration, error) {
			return api.Migrations(cmd.Context())
		},
		func(m admin.Migration) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", m.Domain, m.Participant, m.SMP,
				m.Prepared.UTC().Format(time.RFC3339), m.Expires.UTC().Format(time.RFC3339))
		})
	return cmd
}
