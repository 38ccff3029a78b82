package main

import (
	"github.com/spf13/cobra"
)

func newSMLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sml",
		Short: "The Service Metadata Locator: authoritative DNS zone and SOAP management API",
	}
	cmd.AddCommand(newSMLServeCmd(), newSMLExportZoneCmd(), newSMLImportCmd())
	return cmd
}

func newSMLServeCmd() *cobra.Command {
	var cfg string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the SML: DNS (UDP and TCP) and the SOAP management API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notYet("sml serve")
		},
	}
	cmd.Flags().StringVar(&cfg, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	return cmd
}

func newSMLExportZoneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export-zone --config FILE ZONE",
		Short: "Write a domain's zone as an RFC 1035 zone file",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, _ []string) error { return notYet("sml export-zone") },
	}
}

func newSMLImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import --config FILE FILE",
		Short: "Bulk-load SMPs and participants (migration from another SML)",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, _ []string) error { return notYet("sml import") },
	}
}
