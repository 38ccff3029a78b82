package main

import (
	"github.com/spf13/cobra"
)

func newLookupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lookup [flags] PARTICIPANT [DOCTYPE [PROCESS]]",
		Short: "Resolve a participant like a sending access point: DNS, SMP, signature, endpoint",
		Args:  cobra.RangeArgs(1, 3),
		RunE:  func(*cobra.Command, []string) error { return notYet("lookup") },
	}
}
