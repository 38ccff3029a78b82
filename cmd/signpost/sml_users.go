package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/sml"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/store"
)

// newSMLUserCmd: the SML web console's users, kept in the SML's store (the server must be stopped: it holds the
// store).
func newSMLUserCmd() *cobra.Command {
	var cfgPath, pwFile string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "user",
		Short: "The web console's users of the SML (set, list, delete; stop a server on the embedded store first)",
		Long: `The users of the SML's web console, served on the admin listener (admin.listen). They are the SML's own
users, kept in its store; the SMP's users are separate. The commands open the store: with the embedded store
(store.backend bolt) stop the server first; on PostgreSQL they work while the servers run.`,
	}
	open := func(cmd *cobra.Command) (sml.ConsoleStore, func(), error) {
		c, err := loadSMLConfig(cfgPath)
		if err != nil {
			return nil, nil, err
		}
		st, err := smlapp.OpenStore(cmd.Context(), c, nil)
		if err != nil {
			if errors.Is(err, store.ErrLocked) {
				return nil, nil, fmt.Errorf("%w: stop the SML server (signpost sml serve) before changing console users", err)
			}
			return nil, nil, err
		}
		return st.Console, st.Close, nil
	}
	set := &cobra.Command{
		Use:   "set --config FILE NAME (--password-file F | --password-stdin)",
		Short: "Create a console user or set its password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validConsoleUser(name); err != nil {
				return err
			}
			var pw string
			switch {
			case pwFile != "" && pwStdin:
				return usageErrorf("give --password-file or --password-stdin, not both")
			case pwFile != "":
				b, err := os.ReadFile(pwFile)
				if err != nil {
					return fileError(err)
				}
				pw, _, _ = strings.Cut(string(b), "\n")
			case pwStdin:
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fileError(err)
				}
				pw = line
			default:
				return usageErrorf("give the password with --password-file F or --password-stdin")
			}
			hash, err := console.HashPassword(strings.TrimRight(pw, "\r\n"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			st, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			created, err := st.SetConsoleUser(cmd.Context(), name, hash, time.Now())
			if err != nil {
				return err
			}
			what := "password set"
			if created {
				what = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "console user %s %s\n", name, what)
			return nil
		},
	}
	set.Flags().StringVar(&pwFile, "password-file", "", "the password: the first line of this file (at least 12 characters)")
	set.Flags().BoolVar(&pwStdin, "password-stdin", false, "the password: the first line of standard input")
	list := &cobra.Command{
		Use:   "list --config FILE",
		Short: "List the console users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			us, err := st.ConsoleUsers(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\n", u.Name, u.Created.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete --config FILE NAME",
		Short: "Delete a console user (its sessions end at their next request)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			found, err := st.DeleteConsoleUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !found {
				return usageErrorf("no console user %q (signpost sml user list)", args[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "console user %s deleted\n", args[0])
			return nil
		},
	}
	for _, c := range []*cobra.Command{set, list, del} {
		c.Flags().StringVar(&cfgPath, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	}
	cmd.AddCommand(set, list, del)
	return cmd
}

// validConsoleUser checks a console user name: 1 to 64 of A-Z a-z 0-9 . _ @ - (as the SMP's users).
func validConsoleUser(name string) error {
	if name == "" || len(name) > 64 {
		return usageErrorf("user name %q: use 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return usageErrorf("user name %q: use only A-Z a-z 0-9 . _ @ -", name)
		}
	}
	return nil
}
