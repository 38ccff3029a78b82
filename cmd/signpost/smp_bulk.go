package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
)

// Bulk changes, online backup and restore of the SMP. Like the other admin commands, bulk and backup work on a
// running server through its admin listener, or on the store when no server runs.

func newSMPBulkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bulk",
		Short: "Change an endpoint certificate or address in every service group and re-sign what changed",
		Long: `bulk replaces one endpoint value in every service metadata of every service group, and signs the changed
documents again in every served flavour: the chore of moving access points to a new certificate (PEPPOL's 2026 move
to G3) or to a new address. --dry-run prints what would change, per service group, and writes nothing.

Each service group is committed on its own, its version checked, while the server goes on serving and writing: a
reader gets a document as it was or as it is now, never a mixture. A change that stops midway (Ctrl-C, a lost
connection) leaves the groups done so far changed; running it again finishes the rest.`,
	}
	cmd.AddCommand(newSMPBulkCertCmd(), newSMPBulkURLCmd())
	return cmd
}

func newSMPBulkCertCmd() *cobra.Command {
	t := &smpTarget{}
	var oldFile, newFile string
	var dry bool
	cmd := &cobra.Command{
		Use:   "replace-certificate [--config FILE] --old OLD.pem --new NEW.pem [--dry-run]",
		Short: "Replace an endpoint certificate by another in every endpoint that has it, and re-sign",
		Long: `replace-certificate finds every endpoint whose certificate is OLD (byte for byte) and gives it NEW instead.
Both files are PEM (the first certificate in each is used) or DER. NEW must not have expired.`,
		Args: cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			old, err := readCertificate("--old", oldFile)
			if err != nil {
				return err
			}
			nw, err := readCertificate("--new", newFile)
			if err != nil {
				return err
			}
			return runBulk(cmd, api, smp.BulkOp{OldCertificate: old, NewCertificate: nw, DryRun: dry})
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().StringVar(&oldFile, "old", "", "the certificate to replace (PEM or DER file)")
	cmd.Flags().StringVar(&newFile, "new", "", "the certificate to put in its place (PEM or DER file)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print what would change, per service group, and change nothing")
	_ = cmd.MarkFlagRequired("old")
	_ = cmd.MarkFlagRequired("new")
	return cmd
}

func newSMPBulkURLCmd() *cobra.Command {
	t := &smpTarget{}
	var oldURL, newURL string
	var dry bool
	cmd := &cobra.Command{
		Use:   "replace-url [--config FILE] --old URL --new URL [--dry-run]",
		Short: "Replace an endpoint address by another in every endpoint that has it, and re-sign",
		Long: `replace-url finds every endpoint whose address is exactly OLD (the whole URL, compared byte for byte) and gives
it NEW instead, an absolute http or https URL.`,
		Args: cobra.NoArgs,
		RunE: withAdmin(t, func(cmd *cobra.Command, _ []string, api smpadmin.API) error {
			return runBulk(cmd, api, smp.BulkOp{OldURL: oldURL, NewURL: newURL, DryRun: dry})
		}),
	}
	t.flags(cmd.Flags())
	cmd.Flags().StringVar(&oldURL, "old", "", "the endpoint address to replace (the whole URL)")
	cmd.Flags().StringVar(&newURL, "new", "", "the address to put in its place")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print what would change, per service group, and change nothing")
	_ = cmd.MarkFlagRequired("old")
	_ = cmd.MarkFlagRequired("new")
	return cmd
}

// runBulk runs a bulk change with a progress bar on a terminal; a dry run prints one line per service group that
// would change. Both end with a summary.
func runBulk(cmd *cobra.Command, api smpadmin.API, op smp.BulkOp) error {
	if err := op.Validate(); err != nil {
		return usageError(err)
	}
	out := cmd.OutOrStdout()
	start := time.Now()
	var p *progress
	obs := smp.BulkObserver{Progress: func(done, total int) {
		if p == nil {
			p = newProgress(cmd.ErrOrStderr(), op.Kind(), int64(total), false)
		}
		p.set(int64(done))
	}}
	if op.DryRun {
		obs.Group = func(g smp.BulkGroup) {
			if p != nil && p.bar != nil {
				_ = p.bar.Clear()
			}
			fmt.Fprintf(out, "%s\t%d endpoints in %d service metadata\n", g.Participant, g.Endpoints, g.Metadata)
		}
	}
	res, err := api.Bulk(cmd.Context(), op, obs)
	if p != nil {
		p.finish()
	}
	if err != nil {
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	if op.DryRun {
		fmt.Fprintf(out, "dry run of %s: %d endpoints in %d service metadata of %d service groups would change (%d groups looked at); nothing was written\n",
			res.Change, res.Endpoints, res.Metadata, res.Groups, res.Scanned)
		return nil
	}
	fmt.Fprintf(out, "%s: changed %d endpoints in %d service metadata of %d service groups (%d groups looked at); %d documents signed again in %s\n",
		res.Change, res.Endpoints, res.Metadata, res.Groups, res.Scanned, res.Documents, took)
	return nil
}

// readCertificate reads the first certificate of a PEM file, or a DER file; flag names the option in errors.
func readCertificate(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(fmt.Errorf("%s: %w", flag, err))
	}
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
	if len(b) > 0 && b[0] == 0x30 { // DER: an ASN.1 SEQUENCE
		return b, nil
	}
	return nil, usageErrorf("%s: %s holds no certificate (give a PEM file with a CERTIFICATE block, or DER)", flag, path)
}

func newSMPBackupCmd() *cobra.Command {
	t := &smpTarget{}
	cmd := &cobra.Command{
		Use:   "backup [--config FILE | --admin-addr HOST:PORT --token-file FILE] FILE",
		Short: "Write a consistent copy of the SMP's store to FILE, online (the server keeps serving and writing)",
		Long: `Write a consistent copy of the SMP's store to FILE: one read transaction, so the copy holds every write
acknowledged before the backup began and none half. While the server runs, the copy comes from it through its admin
API and writes go on meanwhile; when it is stopped, from the store directly. FILE is replaced whole, only when the
backup succeeds, with mode 0600 (it holds the users' password hashes and token hashes). Restore it with
"signpost smp restore" while the server is stopped. A PostgreSQL store (store.backend: postgres) is refused: back
it up with pg_dump --schema=smp.`,
		Args: cobra.ExactArgs(1),
		RunE: withAdmin(t, func(cmd *cobra.Command, args []string, api smpadmin.API) error {
			return writeBackup(cmd.OutOrStdout(), args[0], func(w io.Writer) (int64, error) { return api.Backup(cmd.Context(), w) })
		}),
	}
	t.flags(cmd.Flags())
	return cmd
}

func newSMPRestoreCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "restore --config FILE BACKUP",
		Short: "Replace the SMP's store with a backup (the server must be stopped; the current store is kept beside it)",
		Long: `Replace the store of the configuration (store.path) with BACKUP, made by "signpost smp backup". The backup
must open as a store and pass the integrity check; the server must be stopped (a running server holds the store's
lock, and restore refuses). The current store is kept beside it as store.path.pre-restore.<time>. When the
restored store records another signing key than the configuration names, the server re-signs every document at its
next start. A PostgreSQL store (store.backend: postgres) is refused: restore it with pg_restore or psql.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadSMP(cfgPath)
			if err != nil {
				return err
			}
			if c.Store.Postgres() {
				return configError(fmt.Errorf("smp restore: the SMP's store is PostgreSQL (store.backend: postgres): restore it with " +
					"pg_restore or psql from a pg_dump; signpost's backup and restore are for the bbolt store"))
			}
			return restoreStore(cmd.OutOrStdout(), args[0], c.Store.Path)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "conf/smp.yaml", "SMP configuration file (YAML)")
	return cmd
}
