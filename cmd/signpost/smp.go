package main

import (
	"github.com/spf13/cobra"
)

func newSMPCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "smp",
		Short: "The Service Metadata Publisher: signed service groups and service metadata over HTTP",
	}
	cmd.AddCommand(
		&cobra.Command{Use: "serve --config FILE", Short: "Serve the SMP read and write API", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return notYet("smp serve") }},
		&cobra.Command{Use: "import --config FILE FILE", Short: "Load service groups and metadata from an export file", Args: cobra.ExactArgs(1),
			RunE: func(*cobra.Command, []string) error { return notYet("smp import") }},
		&cobra.Command{Use: "export --config FILE FILE", Short: "Write the whole SMP to an export file", Args: cobra.ExactArgs(1),
			RunE: func(*cobra.Command, []string) error { return notYet("smp export") }},
		&cobra.Command{Use: "rekey --config FILE", Short: "Switch to a new signing key and re-sign every document", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error { return notYet("smp rekey") }},
	)
	return cmd
}
