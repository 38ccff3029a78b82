package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/store"
)

func newSMLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sml",
		Short: "The Service Metadata Locator: authoritative DNS zone and SOAP management API",
		Long: `The Service Metadata Locator: an authoritative DNS zone and its SOAP management API.

The admin commands (status, smps, export-zone, import, backup, migrations) talk to the running server through its admin API
(admin.listen in the configuration, with the token in admin.token_file), and work on the store directly when
the server is stopped. For a server whose configuration you do not have (signpost dev), give --admin-addr and
--token-file instead of --config.`,
	}
	cmd.AddCommand(newSMLServeCmd(), newSMLStatusCmd(), newSMLSMPsCmd(), newSMLExportZoneCmd(), newSMLImportCmd(),
		newSMLParticipantCmd(), newSMLBackupCmd(), newSMLRestoreCmd(), newSMLMigrationsCmd(), newSMLCertificateChangesCmd(), newSMLExpiringCmd(),
		newSMLUserCmd())
	return cmd
}

func loadSMLConfig(path string) (*conf.SML, error) {
	c, err := conf.LoadSML(path)
	if err != nil {
		return nil, configError(err)
	}
	return c, nil
}

func newSMLServeCmd() *cobra.Command {
	var cfg string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the SML: DNS (UDP and TCP), the SOAP management API and the admin API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadSMLConfig(cfg)
			if err != nil {
				return err
			}
			return runSMLServe(cmd.Context(), c)
		},
	}
	cmd.Flags().StringVar(&cfg, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	return cmd
}

func runSMLServe(ctx context.Context, c *conf.SML) error {
	log, err := logging.New(os.Stderr, c.Log.Format, c.Log.Level)
	if err != nil {
		return configError(err)
	}
	o := ops.New()
	o.Log = log
	app, err := smlapp.New(c, log, o)
	if err != nil {
		return err
	}
	defer app.Close()
	g := &lifecycle.Group{Log: log}
	o.AddCheck("listeners", g.Check) // a listener that died turns readiness red
	app.SetFailureHandler(g.Failed())
	if c.Ops.Addr != "" {
		g.Add(&lifecycle.HTTP{N: "ops", Server: o.Server(c.Ops.Addr), OnFail: g.Failed()})
	}
	g.Add(app.Servers()...)
	if err := g.Start(ctx); err != nil {
		return err
	}
	udp, _ := app.DNS().Addr()
	attrs := []any{"dns", udp, "admin", app.Admin().Addr(), "ops", c.Ops.Addr, "store", app.Store().Where}
	if m := app.Management(); m != nil {
		attrs = append(attrs, "management", m.Addr())
	}
	log.Info("SML serving", attrs...)
	return g.Wait(ctx)
}

// smlTarget finds what an admin command works on: the running server's admin API, or the store when the server
// is stopped.
type smlTarget struct {
	cfg       string
	adminAddr string
	tokenFile string
}

func (t *smlTarget) flags(f *pflag.FlagSet) {
	f.StringVar(&t.cfg, "config", "conf/sml.yaml", "SML configuration file (YAML): where its admin API listens, its token file, its store")
	f.StringVar(&t.adminAddr, "admin-addr", "", "HOST:PORT of a running server's admin API, instead of --config (needs --token-file)")
	f.StringVar(&t.tokenFile, "token-file", "", "file holding the admin token (default: admin.token_file of --config)")
}

