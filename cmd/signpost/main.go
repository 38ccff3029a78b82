// Command signpost is the Signpost registry: the SML (DNS locator and its SOAP management API), the SMP (signed
// service metadata publisher) and the lookup an access point runs, in one binary.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "signpost:", err)
		}
		os.Exit(code)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "signpost",
		Short: "Service metadata discovery for eDelivery networks: SML, SMP and lookup in one binary",
		Long: `Signpost is a service-metadata discovery registry for PEPPOL and EU eDelivery networks.

  signpost sml     the Service Metadata Locator: an authoritative DNS zone and its SOAP management API
  signpost smp     the Service Metadata Publisher: signed endpoint records over HTTP
  signpost lookup  resolve a participant like a sending access point does
  signpost dev     everything on loopback in one process, for trying it out`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newSMLCmd(), newSMPCmd(), newLookupCmd(), newDevCmd(), newVersionCmd())
	return root
}
