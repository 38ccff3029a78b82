// Package boltrepo implements the SMP's repository (smp.Repository) on the embedded bbolt store. The key layout
// lives here and nowhere else:
//
//	smp.groups     participant -> service group (smp.MarshalGroup)
//	smp.versions   participant -> version, uint64 big-endian (kept after a delete)
//	smp.metadata   participant NUL document type -> service metadata (smp.MarshalMetadata)
//	smp.documents  flavour byte, participant NUL document type ("" for the group) -> stored document
//	smp.users      name -> user (JSON)
//	smp.tokens     SHA-256 of the token -> token (JSON)
//	smp.state      setting name -> value
//	console.sessions  the web console's sessions (sessions.go)
//
// Identifiers are stored in their canonical form ("scheme::value").
package boltrepo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/store"
)

// Repo is an smp.Repository on a *store.DB.
type Repo struct{ DB *store.DB }

// New returns the repository on db.
func New(db *store.DB) *Repo { return &Repo{DB: db} }

// View runs fn in a read transaction.
func (r *Repo) View(_ context.Context, fn func(smp.ReadTx) error) error {
	return r.DB.View(func(t *store.Tx) error { return fn(tx{t}) })
}

// Update runs fn in a write transaction, committed durably or not at all.
func (r *Repo) Update(_ context.Context, fn func(smp.WriteTx) error) error {
	return r.DB.Update(func(t *store.Tx) error { return fn(tx{t}) })
}

type tx struct{ t *store.Tx }

func groupKey(p identifier.ID) []byte { return []byte(p.String()) }

func metadataPrefix(p identifier.ID) []byte { return append([]byte(p.String()), 0) }

func metadataKey(p, d identifier.ID) []byte { return append(metadataPrefix(p), d.String()...) }

func docKey(k smp.DocKey) []byte {
	b := []byte{byte(k.Flavour)}
	b = append(b, k.Participant.String()...)
	b = append(b, 0)
	if !k.DocType.IsZero() {
		b = append(b, k.DocType.String()...)
	}
	return b
}

func (x tx) Group(p identifier.ID) (smp.ServiceGroup, uint64, bool, error) {
	var v uint64
	if b := x.t.Get(store.SMPVersions, groupKey(p)); len(b) == 8 {
		v = binary.BigEndian.Uint64(b)
	}
	b := x.t.Get(store.SMPGroups, groupKey(p))
	if b == nil {
		return smp.ServiceGroup{}, v, false, nil
	}
	sg, err := smp.UnmarshalGroup(b)
	return sg, v, err == nil, err
}

func (x tx) Metadata(p, d identifier.ID) (smp.ServiceMetadata, bool, error) {
	b := x.t.Get(store.SMPMetadata, metadataKey(p, d))
	if b == nil {
		return smp.ServiceMetadata{}, false, nil
	}
	sm, err := smp.UnmarshalMetadata(b)
	return sm, err == nil, err
}

func (x tx) MetadataOf(p identifier.ID) ([]smp.ServiceMetadata, error) {
	var out []smp.ServiceMetadata
	err := x.t.Scan(store.SMPMetadata, metadataPrefix(p), nil, func(_, v []byte) error {
		sm, err := smp.UnmarshalMetadata(v)
		out = append(out, sm)
		return err
	})
	return out, err
}

func (x tx) Groups(after string, limit int) ([]smp.GroupInfo, error) {
	var start []byte
	if after != "" {
		start = []byte(after)
	}
	var out []smp.GroupInfo
	err := x.t.Scan(store.SMPGroups, nil, start, func(k, v []byte) error {
		if start != nil && bytes.Equal(k, start) {
			return nil
		}
		if len(out) == limit {
			return store.ErrStop
		}
		sg, err := smp.UnmarshalGroup(v)
		if err != nil {
			return err
		}
		out = append(out, smp.GroupInfo{Group: sg, ServiceMetadata: x.t.Count(store.SMPMetadata, append(bytes.Clone(k), 0))})
		return nil
	})
	return out, err
}

func (x tx) Counts() (int, int, error) {
	return x.t.Count(store.SMPGroups, nil), x.t.Count(store.SMPMetadata, nil), nil
}

func (x tx) Document(k smp.DocKey) ([]byte, error) {
	return x.t.Get(store.SMPDocuments, docKey(k)), nil
}

