package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/spf13/pflag"

	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/store"
)

// Token, user, status and listing commands of the SMP. Each works on a running server through its admin listener
// (admin.listen, with the token in admin.token_file) and opens the store itself only when no server runs.

// smpTarget finds what an admin command works on.
type smpTarget struct {
	cfg       string
	adminAddr string
	tokenFile string
}

func (t *smpTarget) flags(f *pflag.FlagSet) {
	f.StringVar(&t.cfg, "config", "conf/smp.yaml", "SMP configuration file (YAML): where its admin API listens, its token file, its store")
	f.StringVar(&t.adminAddr, "admin-addr", "", "HOST:PORT of a running server's admin API, instead of --config (needs --token-file)")
	f.StringVar(&t.tokenFile, "token-file", "", "file holding an administrator's token (default: admin.token_file of --config)")
}

// open returns the API to use and a function that releases it. The server is running when something accepts
// connections at its admin address; when nothing does, the command opens the store.
func (t *smpTarget) open(ctx context.Context, note io.Writer) (smpadmin.API, func(), error) {
	none := func() {}
	if t.adminAddr != "" {
		if t.tokenFile == "" {
			return nil, none, usageErrorf("--admin-addr needs --token-file: the file holding an administrator's token")
		}
		tok, err := smpadmin.ReadTokenFile(t.tokenFile)
		if err != nil {
			return nil, none, fileError(err)
		}
		return &smpadmin.Client{Addr: t.adminAddr, Token: tok}, none, nil
	}
	cfg, err := loadSMP(t.cfg)
	if err != nil {
		return nil, none, err
	}
	tokenFile := cfg.Admin.TokenFile
	if t.tokenFile != "" {
		tokenFile = t.tokenFile
	}
	addr := cfg.Admin.Listen
	conn, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", addr)
	if err == nil {
		_ = conn.Close()
		tok, err := smpadmin.ReadTokenFile(tokenFile)
		if err != nil {
			return nil, none, fileError(fmt.Errorf("%w\n(the server at %s is running: its admin API needs this token)", err, addr))
		}
		return &smpadmin.Client{Addr: addr, Token: tok}, none, nil
	}
	if ctx.Err() != nil {
		return nil, none, ctx.Err()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return nil, none, fmt.Errorf("%w at %s (admin.listen in %s): %w", smpadmin.ErrUnreachable, addr, cfg.File(), err)
	}
	a, err := openSMP(t.cfg)
	if errors.Is(err, store.ErrLocked) {
		return nil, none, fmt.Errorf("%w\nA running server holds the store, but nothing listens at %s (admin.listen in %s): "+
			"give the configuration that server runs with, or its admin API with --admin-addr and --token-file", err, addr, cfg.File())
	}
	if err != nil {
		return nil, none, err
	}
	where := "the store " + cfg.Store.Path
	if cfg.Store.Postgres() {
		where = "the PostgreSQL database of store.dsn (schema smp)"
	}
	fmt.Fprintf(note, "signpost: no server at %s (admin.listen): working on %s directly\n", addr, where)
	return smpadmin.Local{SMP: a.Service(), Creds: a.Credentials(), SML: a.Registrar(), Store: a.Backup, App: a}, func() { _ = a.Close() }, nil
}

// withAdmin runs fn on the admin API of t.
func withAdmin(t *smpTarget, fn func(cmd *cobra.Command, args []string, api smpadmin.API) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer done()
		return fn(cmd, args, api)
	}
}

func newSMPTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Bearer tokens of the SMP management API (PUT/DELETE): create, list, revoke",
	}
	t := &smpTarget{}
	var user string
	var admin bool
	create := &cobra.Command{
		Use:   "create --config FILE --user NAME [--admin]",
		Short: "Issue a bearer token for a user (created when missing); the token is printed once",
		Args:  cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			tok, ti, err := api.CreateToken(cmd.Context(), user, admin)
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
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			ts, err := api.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			users, err := api.Users(cmd.Context())
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
		RunE: withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			if err := api.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s\n", args[0])
			return nil
		}),
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		t.flags(c.Flags())
		cmd.AddCommand(c)
	}
	return cmd
}

func newSMPUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Users of the SMP management API: set (create, admin flag, HTTP Basic password), list, delete",
	}
	t := &smpTarget{}
	var pwFile string
	var admin, pwStdin, noPassword bool
	set := &cobra.Command{
		Use:   "set --config FILE NAME [--admin] [--password-file F | --password-stdin | --no-password]",
		Short: "Create a user or change its admin flag and HTTP Basic password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch := auth.UserChange{Admin: admin}
			switch {
			case noPassword:
				empty := ""
				ch.Password = &empty
			case pwFile != "":
				b, err := os.ReadFile(pwFile)
				if err != nil {
					return fileError(err)
				}
				pw, _, _ := strings.Cut(string(b), "\n")
				pw = strings.TrimRight(pw, "\r")
				ch.Password = &pw
			case pwStdin:
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fileError(err)
				}
				pw := strings.TrimRight(line, "\r\n")
				ch.Password = &pw
			}
			if ch.Password != nil && !noPassword && *ch.Password == "" {
				return usageErrorf("empty password; use --no-password to remove it")
			}
			return withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
				if err := api.SetUser(cmd.Context(), args[0], ch); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user %s (admin %v)\n", args[0], admin)
				return nil
			})(cmd, args)
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
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			us, err := api.Users(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tADMIN\tPASSWORD\tCREATED")
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%v\t%v\t%s\n", u.Name, u.Admin, u.HasPassword, u.Created.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}
	del := &cobra.Command{
		Use:   "delete --config FILE NAME",
		Short: "Delete a user and revoke its tokens (its service groups keep it as owner; administrators still change them)",
		Args:  cobra.ExactArgs(1),
		RunE: withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			if err := api.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
			return nil
		}),
	}
	for _, c := range []*cobra.Command{set, list, del} {
		t.flags(c.Flags())
		cmd.AddCommand(c)
	}
	return cmd
}

func newSMPStatusCmd() *cobra.Command {
	t := &smpTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --config FILE [PARTICIPANT] [--json]",
		Short: "What the SMP holds and how it signs (service groups, metadata, signing key, SML registrations); with PARTICIPANT, its SML registration",
		Args:  cobra.MaximumNArgs(1),
		RunE: withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			if len(args) == 1 {
				r, err := api.SMLParticipant(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeIndentedJSON(cmd.OutOrStdout(), r)
				}
				return printRegistration(cmd.OutOrStdout(), r)
			}
			st, err := api.Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeIndentedJSON(cmd.OutOrStdout(), st)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "public URL\t%s\nflavours\t%s\nservice groups\t%d\nservice metadata\t%d\n", st.PublicURL, strings.Join(st.Flavours, ", "), st.ServiceGroups, st.ServiceMetadata)
			fmt.Fprintf(tw, "signing key\tgeneration %d, %s, valid until %s\nre-signing pending\t%v\n", st.Generation, st.Subject, st.NotAfter.Format(time.RFC3339), st.Stale)
			if s := st.SML; s != nil {
				self := "registered"
				switch {
				case s.Self.Unregistered:
					self = "unregistered by the operator"
				case !s.Self.Registered:
					self = "not registered yet"
				}
				fmt.Fprintf(tw, "SML\tSMP %s; participants %d registered, %d pending, %d failed (signpost smp sml status)\n", self, s.Participants.Registered, s.Participants.Pending, s.Participants.Failed)
			} else {
				fmt.Fprintf(tw, "SML\tnone configured\n")
			}
			if k := st.KeySwitch; k != nil {
				fmt.Fprintf(tw, "key switch\tscheduled at %s to %s (issuer %s)\n", k.At.Format(time.RFC3339), k.Subject, k.Issuer)
			}
			return tw.Flush()
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSMPGroupsCmd() *cobra.Command {
	t := &smpTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "groups --config FILE [--json]",
		Short: "List the service groups (participant, owner, SML flag, number of service metadata)",
		Args:  cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			var all []smp.GroupSummary
			after := ""
			for {
				page, next, err := api.Groups(cmd.Context(), after, 1000)
				if err != nil {
					return err
				}
				all = append(all, page...)
				if next == "" {
					break
				}
				after = next
			}
			if asJSON {
				if all == nil {
					all = []smp.GroupSummary{}
				}
				return writeIndentedJSON(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTICIPANT\tOWNER\tIN SML\tMETADATA")
			for _, g := range all {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", g.Participant, g.Owner, g.InSML, g.ServiceMetadata)
			}
			return tw.Flush()
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
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
