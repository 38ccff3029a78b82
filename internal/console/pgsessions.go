package console

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/pgstore"
)

// SQLSessions keeps sessions (the session half of Store) in the table console_sessions of a PostgreSQL backend's
// schema, so that every node on the database knows every session:
//
//	console_sessions (key text COLLATE "C" PRIMARY KEY, user_name text, admin boolean, since timestamptz,
//	                  seen timestamptz), indexed on seen
//
// The key is the hex SHA-256 of the session cookie. The SMP (smp/pgrepo) and the SML (sml/pgrepo) both use it,
// each in its own schema; their migrations create the table. A database that cannot be reached is
// pgstore.ErrUnavailable (the console answers 503).
type SQLSessions struct{ DB *pgstore.DB }

// PutSession stores s under key.
func (r SQLSessions) PutSession(ctx context.Context, key string, s Session) error {
	return r.DB.Update(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (key, user_name, admin, since, seen)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE
			SET user_name = EXCLUDED.user_name, admin = EXCLUDED.admin, since = EXCLUDED.since, seen = EXCLUDED.seen`,
			key, s.User, s.Admin, s.Since.UTC(), s.Seen.UTC())
		return err
	})
}

// GetSession returns the session stored under key.
func (r SQLSessions) GetSession(ctx context.Context, key string) (s Session, ok bool, err error) {
	err = r.DB.View(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT user_name, admin, since, seen FROM console_sessions WHERE key = $1`, key).
			Scan(&s.User, &s.Admin, &s.Since, &s.Seen)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	s.Since, s.Seen = s.Since.UTC(), s.Seen.UTC()
	return s, ok, err
}

// DeleteSession removes the session stored under key.
func (r SQLSessions) DeleteSession(ctx context.Context, key string) error {
	return r.DB.Update(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE key = $1`, key)
		return err
	})
}

// DeleteSessionsSeenBefore deletes the sessions idle since before t.
func (r SQLSessions) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (n int, err error) {
	err = r.DB.Update(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE seen < $1`, t)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

var _ Store = SQLSessions{}