// open returns the API to use and a function that releases it. The server is running when something accepts
// connections at its admin address; when nothing does, the command opens the store (and a server that holds it
// regardless is reported).
func (t *smlTarget) open(ctx context.Context, note io.Writer) (admin.API, func(), error) {
	none := func() {}
	if t.adminAddr != "" {
		if t.tokenFile == "" {
			return nil, none, usageErrorf("--admin-addr needs --token-file: the file holding the server's admin token")
		}
		tok, err := admin.ReadTokenFile(t.tokenFile)
		if err != nil {
			return nil, none, fileError(err)
		}
		return &admin.Client{Addr: t.adminAddr, Token: tok}, none, nil
	}
	c, err := loadSMLConfig(t.cfg)
	if err != nil {
		return nil, none, err
	}
	tokenFile := c.Admin.TokenFile
	if t.tokenFile != "" {
		tokenFile = t.tokenFile
	}
	addr := c.Admin.Listen
	conn, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, "tcp", addr)
	if err == nil {
		_ = conn.Close()
		tok, err := admin.ReadTokenFile(tokenFile)
		if err != nil {
			return nil, none, fileError(fmt.Errorf("%w\n(the server at %s is running: its admin API needs this token)", err, addr))
		}
		return &admin.Client{Addr: addr, Token: tok}, none, nil
	}
	if ctx.Err() != nil {
		return nil, none, ctx.Err()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return nil, none, fmt.Errorf("%w at %s (admin.listen in %s): %w", admin.ErrUnreachable, addr, c.File(), err)
	}
	st, svc, err := openSMLService(ctx, c)
	if errors.Is(err, store.ErrLocked) {
		return nil, none, fmt.Errorf("%w\nA running server holds the store, but nothing listens at %s (admin.listen in %s): "+
			"give the configuration that server runs with, or its admin API with --admin-addr and --token-file", err, addr, c.File())
	}
	if err != nil {
		return nil, none, err
	}
	fmt.Fprintf(note, "signpost: no server at %s (admin.listen): working on the store %s directly\n", addr, st.Where)
	return admin.Local{B: svc, Store: st.Backup}, st.Close, nil
}

// openSMLService opens the store of c (as the server does, smlapp.OpenStore) and the Service on it, for an admin
// command while the server is stopped (or, on PostgreSQL, runs on other nodes).
func openSMLService(ctx context.Context, c *conf.SML) (*smlapp.Store, *sml.Service, error) {
	st, err := smlapp.OpenStore(ctx, c, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, err := sml.New(st.Repo, c.Domains, sml.Options{JournalSize: c.DNS.JournalSize})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, svc, nil
}

func newSMLStatusCmd() *cobra.Command {
	t := &smlTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--json]",
		Short: "Show each zone's serial, participants and SMPs (from the running server, or the store when it is stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			st, err := api.Status(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeIndentedJSON(out, st)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ZONE\tSERIAL\tPARTICIPANTS\tSMPS\tJOURNAL\tRECORDS")
			for _, z := range st.Zones {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", z.Zone, z.Serial, z.Participants, z.SMPs, z.JournalEntries, strings.Join(z.Records, ","))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "total: %d participants, %d SMPs in %d zones\n", st.Participants, st.SMPs, len(st.Zones))
			return nil
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newSMLSMPsCmd() *cobra.Command {
	cmd, _ := smlListCmd("smps", "List the registered SMPs of every domain (from the running server, or the store when it is stopped)",
		"smps", "ID\tDOMAIN\tLOGICAL ADDRESS\tPHYSICAL ADDRESS\tPARTICIPANTS\tOWNER\tUPDATED",
		func(cmd *cobra.Command, api admin.API) ([]admin.SMP, error) { return api.SMPs(cmd.Context()) },
		func(s admin.SMP) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s\t%s", s.ID, s.Domain, s.LogicalAddress, s.PhysicalAddress, s.Participants,
				s.Owner, s.Updated.UTC().Format(time.RFC3339))
		})
	return cmd
}

