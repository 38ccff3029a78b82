package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/smp/xmlbind"
	"github.com/signpost-project/signpost/store"
)

func newSMPCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "smp",
		Short: "The Service Metadata Publisher: signed service groups and service metadata over HTTP",
	}
	cmd.AddCommand(newSMPServeCmd(), newSMPImportCmd(), newSMPExportCmd(), newSMPRekeyCmd(), newSMPTokenCmd(), newSMPUserCmd(), newSMPStatusCmd(), newSMPGroupsCmd(),
		newSMPBulkCmd(), newSMPBackupCmd(), newSMPRestoreCmd(), newSMPSMLCmd())
	return cmd
}

func loadSMP(path string) (*conf.SMP, error) {
	cfg, err := conf.LoadSMP(path)
	if err != nil {
		return nil, configError(err)
	}
	return cfg, nil
}

// openSMP opens the SMP of a configuration for an admin command (the server must not be running: the store is
// locked by it).
func openSMP(path string) (*smpapp.App, error) {
	cfg, err := loadSMP(path)
	if err != nil {
		return nil, err
	}
	log, err := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	a, err := smpapp.New(context.Background(), cfg, log, nil)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%w\n(a running `signpost smp serve` holds the store: stop it for this command)", err)
	}
	return a, err
}

func newSMPServeCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the SMP read API (and SMP 2.0 under /bdxr-smp-2/); SIGHUP re-reads the HTTPS certificate files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadSMP(cfgPath)
			if err != nil {
				return err
			}
			log, err := logging.New(os.Stderr, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return err
			}
			o := ops.New()
			o.Log = log
			a, err := smpapp.New(cmd.Context(), cfg, log, o)
			if err != nil {
				return err
			}
			defer a.Close()
			g := &lifecycle.Group{Log: log}
			o.AddCheck("listeners", g.Check) // a listener that died turns readiness red
			if cfg.Ops.Addr != "" {
				g.Add(&lifecycle.HTTP{N: "smp ops", Server: o.Server(cfg.Ops.Addr), OnFail: g.Failed()})
			}
			g.Add(a.Servers()...)
			ctx := cmd.Context()
			if err := g.Start(ctx); err != nil {
				return err
			}
			log.Info("smp serving", "addr", a.Addr(), "public_url", cfg.PublicURL, "flavour", cfg.Flavour, "smp2", cfg.Serve2(),
				"generation", a.Service().Generation())
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			// SIGHUP reloads the HTTPS certificate files only (they are also read again when they change on disk);
			// the signing key changes only through `signpost smp rekey`.
			go func() {
				for range hup {
					changed, err := a.ReloadTLS()
					switch {
					case err != nil:
						log.Error("SIGHUP: HTTPS certificate not reloaded; the one in use stays", "err", err)
					case changed:
						log.Info("SIGHUP: new HTTPS certificate in use")
					case cfg.HTTP.ACME.Enabled():
						log.Info("SIGHUP: nothing to reload (ACME renews the HTTPS certificate itself)")
					case !cfg.HTTP.TLS.Set():
						log.Info("SIGHUP: nothing to reload (no http.tls)")
					default:
						log.Info("SIGHUP: HTTPS certificate unchanged")
					}
				}
			}()
			return g.Wait(ctx)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
	return cmd
}

func newSMPImportCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "import --config FILE FILE|DIR",
		Short: "Load service groups and metadata from an import file (JSON Lines, docs/smp-import.md) or a directory of XML bodies",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(openSMP, &cfgPath, func(cmd *cobra.Command, args []string, a *smpapp.App) error {
			ctx := cmd.Context()
			start := time.Now()
			fi, err := os.Stat(args[0])
			if err != nil {
				return fileError(err)
			}
			svc := a.Service()
			var st fmt.Stringer
			if fi.IsDir() {
				s, err := xmlbind.ImportDir(ctx, svc, args[0], xmlbind.Limits{})
				if err != nil {
					return err
				}
				st = s
			} else {
				f, err := os.Open(args[0])
				if err != nil {
					return fileError(err)
				}
				defer f.Close()
				cr := &countingReader{r: f}
				p := newProgress(cmd.ErrOrStderr(), "import", fi.Size(), true)
				s, err := svc.Import(ctx, args[0], cr, func(smp.ImportStats) { p.set(cr.n.Load()) })
				p.finish()
				if err != nil {
					return err
				}
				st = s
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s: %s in %s\n", args[0], st, time.Since(start).Round(time.Millisecond))
			return nil
		}),
	}
	cmd.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
	return cmd
}

func newSMPExportCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "export --config FILE FILE",
		Short: "Write the whole SMP to an import file (JSON Lines; - for stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(openSMP, &cfgPath, func(cmd *cobra.Command, args []string, a *smpapp.App) error {
			var w io.Writer = cmd.OutOrStdout()
			var f *os.File
			var err error
			if args[0] != "-" {
				if f, err = os.Create(args[0]); err != nil {
					return fileError(err)
				}
				w = f
			}
			var total int64
			if groups, metas, err := a.Service().Counts(cmd.Context()); err == nil {
				users, _ := a.Credentials().Users(cmd.Context())
				total = int64(groups + metas + len(users))
			}
			var p *progress
			if f != nil {
				p = newProgress(cmd.ErrOrStderr(), "export", total, false)
				w = &lineCounter{w: w, on: p.set}
			}
			n, err := a.Service().WriteExport(cmd.Context(), w)
			if p != nil {
				p.finish()
			}
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return err
			}
			if f != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d records to %s\n", n, args[0])
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
	return cmd
}

// withApp is the RunE of an admin command: it opens the SMP of --config with open (the server must be stopped),
// runs fn and closes the SMP.
func withApp(open func(string) (*smpapp.App, error), cfgPath *string, fn func(cmd *cobra.Command, args []string, a *smpapp.App) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := open(*cfgPath)
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(cmd, args, a)
	}
}
