// Command signpost is the Signpost registry: the SML (DNS locator and its SOAP management API), the SMP (signed
// service metadata publisher) and the lookup an access point runs, in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml"
)

func main() {
	// SIGINT and SIGTERM cancel the command's context (cmd.Context()): a command stops what it does and exits with
	// exitInterrupted, a server shuts down cleanly and exits 0. A second signal ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args with ctx as every command's context and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	switch msg := errorText(err); {
	case code == exitInterrupted:
		fmt.Fprintf(stderr, "signpost: interrupted (%s)\n", msg)
	case msg != "":
		fmt.Fprintln(stderr, "signpost:", msg)
	}
	if code == exitUsage {
		if cmd, _, ferr := root.Find(args); ferr == nil && cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		} else {
			fmt.Fprintln(stderr, "Run 'signpost --help' for usage.")
		}
	}
	return code
}

// errorText is the message of err for the operator. The SML's internal errors carry their cause apart from the
// message (which is what clients see); the operator at the command line gets both.
func errorText(err error) string {
	msg := err.Error()
	var se *sml.Error
	if errors.As(err, &se) && se.Kind == sml.KindInternal && se.Err != nil {
		msg += ": " + se.Err.Error()
	}
	return msg
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "signpost",
		Short: "Service metadata discovery for eDelivery networks: SML, SMP and lookup in one binary",
		Long: `Signpost is a service-metadata discovery registry for PEPPOL and EU eDelivery networks.

  signpost sml     the Service Metadata Locator: an authoritative DNS zone and its SOAP management API
  signpost smp     the Service Metadata Publisher: signed endpoint records over HTTP
  signpost lookup  resolve a participant like a sending access point does
  signpost doctor  check an SMP's setup as the network sees it (NAPTR, HTTPS, proxy, signatures, SML)
  signpost dev     everything on loopback in one process, for trying it out
  signpost store   copy an SML or SMP store between bbolt and PostgreSQL

Exit codes (every command; 0 to 10 are the lookup's):
` + exitCodeHelp(nil),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newSMLCmd(), newSMPCmd(), newLookupCmd(), newDoctorCmd(), newDevCmd(), newStoreCmd(), newVersionCmd())
	classifyUsage(root)
	return root
}

// classifyUsage makes every error cobra finds in a command line (unknown command or flag, wrong arguments, a
// required flag missing) a usage error, for every command of the tree: flags through the flag error function,
// arguments through each command's Args, required flags through PreRunE (cobra checks them after it and before
// RunE). A group command (one with subcommands and no run function of its own) prints its help, or refuses an
// unknown subcommand.
func classifyUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		} else if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
		if c.PreRunE == nil && c.PreRun == nil {
			c.PreRunE = func(cmd *cobra.Command, _ []string) error {
				if err := cmd.ValidateRequiredFlags(); err != nil {
					return usageError(err)
				}
				if err := cmd.ValidateFlagGroups(); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
