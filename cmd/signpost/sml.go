package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/sml"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/store"
)

func newSMLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sml",
		Short: "The Service Metadata Locator: authoritative DNS zone and SOAP management API",
	}
	cmd.AddCommand(newSMLServeCmd(), newSMLExportZoneCmd(), newSMLImportCmd())
	return cmd
}

// smlExit translates an sml error kind into the exit code of the admin commands.
func smlExit(err error) error {
	if err == nil {
		return nil
	}
	var e *sml.Error
	if !errors.As(err, &e) {
		return err
	}
	code := map[sml.Kind]int{sml.KindBadRequest: 3, sml.KindNotFound: 4, sml.KindUnauthorized: 5, sml.KindAlreadyExists: 6}[e.Kind]
	if code == 0 {
		code = 1
	}
	if e.Err != nil {
		return &exitError{code: code, err: fmt.Errorf("%s: %w", e.Msg, e.Err)}
	}
	return &exitError{code: code, err: e}
}

func loadSMLConfig(path string) (*conf.SML, error) {
	c, err := conf.LoadSML(path)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return c, nil
}

func newSMLServeCmd() *cobra.Command {
	var cfg string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the SML: DNS (UDP and TCP) and the SOAP management API",
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
	if ctx == nil {
		ctx = context.Background()
	}
	log, err := logging.New(os.Stderr, c.Log.Format, c.Log.Level)
	if err != nil {
		return err
	}
	o := ops.New()
	app, err := smlapp.New(c, log, o)
	if err != nil {
		return err
	}
	defer app.Close()
	g := &lifecycle.Group{Log: log}
	app.SetFailureHandler(g.Failed())
	if c.Ops.Addr != "" {
		g.Add(&lifecycle.HTTP{N: "ops", Server: o.Server(c.Ops.Addr), OnFail: g.Failed()})
	}
	g.Add(app.Servers()...)
	if err := g.Start(ctx); err != nil {
		return err
	}
	udp, _ := app.DNS().Addr()
	attrs := []any{"dns", udp, "ops", c.Ops.Addr, "store", c.Store.Path}
	if m := app.Management(); m != nil {
		attrs = append(attrs, "management", m.Addr())
	}
	log.Info("SML serving", attrs...)
	return g.Wait(ctx)
}

// openSMLService opens the store of c and the Service on it, for the admin commands (the server must be stopped:
// the store is locked by one process at a time).
func openSMLService(c *conf.SML, opts sml.Options) (*store.DB, *sml.Service, error) {
	db, err := store.Open(c.Store.Path, store.Options{LockTimeout: c.Store.LockTimeout})
	if err != nil {
		return nil, nil, err
	}
	opts.JournalSize = c.DNS.JournalSize
	svc, err := sml.New(db, c.Domains, opts)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, svc, nil
}

func newSMLExportZoneCmd() *cobra.Command {
	var cfg, out string
	cmd := &cobra.Command{
		Use:   "export-zone --config FILE ZONE [-o FILE]",
		Short: "Write a domain's zone as an RFC 1035 zone file (stop the server first, or use AXFR)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadSMLConfig(cfg)
			if err != nil {
				return err
			}
			db, svc, err := openSMLService(c, sml.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			if out == "" || out == "-" {
				return smlExit(svc.ExportZone(cmd.OutOrStdout(), args[0]))
			}
			return writeFileAtomic(out, func(w io.Writer) error { return svc.ExportZone(w, args[0]) })
		},
	}
	cmd.Flags().StringVar(&cfg, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

// writeFileAtomic writes a file through a temporary file and a rename.
func writeFileAtomic(path string, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(dirOf(path), ".signpost-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return smlExit(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
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
	cfg      string
	batch    int
	generate int
	smps     int
	zone     string
	owner    string
}

func newSMLImportCmd() *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import --config FILE FILE",
		Short: "Bulk-load SMPs and participants from a JSON Lines file (docs/sml-import.md); --generate writes a test file",
		Long: `Bulk-load SMPs and participants (a migration from another SML, or a scale test) from a JSON Lines file,
one transaction per batch. The server must be stopped (the store is locked by one process at a time).
Re-running an import is harmless. After an import the zone's IXFR journal is reset: secondaries take the
whole zone (AXFR) at their next transfer.

With --generate N, FILE is not read but written: N participants over --smps SMPs in --zone, owned by --owner.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.generate > 0 {
				return writeFileAtomic(args[0], func(w io.Writer) error {
					return sml.WriteGenerated(w, o.generate, o.smps, o.zone, o.owner)
				})
			}
			c, err := loadSMLConfig(o.cfg)
			if err != nil {
				return err
			}
			return runSMLImport(cmd, c, args[0], o.batch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cfg, "config", "conf/sml.yaml", "SML configuration file (YAML)")
	f.IntVar(&o.batch, "batch", 10000, "participants per transaction")
	f.IntVar(&o.generate, "generate", 0, "write a test import file of N participants to FILE instead of importing")
	f.IntVar(&o.smps, "smps", 10, "with --generate: number of SMPs")
	f.StringVar(&o.zone, "zone", "sml.test.", "with --generate: the zone of the SMPs")
	f.StringVar(&o.owner, "owner", "CN=SMP-GEN,O=Signpost test,C=BE:1", "with --generate: the owner (certificate identity) of the SMPs")
	return cmd
}

func runSMLImport(cmd *cobra.Command, c *conf.SML, path string, batch int) error {
	in, err := os.Open(path)
	if err != nil {
		return &exitError{code: 3, err: err}
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	db, svc, err := openSMLService(c, sml.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	errOut := cmd.ErrOrStderr()
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
	var total sml.ImportResult
	err = sml.ReadImport(r, batch, func(b sml.ImportBatch) error {
		res, err := svc.Import(cmd.Context(), b)
		total.Add(res)
		if bar == nil && err == nil {
			fmt.Fprintf(errOut, "imported up to line %d: %d participants created, %d updated, %d unchanged (%s)\n",
				lastLine(b), total.Created, total.Updated, total.Unchanged, time.Since(start).Round(time.Millisecond))
		}
		return err
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(errOut)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "SMPs: %d created, %d updated, %d unchanged\nparticipants: %d created, %d updated, %d unchanged\ntime: %s\n",
		total.SMPsCreated, total.SMPsUpdated, total.SMPsUnchanged, total.Created, total.Updated, total.Unchanged,
		time.Since(start).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintln(out, "stopped at an error; batches before it are committed, and re-running the import after fixing the file is safe")
		return smlExit(err)
	}
	if stats, err := svc.Stats(); err == nil {
		for _, z := range stats {
			fmt.Fprintf(out, "zone %s: serial %d, %d participants\n", z.Zone, z.Serial, z.Participants)
		}
	}
	return nil
}

func lastLine(b sml.ImportBatch) int {
	n := 0
	if l := len(b.ParticipantLines); l > 0 {
		n = b.ParticipantLines[l-1]
	}
	if l := len(b.SMPLines); l > 0 && b.SMPLines[l-1] > n {
		n = b.SMPLines[l-1]
	}
	return n
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
