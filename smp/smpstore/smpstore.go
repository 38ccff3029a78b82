// Package smpstore implements the SMP's repository (smp.Repository) on the embedded store.
package smpstore

import (
	"errors"

	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/store"
)

// Repo is an smp.Repository on a *store.DB.
type Repo struct{ DB *store.DB }

// New returns the repository on db.
func New(db *store.DB) *Repo { return &Repo{DB: db} }

var buckets = map[smp.Table]store.Bucket{
	smp.TableGroups:    store.SMPGroups,
	smp.TableMetadata:  store.SMPMetadata,
	smp.TableDocuments: store.SMPDocuments,
	smp.TableState:     store.SMPState,
	smp.TableUsers:     store.SMPUsers,
	smp.TableTokens:    store.SMPTokens,
}

type tx struct{ t *store.Tx }

func (x tx) Get(t smp.Table, key []byte) []byte              { return x.t.Get(buckets[t], key) }
func (x tx) Put(t smp.Table, key, value []byte) error        { return x.t.Put(buckets[t], key, value) }
func (x tx) Delete(t smp.Table, key []byte) error            { return x.t.Delete(buckets[t], key) }
func (x tx) DeletePrefix(t smp.Table, p []byte) (int, error) { return x.t.DeletePrefix(buckets[t], p) }
func (x tx) Scan(t smp.Table, prefix, start []byte, fn func(k, v []byte) error) error {
	return x.t.Scan(buckets[t], prefix, start, func(k, v []byte) error {
		if err := fn(k, v); err != nil {
			if errors.Is(err, smp.ErrStop) {
				return store.ErrStop
			}
			return err
		}
		return nil
	})
}

// Update runs fn in a write transaction.
func (r *Repo) Update(fn func(smp.Tx) error) error {
	return r.DB.Update(func(t *store.Tx) error { return fn(tx{t}) })
}

// View runs fn in a read transaction.
func (r *Repo) View(fn func(smp.Tx) error) error {
	return r.DB.View(func(t *store.Tx) error { return fn(tx{t}) })
}
