package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/store"
)

// Token and user commands of the SMP management API, and the progress display of import and export.

// openSMPTokens opens the store for a token command; when a running server holds it, the error says how to use
// the server's admin API instead.
func openSMPTokens(cfgPath string) (*smpapp.App, error) {
	a, err := openSMP(cfgPath)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w\nWith the server running, manage tokens through its admin API with an administrator's token, e.g.\n"+
			"  curl -H \"Authorization: Bearer $(cat admin.token)\" -X DELETE PUBLIC_URL/api/v1/tokens/ID\n(GET and POST PUBLIC_URL/api/v1/tokens list and create; docs/smp-write.md)", err)
	}
	return a, err
}

func newSMPTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Bearer tokens of the SMP management API (PUT/DELETE): create, list, revoke",
	}
	var cfgPath, user string
	var admin bool
	create := &cobra.Command{
		Use:   "create --config FILE --user NAME [--admin]",
		Short: "Issue a bearer token for a user (created when missing); the token is printed once",
		Args:  cobra.NoArgs,
		RunE: withApp(openSMPTokens, &cfgPath, func(cmd *cobra.Command, _ []string, a *smpapp.App) error {
			tok, ti, err := a.Credentials().CreateToken(context.Background(), user, admin)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s for user %s; use it as: Authorization: Bearer <token> (it is not shown again)\n", ti.ID, ti.User)
			return nil
		}),
	}
	create.Flags().StringVar(&user, "user", "", "user the token belongs to (created when missing)")
	create.Flags().BoolVar(&admin, "admin", false, "make the user an administrator (changes every service group)")
	_ = create.MarkFlagRequired("user")
	list := &cobra.Command{
		Use:   "list --config FILE",
		Short: "List the tokens (ID, user, created); tokens themselves are stored only hashed",
		Args:  cobra.NoArgs,
		RunE: withApp(openSMPTokens, &cfgPath, func(cmd *cobra.Command, _ []string, a *smpapp.App) error {
			ts, err := a.Credentials().Tokens(context.Background())
			if err != nil {
				return err
			}
			users, err := a.Credentials().Users(context.Background())
			if err != nil {
				return err
			}
			admins := map[string]bool{}
			for _, u := range users {
				admins[u.Name] = u.Admin
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tADMIN\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", t.ID, t.User, admins[t.User], t.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	revoke := &cobra.Command{
		Use:   "revoke --config FILE ID",
		Short: "Revoke a token (a running server refuses it from its next request on)",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(openSMPTokens, &cfgPath, func(cmd *cobra.Command, args []string, a *smpapp.App) error {
			if err := a.Credentials().RevokeToken(context.Background(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", args[0])
			return nil
		}),
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
		cmd.AddCommand(c)
	}
	return cmd
}

func newSMPUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Users of the SMP management API: set (create, admin flag, HTTP Basic password), list, delete",
	}
	var cfgPath, pwFile string
	var admin, pwStdin, noPassword bool
	set := &cobra.Command{
		Use:   "set --config FILE NAME [--admin] [--password-file F | --password-stdin | --no-password]",
		Short: "Create a user or change its admin flag and HTTP Basic password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pw string
			setPW := noPassword
			switch {
			case pwFile != "":
				b, err := os.ReadFile(pwFile)
				if err != nil {
					return fileError(err)
				}
				pw, _, _ = strings.Cut(string(b), "\n")
				pw, setPW = strings.TrimRight(pw, "\r"), true
			case pwStdin:
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fileError(err)
				}
				pw, setPW = strings.TrimRight(line, "\r\n"), true
			}
			if setPW && !noPassword && pw == "" {
				return usageErrorf("empty password; use --no-password to remove it")
			}
			a, err := openSMP(cfgPath)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := context.Background()
			if err := a.Service().EnsureOwner(ctx, args[0], admin); err != nil {
				return err
			}
			if setPW {
				if err := a.Credentials().SetPassword(ctx, args[0], pw); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (admin %v)\n", args[0], admin)
			return nil
		},
	}
	set.Flags().BoolVar(&admin, "admin", false, "administrator (changes every service group); without it the user is not one")
	set.Flags().StringVar(&pwFile, "password-file", "", "set the HTTP Basic password from the first line of this file")
	set.Flags().BoolVar(&pwStdin, "password-stdin", false, "set the HTTP Basic password from the first line of standard input")
	set.Flags().BoolVar(&noPassword, "no-password", false, "remove the HTTP Basic password (tokens only)")
	list := &cobra.Command{
		Use:   "list --config FILE",
		Short: "List the users",
		Args:  cobra.NoArgs,
		RunE: withApp(openSMP, &cfgPath, func(cmd *cobra.Command, _ []string, a *smpapp.App) error {
			us, err := a.Credentials().Users(context.Background())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tADMIN\tPASSWORD\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%v\t%v\t%s\n", u.Name, u.Admin, u.HasPassword(), u.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use:   "delete --config FILE NAME",
		Short: "Delete a user and revoke its tokens (its service groups keep it as owner; administrators still change them)",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(openSMP, &cfgPath, func(cmd *cobra.Command, args []string, a *smpapp.App) error {
			if err := a.Credentials().DeleteUser(context.Background(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
			return nil
		}),
	}
	for _, c := range []*cobra.Command{set, list, del} {
		c.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
		cmd.AddCommand(c)
	}
	return cmd
}

// progress shows how far a long command is: a progress bar on a terminal, else a plain line every few seconds.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	what  string
	max   int64
	last  time.Time
	bytes bool
}

// newProgress shows progress towards max (bytes when isBytes, else records) on w.
func newProgress(w io.Writer, what string, max int64, isBytes bool) *progress {
	p := &progress{w: w, what: what, max: max, last: time.Now(), bytes: isBytes}
	if isTerminal(w) {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionThrottle(100 * time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		}
		if isBytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		} else {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))
		}
		p.bar = progressbar.NewOptions64(max, opts...)
	}
	return p
}

// set records that done units (of max) are done.
func (p *progress) set(done int64) {
	if p.bar != nil {
		_ = p.bar.Set64(done)
		return
	}
	if time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	if p.max > 0 {
		fmt.Fprintf(p.w, "%s: %d%%\n", p.what, done*100/p.max)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// lineCounter counts the lines written through it (export records).
type lineCounter struct {
	w  io.Writer
	n  int64
	on func(int64)
}

func (l *lineCounter) Write(b []byte) (int, error) {
	n, err := l.w.Write(b)
	for _, c := range b[:n] {
		if c == '\n' {
			l.n++
		}
	}
	if l.on != nil {
		l.on(l.n)
	}
	return n, err
}
