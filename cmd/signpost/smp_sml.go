package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/registrar"
)

// The `smp sml` commands: the SMP's registration in its SML (docs/smp-sml.md). Like the other admin commands they
// work through a running server's admin listener, or on the store when the server is stopped.

// errSMLPending: `smp sml status --wait` gave up with registrations pending or failed.
var errSMLPending = errors.New("SML registrations are not complete")

func newSMPSMLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sml",
		Short: "The SMP's registration in its SML: status, participants, retry, register, update, unregister, migrate-out, migrate-in",
	}
	cmd.AddCommand(newSMPSMLStatusCmd(), newSMPSMLParticipantsCmd(), newSMPSMLRetryCmd())
	for _, what := range []struct{ name, short string }{
		{"register", "Register the SMP in its SML (ID, logical and physical address) and its participants that are not yet"},
		{"update", "Send the SMP's current logical and physical address to its SML"},
		{"unregister", "Delete the SMP from its SML, which deletes its participants there; nothing is registered again until `register`"},
	} {
		cmd.AddCommand(newSMPSMLCallCmd(what.name, what.short))
	}
	cmd.AddCommand(newSMPMigrateCmds()...)
	return cmd
}

func newSMPSMLStatusCmd() *cobra.Command {
	t := &smpTarget{}
	var asJSON bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "status [--wait DURATION] [--json]",
		Short: "The SMP's own registration and its participants' (registered, pending, failed)",
		Long: `Shows the SML the SMP registers in, whether the SMP itself is registered, and how many of its participants
are registered, pending (waiting for delivery, with the last error) or failed (refused by the SML for good; see
` + "`smp sml participants --state failed` and `smp sml retry`" + `).

With --wait, it waits until the SMP is registered and no registration is pending, up to DURATION, and exits
with the sml-pending code when that did not happen or some registration failed.`,
		Args: cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			ctx := cmd.Context()
			st, err := api.SMLStatus(ctx)
			if err != nil {
				return err
			}
			if st.SML == "" {
				return smpadmin.ErrNoSML
			}
			if wait > 0 {
				deadline := time.Now().Add(wait)
				for !smlSettled(st) && time.Now().Before(deadline) {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(50 * time.Millisecond):
					}
					if st, err = api.SMLStatus(ctx); err != nil {
						return err
					}
				}
			}
			if asJSON {
				err = writeIndentedJSON(cmd.OutOrStdout(), st)
			} else {
				err = printSMLStatus(cmd.OutOrStdout(), st)
			}
			if err == nil && wait > 0 && (!smlSettled(st) || st.Count.Failed > 0) {
				return fmt.Errorf("%w after %s: %d pending, %d failed", errSMLPending, wait, st.Count.Pending, st.Count.Failed)
			}
			return err
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for every registration to be delivered (e.g. 10s)")
	return cmd
}

func smlSettled(st registrar.Status) bool { return st.Self.Registered && st.Count.Pending == 0 }

func printSMLStatus(w io.Writer, st registrar.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	self := "registered"
	switch {
	case st.Self.Unregistered:
		self = "unregistered by the operator (signpost smp sml register registers it again)"
	case !st.Self.Registered && st.Self.LastError != "":
		self = "not registered: " + st.Self.LastError
	case !st.Self.Registered:
		self = "not registered yet"
	}
	fmt.Fprintf(tw, "SML\t%s\nSMP ID\t%s\nSMP\t%s\n", st.SML, st.SMPID, self)
	fmt.Fprintf(tw, "participants\t%d registered, %d pending, %d failed\n", st.Count.Registered, st.Count.Pending, st.Count.Failed)
	if !st.Count.OldestPending.IsZero() {
		fmt.Fprintf(tw, "oldest pending\tsince %s\n", st.Count.OldestPending.Format(time.RFC3339))
	}
	if st.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\nnext attempt\t%s\n", st.LastError, st.NextAttempt.Format(time.RFC3339))
	}
	if st.Standby {
		fmt.Fprintf(tw, "delivery\tby another node (the one whose signpost_smp_runs_jobs is 1); ask it for the SML's last error\n")
	}
	return tw.Flush()
}

// printRegistration prints one participant's SML registration.
func printRegistration(w io.Writer, r httpapi.RegistrationView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "participant\t%s\nSML registration\t%s (%s)\nsince\t%s\n", r.Participant, r.State, r.Op, r.Since.Format(time.RFC3339))
	if r.Attempts > 0 {
		fmt.Fprintf(tw, "attempts\t%d\n", r.Attempts)
	}
	if r.State == smp.RegPending && !r.Next.IsZero() {
		fmt.Fprintf(tw, "next attempt\t%s\n", r.Next.Format(time.RFC3339))
	}
	if r.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\n", r.LastError)
	}
	if r.State == smp.RegFailed {
		fmt.Fprintf(tw, "to retry\tsignpost smp sml retry %s\n", r.Participant)
	}
	return tw.Flush()
}

func newSMPSMLParticipantsCmd() *cobra.Command {
	t := &smpTarget{}
	var asJSON bool
	var state string
	cmd := &cobra.Command{
		Use:   "participants [--state pending|registered|failed] [--json]",
		Short: "Each participant's SML registration: state, next attempt and last error",
		Args:  cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			switch smp.RegState(state) {
			case "", smp.RegPending, smp.RegRegistered, smp.RegFailed:
			default:
				return usageErrorf("--state %q: pending, registered or failed", state)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "PARTICIPANT\tSTATE\tOP\tATTEMPTS\tNEXT\tLAST ERROR")
			}
			after := ""
			for {
				page, err := api.SMLParticipants(cmd.Context(), smp.RegState(state), after, 1000)
				if err != nil {
					return err
				}
				for _, r := range page.Participants {
					if asJSON {
						if err := json.NewEncoder(cmd.OutOrStdout()).Encode(r); err != nil {
							return err
						}
						continue
					}
					next := ""
					if !r.Next.IsZero() && r.State == smp.RegPending {
						next = r.Next.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Participant, r.State, r.Op, r.Attempts, next, r.LastError)
				}
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			return tw.Flush()
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	cmd.Flags().StringVar(&state, "state", "", "only this state: pending, registered or failed")
	return cmd
}

func newSMPSMLRetryCmd() *cobra.Command {
	t := &smpTarget{}
	var all bool
	cmd := &cobra.Command{
		Use:   "retry PARTICIPANT | --all-failed",
		Short: "Deliver failed SML registrations again (after fixing what the SML refused)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			if all == (len(args) == 1) {
				return usageErrorf("name one PARTICIPANT, or give --all-failed")
			}
			p := ""
			if len(args) == 1 {
				p = args[0]
			}
			n, err := api.SMLRetry(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d registration(s) pending again\n", n)
			return nil
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all-failed", false, "retry every failed registration")
	return cmd
}

func newSMPSMLCallCmd(what, short string) *cobra.Command {
	t := &smpTarget{}
	cmd := &cobra.Command{
		Use:   what,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			res, err := api.SMLCall(ctx, what)
			if err != nil {
				return err
			}
			switch what {
			case "unregister":
				fmt.Fprintf(cmd.OutOrStdout(), "SMP deleted from the SML; %d participant registration(s) forgotten\n", res.Count)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "SMP %s in the SML\n", res.Result)
			}
			return nil
		}),
	}
	t.flags(cmd.Flags())
	return cmd
}