// smlListCmd builds an admin command that lists rows from the running server (or the stopped store): a table by
// default (header, then one tab-separated line per row), {"key": [rows]} with --json. It returns the target so a
// caller can add its own flags.
func smlListCmd[T any](name, short, key, header string, fetch func(*cobra.Command, admin.API) ([]T, error), row func(T) string) (*cobra.Command, *smlTarget) {
	t := &smlTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   name + " [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--json]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			rows, err := fetch(cmd, api)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if rows == nil {
					rows = []T{}
				}
				return writeIndentedJSON(out, map[string]any{key: rows})
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, header)
			for _, r := range rows {
				fmt.Fprintln(tw, row(r))
			}
			return tw.Flush()
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd, t
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSMLExportZoneCmd() *cobra.Command {
	t := &smlTarget{}
	var out string
	cmd := &cobra.Command{
		Use:   "export-zone [--config FILE | --admin-addr HOST:PORT --token-file FILE] ZONE [-o FILE]",
		Short: "Write a domain's zone as an RFC 1035 zone file (from the running server, or the store when it is stopped)",
		Long: `Write a domain's zone as an RFC 1035 master file ($ORIGIN, $TTL, SOA, NS, then every record, names absolute),
from one consistent snapshot: the SOA serial is the one the records belong to. BIND, Knot and NSD load it.
While the server runs, the zone comes from it through its admin API; the same zone an AXFR at that serial gives.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			if out == "" || out == "-" {
				return api.ExportZone(ctx, cmd.OutOrStdout(), args[0])
			}
			return writeFileAtomic(out, func(w io.Writer) error { return api.ExportZone(ctx, w, args[0]) })
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE (replaced whole, only when the export succeeds) instead of standard output")
	return cmd
}

func newSMLParticipantCmd() *cobra.Command {
	t := &smlTarget{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "participant [--config FILE | --admin-addr HOST:PORT --token-file FILE] [--json] SCHEME::VALUE",
		Short: "Show a participant in every domain that has it: its SMP and the exact records the zone publishes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			ps, err := api.Participant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeIndentedJSON(out, map[string]any{"participants": ps})
			}
			for i, p := range ps {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "%s in %s\n  SMP      %s (%s), owner %s\n  created  %s, updated %s\n  records\n",
					p.Participant, p.Domain, p.SMP.ID, p.SMP.LogicalAddress, p.SMP.Owner,
					p.Created.UTC().Format(time.RFC3339), p.Updated.UTC().Format(time.RFC3339))
				for _, r := range p.Records {
					fmt.Fprintf(out, "    %s\n", r)
				}
			}
			return nil
		},
	}
	t.flags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSMLBackupCmd() *cobra.Command {
	t := &smlTarget{}
	cmd := &cobra.Command{
		Use:   "backup [--config FILE | --admin-addr HOST:PORT --token-file FILE] FILE",
		Short: "Write a consistent copy of the SML's store to FILE, online (the server keeps serving and writing)",
		Long: `Write a consistent copy of the SML's store to FILE: one read transaction, so the copy holds every write
acknowledged before the backup began and none half. While the server runs, the copy comes from it through its admin
API and writes go on meanwhile; when it is stopped, from the store directly. FILE is replaced whole, only when the
backup succeeds, with mode 0600. Restore it with "signpost sml restore" while the server is stopped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, done, err := t.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer done()
			return writeBackup(cmd.OutOrStdout(), args[0], func(w io.Writer) (int64, error) { return api.Backup(cmd.Context(), w) })
		},
	}
	t.flags(cmd.Flags())
	return cmd
}

func newSMLRestoreCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "restore --config FILE BACKUP",
		Short: "Replace the SML's store with a backup (the server must be stopped; the current store is kept beside it)",
		Long: `Replace the store of the configuration (store.path) with BACKUP, made by "signpost sml backup". The backup
must open as a store and pass the integrity check; the server must be stopped. The current store is kept beside it
as store.path.pre-restore.<time>. At its next start the server raises the zone serial above what its configured
secondaries hold, so they transfer the restored zone: a serial never goes back.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadSMLConfig(cfgPath)
			if err != nil {
				return err
			}
			if c.Store.Postgres() {
				return usageErrorf("the SML's store is a PostgreSQL database (store.backend postgres): restore it with " +
					"PostgreSQL's tools (psql or pg_restore of a pg_dump); signpost sml restore replaces the embedded store only")
			}
			return restoreStore(cmd.OutOrStdout(), args[0], c.Store.Path)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	return cmd
}

// writeBackup writes a store's backup to path, whole or not at all, with mode 0600 before the file appears (a
// store holds owners, participants and credential hashes), and says how much it wrote.
func writeBackup(out io.Writer, path string, backup func(io.Writer) (int64, error)) error {
	var n int64
	err := writeFileAtomicMode(path, 0o600, func(w io.Writer) error {
		var err error
		n, err = backup(w)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backed up %d bytes to %s\n", n, path)
	return nil
}

// restoreStore puts the backup in place of the store at path (store.Restore refuses while a running server holds
// its lock) and says what it did.
func restoreStore(out io.Writer, backup, path string) error {
	if _, err := os.Stat(backup); err != nil {
		return fileError(err)
	}
	kept, err := store.Restore(backup, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s from %s\n", path, backup)
	if kept != "" {
		fmt.Fprintf(out, "the store as it was is kept as %s\n", kept)
	}
	return nil
}

// writeFileAtomic writes a file through a temporary file beside it and a rename: the file is replaced only when
// fn succeeds. fn's error is returned as it is; failures of the file itself are file errors.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	return writeFileAtomicMode(path, 0o644, fn)
}

// writeFileAtomicMode is writeFileAtomic with the file's mode, set before the file appears under its name.
func writeFileAtomicMode(path string, mode os.FileMode, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(dirOf(path), ".signpost-*")
	if err != nil {
		return fileError(err)
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fileError(err)
	}
	if err := f.Close(); err != nil {
		return fileError(err)
	}
	if err := os.Chmod(f.Name(), mode); err != nil {
		return fileError(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fileError(err)
	}
	return nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}

type importOptions struct {
	target   smlTarget
	batch    int
	generate int
	smps     int
	zone     string
	owner    string
}

func newSMLImportCmd() *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [--config FILE | --admin-addr HOST:PORT --token-file FILE] FILE",
		Short: "Bulk-load SMPs and participants from a JSON Lines file (docs/sml-import.md); --generate writes a test file",
		Long: `Bulk-load SMPs and participants (a migration from another SML, or a scale test) from a JSON Lines file,
