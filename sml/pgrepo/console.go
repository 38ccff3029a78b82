package pgrepo

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/sml"
)

// ConsoleStore keeps the SML console's users in the table console_users and its sessions in console_sessions
// (internal/console.SQLSessions, as the SMP's). It implements sml.ConsoleStore.
type ConsoleStore struct {
	// The sessions, kept as the SMP's are (internal/console.SQLSessions); its DB holds the users too.
	console.SQLSessions
}

// NewConsoleStore returns the console store on db.
func NewConsoleStore(db *pgstore.DB) ConsoleStore { return ConsoleStore{console.SQLSessions{DB: db}} }

// ConsoleUser returns a user; ok is false for an unknown one.
func (c ConsoleStore) ConsoleUser(ctx context.Context, name string) (u sml.ConsoleUser, ok bool, err error) {
	err = c.DB.View(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT name, password, created FROM console_users WHERE name = $1", name).
			Scan(&u.Name, &u.Password, &u.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	u.Created = u.Created.UTC()
	return u, ok, err
}

// SetConsoleUser creates a user or replaces its password hash (keeping its creation time).
func (c ConsoleStore) SetConsoleUser(ctx context.Context, name, hash string, now time.Time) (created bool, err error) {
	err = c.DB.Update(ctx, func(tx pgx.Tx) error {
		// xmax = 0 only on a row this statement inserted (an updated row has the updating transaction's ID).
		return tx.QueryRow(ctx, `INSERT INTO console_users (name, password, created) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET password = excluded.password RETURNING xmax = 0`, name, hash, now).Scan(&created)
	})
	return created, err
}

// DeleteConsoleUser removes a user; its sessions end at their next request (the console checks the user).
func (c ConsoleStore) DeleteConsoleUser(ctx context.Context, name string) (found bool, err error) {
	err = c.DB.Update(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM console_users WHERE name = $1", name)
		found = tag.RowsAffected() > 0
		return err
	})
	return found, err
}

// ConsoleUsers lists the users by name.
func (c ConsoleStore) ConsoleUsers(ctx context.Context) ([]sml.ConsoleUser, error) {
	var out []sml.ConsoleUser
	err := c.DB.View(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT name, password, created FROM console_users ORDER BY name")
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (sml.ConsoleUser, error) {
			var u sml.ConsoleUser
			err := r.Scan(&u.Name, &u.Password, &u.Created)
			u.Created = u.Created.UTC()
			return u, err
		})
		return err
	})
	return out, err
}
