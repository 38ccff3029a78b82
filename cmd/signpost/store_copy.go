package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/sml"
	smlbolt "github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/smp"
	smpbolt "github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/store"
)

// newStoreCmd: operations on a whole store, whichever its backend.
func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Operations on a whole SML or SMP store (copy between bbolt and PostgreSQL)",
	}
	cmd.AddCommand(newStoreCopyCmd())
	return cmd
}

// errCopyMismatch is a copy whose target does not hold what the source holds once it is done.
var errCopyMismatch = errors.New("the copy's counts do not match")

func newStoreCopyCmd() *cobra.Command {
	var from, to, what string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "copy --from bolt:PATH|postgres:DSN --to bolt:PATH|postgres:DSN [--what sml|smp]",
		Short: "Copy an SML or SMP store to another backend (bbolt to PostgreSQL and back), then check the counts",
		Long: `Copies every record of an SML or SMP store into another store, with a progress bar, then counts the
records of both and fails (exit 28, copy-mismatch) unless they agree. Moving from one node on bbolt to several
nodes on PostgreSQL (docs/guide-two-nodes.md) is: stop the server, copy, point store.backend/store.dsn at the
database, start the nodes.

A store is bolt:PATH (the bbolt file of store.path) or postgres:DSN (a URL postgres://user@host:port/db or a
key=value connection string; the password may come from PGPASSWORD or ~/.pgpass). The SML's records live in the
database's schema sml, the SMP's in schema smp, so both can share one database; --what says which to copy when the
source could be either (default: what the source holds).

The copy is idempotent: records are written as they are (signed documents, serials, journal), so running it again
gives the same store. Records only the target has stay, and make the final check fail: copy into an empty store.
Not copied: web console sessions (users log in again), and the versions of deleted SMP service groups. Nothing may
write to either store meanwhile: stop the servers first (a bbolt store held by a server is refused).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := parseStoreEnd(from, "--from")
			if err != nil {
				return err
			}
			dst, err := parseStoreEnd(to, "--to")
			if err != nil {
				return err
			}
			if src == dst {
				return usageErrorf("--from and --to are the same store")
			}
			switch what {
			case "", "sml", "smp":
			default:
				return usageErrorf("--what: %q is not a store kind; use sml or smp", what)
			}
			return runStoreCopy(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), src, dst, what, asJSON)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the source store: bolt:PATH or postgres:DSN")
	cmd.Flags().StringVar(&to, "to", "", "the target store: bolt:PATH or postgres:DSN")
	cmd.Flags().StringVar(&what, "what", "", "sml or smp (default: what the source holds)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// storeEnd is one side of a copy.
type storeEnd struct {
	backend string // "bolt" or "postgres"
	where   string // path or DSN
}

func (e storeEnd) String() string { return e.backend + ":" + e.where }

func parseStoreEnd(s, flag string) (storeEnd, error) {
	switch {
	case strings.HasPrefix(s, "bolt:"):
		return storeEnd{"bolt", strings.TrimPrefix(s, "bolt:")}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return storeEnd{"postgres", s}, nil
	case strings.HasPrefix(s, "postgres:"):
		return storeEnd{"postgres", strings.TrimPrefix(s, "postgres:")}, nil
	}
	return storeEnd{}, usageErrorf("%s %q: give bolt:PATH or postgres:DSN", flag, s)
}

// openedStore is a store opened for a copy: its SML or SMP repository (the other is nil when unknown).
type openedStore struct {
	sml     sml.Repo
	console sml.ConsoleStore
	smp     smp.Repository
	close   func()
}

// openStoreEnd opens a store for a copy of what ("sml", "smp", or "" for a source to be recognised).
func openStoreEnd(ctx context.Context, e storeEnd, what string) (*openedStore, error) {
	if e.backend == "postgres" {
		return openPostgresEnd(ctx, e, what)
	}
	db, err := store.Open(e.where, store.Options{})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w: stop the server that uses %s before copying it", err, e.where)
		}
		return nil, err
	}
	return &openedStore{sml: smlbolt.New(db), console: smlbolt.NewConsoleStore(db), smp: smpbolt.New(db),
		close: func() { _ = db.Close() }}, nil
}

// kindOf says what the store holds: "sml" (zones), "smp" (service groups or SMP settings), or "" (nothing). A
// store that holds both (one PostgreSQL database shared by an SML and an SMP) is an error that asks for --what.
func kindOf(ctx context.Context, o *openedStore) (string, error) {
	var kinds []string
	if o.sml != nil {
		c, err := sml.CountRecords(o.sml)
		if err != nil {
			return "", err
		}
		if c.Zones > 0 {
			kinds = append(kinds, "sml")
		}
	}
	if o.smp != nil {
		c, err := smp.CountRecords(ctx, o.smp)
		if err != nil {
			return "", err
		}
		if c.Total() > 0 {
			kinds = append(kinds, "smp")
		}
	}
	switch len(kinds) {
	case 0:
		return "", nil
	case 1:
		return kinds[0], nil
	}
	return "", usageErrorf("it holds both an SML and an SMP store: give --what sml or --what smp")
}

type copyReport struct {
	What   string `json:"what"`
	From   string `json:"from"`
	To     string `json:"to"`
	Copied any    `json:"copied"`
	Target any    `json:"target"`
	Match  bool   `json:"match"`
}

func runStoreCopy(ctx context.Context, stdout, stderr io.Writer, src, dst storeEnd, what string, asJSON bool) error {
	from, err := openStoreEnd(ctx, src, "") // never creates a schema in the source
	if err != nil {
		return fmt.Errorf("--from %s: %w", src, err)
	}
	defer from.close()
	if what == "" {
		if what, err = kindOf(ctx, from); err != nil {
			return fmt.Errorf("--from %s: %w", src, err)
		}
		if what == "" {
			return fmt.Errorf("--from %s holds neither an SML nor an SMP store (nothing to copy)", src)
		}
	}
	to, err := openStoreEnd(ctx, dst, what)
	if err != nil {
		return fmt.Errorf("--to %s: %w", dst, err)
	}
	defer to.close()
	rep := copyReport{What: what, From: redactDSN(src), To: redactDSN(dst)}
	switch what {
	case "sml":
		if from.sml == nil || to.sml == nil {
			return fmt.Errorf("--from %s holds no SML store", src)
		}
		total, err := sml.CountRecords(from.sml)
		if err != nil {
			return err
		}
		bar := newProgress(stderr, "copying the SML store", total.Total(), false)
		copied, err := sml.Copy(from.sml, to.sml, bar.set)
		bar.finish()
		if err != nil {
			return err
		}
		users, err := copyConsoleUsers(ctx, from.console, to.console)
		if err != nil {
			return err
		}
		target, err := sml.CountRecords(to.sml)
		if err != nil {
			return err
		}
		rep.Copied, rep.Target, rep.Match = smlCounts{copied, users}, smlCounts{target, users}, copied == target
	case "smp":
		if from.smp == nil || to.smp == nil {
			return fmt.Errorf("--from %s holds no SMP store", src)
		}
		total, err := smp.CountRecords(ctx, from.smp)
		if err != nil {
			return err
		}
		bar := newProgress(stderr, "copying the SMP store", total.Total(), false)
		copied, err := smp.Copy(ctx, from.smp, to.smp, bar.set)
		bar.finish()
		if err != nil {
			return err
		}
		target, err := smp.CountRecords(ctx, to.smp)
		if err != nil {
			return err
		}
		rep.Copied, rep.Target, rep.Match = copied, target, copied == target
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "copied the %s store %s -> %s\n", strings.ToUpper(what), rep.From, rep.To)
		printCounts(stdout, "copied", rep.Copied)
		printCounts(stdout, "target", rep.Target)
	}
	if !rep.Match {
		return &cliError{code: exitCopyMismatch, err: fmt.Errorf("%w: the target holds records the source does not "+
			"(copy into an empty store), or it changed during the copy (stop the servers)", errCopyMismatch)}
	}
	return nil
}

// smlCounts adds the console users to the SML repository's counts.
type smlCounts struct {
	sml.Counts
	ConsoleUsers int64 `json:"console_users"`
}

func printCounts(w io.Writer, label string, c any) {
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	var parts []string
	for _, k := range countOrder {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %v", strings.ReplaceAll(k, "_", " "), v))
		}
	}
	fmt.Fprintf(w, "  %-7s %s\n", label+":", strings.Join(parts, ", "))
}

var countOrder = []string{"zones", "smps", "participants", "names", "journal", "migrations", "cert_changes",
	"console_users", "groups", "metadata", "documents", "users", "tokens", "registrations", "settings"}

// copyConsoleUsers copies the SML console's users (their password hashes and creation times).
func copyConsoleUsers(ctx context.Context, from, to sml.ConsoleStore) (int64, error) {
	if from == nil || to == nil {
		return 0, nil
	}
	users, err := from.ConsoleUsers(ctx)
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		if _, err := to.SetConsoleUser(ctx, u.Name, u.Password, u.Created); err != nil {
			return 0, err
		}
	}
	return int64(len(users)), nil
}

// redactDSN hides a password in a postgres DSN, for printing.
func redactDSN(e storeEnd) string {
	if e.backend != "postgres" {
		return e.String()
	}
	return "postgres:" + redactPassword(e.where)
}
