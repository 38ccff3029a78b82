package boltrepo

import (
	"context"
	"encoding/json"
	"time"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/store"
)

// ConsoleStore keeps the SML console's users and sessions in the store:
//
//	sml.users         name -> sml.ConsoleUser (JSON)
//	console.sessions  hex SHA-256 of the session cookie -> session (internal/console JSON)
//
// It implements internal/console.Store.
type ConsoleStore struct {
	// The sessions, kept as the SMP's are (internal/console.StoreSessions); its DB holds the users too.
	console.StoreSessions
}

// NewConsoleStore returns the console store on db.
func NewConsoleStore(db *store.DB) ConsoleStore { return ConsoleStore{console.StoreSessions{DB: db}} }

// ConsoleUser returns a user; ok is false for an unknown one.
func (c ConsoleStore) ConsoleUser(_ context.Context, name string) (u sml.ConsoleUser, ok bool, err error) {
	err = c.DB.View(func(t *store.Tx) error {
		b := t.Get(store.SMLUsers, []byte(name))
		if b == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(b, &u)
	})
	return u, ok, err
}

// SetConsoleUser creates a user or replaces its password hash (keeping its creation time).
func (c ConsoleStore) SetConsoleUser(_ context.Context, name, hash string, now time.Time) (created bool, err error) {
	err = c.DB.Update(func(t *store.Tx) error {
		u := sml.ConsoleUser{Name: name, Password: hash, Created: now}
		if b := t.Get(store.SMLUsers, []byte(name)); b != nil {
			var old sml.ConsoleUser
			if err := json.Unmarshal(b, &old); err == nil {
				u.Created = old.Created
			}
		} else {
			created = true
		}
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		return t.Put(store.SMLUsers, []byte(name), b)
	})
	return created, err
}

// DeleteConsoleUser removes a user; its sessions end at their next request (the console checks the user).
func (c ConsoleStore) DeleteConsoleUser(_ context.Context, name string) (found bool, err error) {
	err = c.DB.Update(func(t *store.Tx) error {
		found = t.Has(store.SMLUsers, []byte(name))
		return t.Delete(store.SMLUsers, []byte(name))
	})
	return found, err
}

// ConsoleUsers lists the users by name (hashes included: for the command's listing, which prints names only).
func (c ConsoleStore) ConsoleUsers(_ context.Context) ([]sml.ConsoleUser, error) {
	var out []sml.ConsoleUser
	err := c.DB.View(func(t *store.Tx) error {
		return t.Scan(store.SMLUsers, nil, nil, func(_, v []byte) error {
			var u sml.ConsoleUser
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}