func (x tx) Setting(name string) ([]byte, error) { return x.t.Get(store.SMPState, []byte(name)), nil }

func (x tx) User(name string) (*smp.User, error) {
	b := x.t.Get(store.SMPUsers, []byte(name))
	if b == nil {
		return nil, nil
	}
	var u smp.User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, smp.Internal("decode stored user", err)
	}
	return &u, nil
}

func (x tx) Users() ([]smp.User, error) {
	var out []smp.User
	err := x.t.Scan(store.SMPUsers, nil, nil, func(_, v []byte) error {
		var u smp.User
		if err := json.Unmarshal(v, &u); err != nil {
			return smp.Internal("decode stored user", err)
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

func (x tx) Token(hash []byte) (*smp.TokenInfo, error) {
	b := x.t.Get(store.SMPTokens, hash)
	if b == nil {
		return nil, nil
	}
	var ti smp.TokenInfo
	if err := json.Unmarshal(b, &ti); err != nil {
		return nil, smp.Internal("decode stored token", err)
	}
	return &ti, nil
}

func (x tx) Tokens() ([]smp.TokenInfo, error) {
	var out []smp.TokenInfo
	err := x.t.Scan(store.SMPTokens, nil, nil, func(_, v []byte) error {
		var ti smp.TokenInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return smp.Internal("decode stored token", err)
		}
		out = append(out, ti)
		return nil
	})
	return out, err
}

func (x tx) PutGroup(sg smp.ServiceGroup, version uint64) error {
	b, err := smp.MarshalGroup(&sg)
	if err != nil {
		return err
	}
	if err := x.t.Put(store.SMPGroups, groupKey(sg.Participant), b); err != nil {
		return err
	}
	return x.SetVersion(sg.Participant, version)
}

func (x tx) DeleteGroup(p identifier.ID, version uint64) error {
	if err := x.t.Delete(store.SMPGroups, groupKey(p)); err != nil {
		return err
	}
	return x.SetVersion(p, version)
}

func (x tx) SetVersion(p identifier.ID, version uint64) error {
	return x.t.Put(store.SMPVersions, groupKey(p), binary.BigEndian.AppendUint64(nil, version))
}

func (x tx) PutMetadata(sm smp.ServiceMetadata) error {
	b, err := smp.MarshalMetadata(&sm)
	if err != nil {
		return err
	}
	return x.t.Put(store.SMPMetadata, metadataKey(sm.Participant, sm.DocumentType), b)
}

func (x tx) DeleteMetadata(p, d identifier.ID) error {
	return x.t.Delete(store.SMPMetadata, metadataKey(p, d))
}

func (x tx) PutDocument(k smp.DocKey, stored []byte) error {
	return x.t.Put(store.SMPDocuments, docKey(k), stored)
}

func (x tx) DeleteDocument(k smp.DocKey) error { return x.t.Delete(store.SMPDocuments, docKey(k)) }

func (x tx) PutSetting(name string, value []byte) error {
	return x.t.Put(store.SMPState, []byte(name), value)
}

func (x tx) PutUser(u smp.User) error {
	b, err := json.Marshal(u)
	if err != nil {
		return smp.Internal("encode user", err)
	}
	return x.t.Put(store.SMPUsers, []byte(u.Name), b)
}

func (x tx) DeleteUser(name string) error {
	var keys [][]byte
	err := x.t.Scan(store.SMPTokens, nil, nil, func(k, v []byte) error {
		var ti smp.TokenInfo
		if err := json.Unmarshal(v, &ti); err != nil {
			return smp.Internal("decode stored token", err)
		}
		if ti.User == name {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := x.t.Delete(store.SMPTokens, k); err != nil {
			return err
		}
	}
	return x.t.Delete(store.SMPUsers, []byte(name))
}

func (x tx) PutToken(t smp.TokenInfo) error {
	hash, err := hex.DecodeString(t.Hash)
	if err != nil || len(hash) != 32 {
		return smp.Internal("store token", err)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return smp.Internal("encode token", err)
	}
	return x.t.Put(store.SMPTokens, hash, b)
}

func (x tx) DeleteToken(id string) (int, error) {
	prefix, err := hex.DecodeString(id)
	if err != nil {
		return 0, nil
	}
	var keys [][]byte
	if err := x.t.Scan(store.SMPTokens, prefix, nil, func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := x.t.Delete(store.SMPTokens, k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

var _ smp.Repository = (*Repo)(nil)