one transaction per batch. While the server runs, the file goes through its admin API and the server serves
each batch in DNS as it commits; when the server is stopped, the command works on the store.
Re-running an import is harmless. After an import the zone's IXFR journal is reset: secondaries take the
whole zone (AXFR) at their next transfer. Interrupted (Ctrl-C), it stops: each batch commits whole or not at
all, and the batches committed before stay.

With --generate N, FILE is not read but written: N participants over --smps SMPs in --zone, owned by --owner.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.generate > 0 {
				return writeFileAtomic(args[0], func(w io.Writer) error {
					return sml.WriteGenerated(w, o.generate, o.smps, o.zone, o.owner)
				})
			}
			return runSMLImport(cmd, o, args[0])
		},
	}
	f := cmd.Flags()
	o.target.flags(f)
	f.IntVar(&o.batch, "batch", admin.DefaultBatch, "participants per transaction")
	f.IntVar(&o.generate, "generate", 0, "write a test import file of N participants to FILE instead of importing")
	f.IntVar(&o.smps, "smps", 10, "with --generate: number of SMPs")
	f.StringVar(&o.zone, "zone", "sml.test.", "with --generate: the zone of the SMPs")
	f.StringVar(&o.owner, "owner", "CN=SMP-GEN,O=Signpost test,C=BE:1", "with --generate: the owner (certificate identity) of the SMPs")
	return cmd
}

func runSMLImport(cmd *cobra.Command, o *importOptions, path string) error {
	ctx := cmd.Context()
	in, err := os.Open(path)
	if err != nil {
		return fileError(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fileError(err)
	}
	errOut := cmd.ErrOrStderr()
	api, done, err := o.target.open(ctx, errOut)
	if err != nil {
		return err
	}
	defer done()
	var r io.Reader = in
	var bar *progressbar.ProgressBar
	if isTerminal(errOut) {
		bar = progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(errOut), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(true))
		pr := progressbar.NewReader(in, bar)
		r = &pr
	}
	start := time.Now()
	total, err := api.Import(ctx, r, o.batch, func(ev admin.ImportEvent) {
		if bar == nil {
			p := ev.Result.Participants
			fmt.Fprintf(errOut, "imported up to line %d: %d participants created, %d updated, %d unchanged (%s)\n",
				ev.Line, p.Created, p.Updated, p.Unchanged, time.Since(start).Round(time.Millisecond))
		}
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(errOut)
	}
	out := cmd.OutOrStdout()
	s, p := total.SMPs, total.Participants
	fmt.Fprintf(out, "SMPs: %d created, %d updated, %d unchanged\nparticipants: %d created, %d updated, %d unchanged\ntime: %s\n",
		s.Created, s.Updated, s.Unchanged, p.Created, p.Updated, p.Unchanged, time.Since(start).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintln(out, "stopped; the batches before are committed, and re-running the import (after fixing the file) is safe")
		return err
	}
	if status, err := api.Status(ctx); err == nil {
		for _, z := range status.Zones {
			fmt.Fprintf(out, "zone %s: serial %d, %d participants\n", z.Zone, z.Serial, z.Participants)
		}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
