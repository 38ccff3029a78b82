package pgrepo

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/internal/pgstore"
)

// Sessions keeps the SMP console's sessions (the session half of internal/console.Store) in the table
// console_sessions, so that every node on the database knows every session.
type Sessions struct{ DB *pgstore.DB }

// PutSession stores s under key.
func (r Sessions) PutSession(ctx context.Context, key string, s console.Session) error {
	_, err := r.DB.Pool.Exec(ctx, `INSERT INTO console_sessions (key, user_name, admin, since, seen)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE
		SET user_name = EXCLUDED.user_name, admin = EXCLUDED.admin, since = EXCLUDED.since, seen = EXCLUDED.seen`,
		key, s.User, s.Admin, s.Since.UTC(), s.Seen.UTC())
	return dbErr("store console session", err)
}

// GetSession returns the session stored under key.
func (r Sessions) GetSession(ctx context.Context, key string) (console.Session, bool, error) {
	var s console.Session
	err := r.DB.Pool.QueryRow(ctx, `SELECT user_name, admin, since, seen FROM console_sessions WHERE key = $1`, key).
		Scan(&s.User, &s.Admin, &s.Since, &s.Seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return console.Session{}, false, nil
	}
	if err != nil {
		return console.Session{}, false, dbErr("read console session", err)
	}
	s.Since, s.Seen = s.Since.UTC(), s.Seen.UTC()
	return s, true, nil
}

// DeleteSession removes the session stored under key.
func (r Sessions) DeleteSession(ctx context.Context, key string) error {
	_, err := r.DB.Pool.Exec(ctx, `DELETE FROM console_sessions WHERE key = $1`, key)
	return dbErr("delete console session", err)
}

// DeleteSessionsSeenBefore deletes the sessions idle since before t.
func (r Sessions) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := r.DB.Pool.Exec(ctx, `DELETE FROM console_sessions WHERE seen < $1`, t)
	if err != nil {
		return 0, dbErr("delete idle console sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

var _ console.Store = Sessions{}
