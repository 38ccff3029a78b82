package boltrepo

import (
	"context"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/store"
)

// Sessions keeps the SMP console's sessions (internal/console.Store) in console.sessions:
//
//	console.sessions  hex SHA-256 of the session cookie -> session (console.MarshalSession)
type Sessions struct{ DB *store.DB }

// PutSession stores s under key.
func (r Sessions) PutSession(_ context.Context, key string, s console.Session) error {
	b, err := console.MarshalSession(s)
	if err != nil {
		return err
	}
	return r.DB.Update(func(t *store.Tx) error { return t.Put(store.ConsoleSessions, []byte(key), b) })
}

// GetSession returns the session stored under key.
func (r Sessions) GetSession(_ context.Context, key string) (s console.Session, ok bool, err error) {
	err = r.DB.View(func(t *store.Tx) error {
		b := t.Get(store.ConsoleSessions, []byte(key))
		if b == nil {
			return nil
		}
		ok = true
		s, err = console.UnmarshalSession(b)
		return err
	})
	return s, ok, err
}

// DeleteSession removes the session stored under key.
func (r Sessions) DeleteSession(_ context.Context, key string) error {
	return r.DB.Update(func(t *store.Tx) error { return t.Delete(store.ConsoleSessions, []byte(key)) })
}

// DeleteSessionsSeenBefore deletes the sessions idle since before t (internal/console.Store).
func (r Sessions) DeleteSessionsSeenBefore(_ context.Context, t time.Time) (n int, err error) {
	err = r.DB.Update(func(tx *store.Tx) error {
		var stale [][]byte
		err := tx.Scan(store.ConsoleSessions, nil, nil, func(k, v []byte) error {
			if s, err := console.UnmarshalSession(v); err != nil || s.Seen.Before(t) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Delete(store.ConsoleSessions, k); err != nil {
				return err
			}
		}
		n = len(stale)
		return nil
	})
	return n, err
}
