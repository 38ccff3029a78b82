package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/pgstore"
	smlpg "github.com/signpost-project/signpost/sml/pgrepo"
	smppg "github.com/signpost-project/signpost/smp/pgrepo"
)

// openPostgresEnd opens the repositories of a PostgreSQL database for a copy: the one of what ("sml" or "smp"),
// or, when what is "" (a source to be recognised), each of the two whose schema exists. Opening a schema creates
// it (and migrates it), so a target gets only the schema it is copied into.
func openPostgresEnd(ctx context.Context, e storeEnd, what string) (*openedStore, error) {
	open := map[string]bool{"sml": what == "sml", "smp": what == "smp"}
	if what == "" {
		conn, err := pgx.Connect(ctx, e.where)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", pgstore.ErrUnavailable, err)
		}
		rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname IN ('sml', 'smp')")
		if err == nil {
			var names []string
			names, err = pgx.CollectRows(rows, pgx.RowTo[string])
			for _, n := range names {
				open[n] = true
			}
		}
		_ = conn.Close(ctx)
		if err != nil {
			return nil, err
		}
	}
	o := &openedStore{close: func() {}}
	var closers []func()
	o.close = func() {
		for _, c := range closers {
			c()
		}
	}
	if open["sml"] {
		r, err := smlpg.Open(ctx, e.where, smlpg.Options{})
		if err != nil {
			return nil, err
		}
		o.sml, o.console = r, r.Console()
		closers = append(closers, r.Close)
	}
	if open["smp"] {
		db, err := smppg.Open(ctx, e.where, nil)
		if err != nil {
			o.close()
			return nil, err
		}
		o.smp = smppg.New(db)
		closers = append(closers, db.Close)
	}
	return o, nil
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redactPassword hides the password of a DSN (URL or key=value form), for messages.
func redactPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return dsn
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}
