package console

import (
	"context"
	"time"

	"github.com/signpost-project/signpost/store"
)

// StoreSessions keeps sessions (the session half of Store) in a server's embedded store, bucket console.sessions:
//
//	console.sessions  hex SHA-256 of the session cookie -> session (MarshalSession)
//
// The SMP (smp/boltrepo) and the SML (sml.ConsoleStore) both use it.
type StoreSessions struct{ DB *store.DB }

// PutSession stores s under key.
func (r StoreSessions) PutSession(_ context.Context, key string, s Session) error {
	b, err := MarshalSession(s)
	if err != nil {
		return err
	}
	return r.DB.Update(func(t *store.Tx) error { return t.Put(store.ConsoleSessions, []byte(key), b) })
}

// GetSession returns the session stored under key.
func (r StoreSessions) GetSession(_ context.Context, key string) (s Session, ok bool, err error) {
	err = r.DB.View(func(t *store.Tx) error {
		b := t.Get(store.ConsoleSessions, []byte(key))
		if b == nil {
			return nil
		}
		ok = true
		s, err = UnmarshalSession(b)
		return err
	})
	return s, ok, err
}

// DeleteSession removes the session stored under key.
func (r StoreSessions) DeleteSession(_ context.Context, key string) error {
	return r.DB.Update(func(t *store.Tx) error { return t.Delete(store.ConsoleSessions, []byte(key)) })
}

// DeleteSessionsSeenBefore deletes the sessions idle since before t; an unreadable one goes too.
func (r StoreSessions) DeleteSessionsSeenBefore(_ context.Context, t time.Time) (n int, err error) {
	err = r.DB.Update(func(tx *store.Tx) error {
		var stale [][]byte
		err := tx.Scan(store.ConsoleSessions, nil, nil, func(k, v []byte) error {
			if s, err := UnmarshalSession(v); err != nil || s.Seen.Before(t) {
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
