package smp

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/signpost-project/signpost/identifier"
)

// Several SMP nodes may share one repository (PostgreSQL): each keeps its own cache of hot documents, so a write
// committed by one node must evict what the others cached of it. The repository announces every committed write
// transaction; Follow applies the announcements of the other nodes.

// Change is what one committed write transaction of another node changed.
type Change struct {
	// Participants whose stored documents (any flavour, group or metadata) changed.
	Participants []identifier.ID
	// All: anything may have changed (a bulk change, an import, a re-signing, a new signing key or layout).
	All bool
	// Outbox: the transaction recorded SML registration intents.
	Outbox bool
}

// ChangeFeed is how a shared repository announces the write transactions of the other nodes (smp/pgrepo
// implements it over LISTEN/NOTIFY). Watch calls changed for each of them, in commit order, until ctx ends; it
// calls reconnected each time it (re)starts listening, since announcements may have been missed meanwhile. Both
// run on Watch's goroutine, one at a time. The announcement of a transaction arrives after it committed, and a
// snapshot read once it arrived sees that commit.
type ChangeFeed interface {
	Watch(ctx context.Context, changed func(Change), reconnected func())
}

// Follow applies the changes of the other nodes to this node's cache until ctx ends: it drops the documents of
// the participants they changed (everything on Change.All, and on every reconnection of the feed), and wakes the
// SML registrar when they recorded intents. A read racing with a change never caches the older document: the
// cache refuses a fill that started before an eviction (see cache). On Change.All and on reconnection it also
// follows a signing key switched by another node (SyncKey), calling keySwitched (when not nil) with the new key.
func (s *Service) Follow(ctx context.Context, feed ChangeFeed, keySwitched func(crypto.Signer, []*x509.Certificate)) {
	sync := func() {
		key, chain, err := s.SyncKey(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("following the signing key of the other nodes", "err", err)
		case key != nil && keySwitched != nil:
			keySwitched(key, chain)
		}
	}
	feed.Watch(ctx, func(c Change) {
		s.m.remoteChanges.Inc()
		if c.All {
			s.cache.clear()
			sync()
		} else if len(c.Participants) > 0 {
			ps := make([]string, len(c.Participants))
			for i, p := range c.Participants {
				ps[i] = p.String()
			}
			s.cache.evict(ps)
		}
		if c.Outbox {
			s.kickIntents()
		}
	}, func() {
		s.cache.clear()
		s.kickIntents()
		sync()
	})
}

// CachedDocuments is how many documents the cache of hot documents holds now.
func (s *Service) CachedDocuments() int { return s.cache.size() }

// SyncKey makes the store's active signing key this node's, when another node on the shared store switched keys
// (a rekey or a scheduled switch there): the key is loaded with Options.LoadKey from this node's data directory,
// where the operator copied the key files (KeyFiles name them). It also sets Stale to what the store says: whether
// documents remain to be re-signed or re-rendered. It returns the new key and chain when the key changed (nil
// otherwise), so the caller can switch the SML client certificate too.
func (s *Service) SyncKey(ctx context.Context) (crypto.Signer, []*x509.Certificate, error) {
	s.staleMu.Lock()
	resigned := s.resigned
	s.staleMu.Unlock()
	st, layout, err := s.readSigningState(ctx)
	if err != nil {
		return nil, nil, asError("read signing state", err)
	}
	// The store says whether documents remain to be re-signed (the leader's re-signer clears it when done), unless
	// a Resign of this node finished since the read: it knows better.
	s.staleMu.Lock()
	if s.resigned == resigned {
		s.stale.Store(st.Pending || (layout != nil && string(layout) != s.layout))
	}
	s.staleMu.Unlock()
	cur := s.keys.Load()
	if st.Generation <= cur.gen || st.Fingerprint == "" {
		return nil, nil, nil
	}
	if st.Fingerprint == cur.fingerprint {
		// Same key, a later generation (another node started with it first): adopt the generation.
		s.commitMu.Lock()
		next := *cur
		next.gen = st.Generation
		s.keys.Store(&next)
		s.commitMu.Unlock()
		s.m.generation.Set(float64(st.Generation))
		return nil, nil, nil
	}
	if st.Files == nil || s.loadKey == nil {
		return nil, nil, Internal("follow the signing key", fmt.Errorf("another node switched to the signing key %q (generation %d), which "+
			"this node cannot load: configure it in signing: on every node", st.Subject, st.Generation))
	}
	key, chain, err := s.loadKey(*st.Files)
	if err == nil && Fingerprint(chain[0]) != st.Fingerprint {
		err = fmt.Errorf("the key files %s and %s hold another certificate than the active one (%s)", st.Files.Cert, st.Files.Key, st.Subject)
	}
	if err != nil {
		return nil, nil, Internal("follow the signing key", fmt.Errorf("another node switched to the signing key %q (generation %d); copy its "+
			"files %s and %s into this node's data directory: %w", st.Subject, st.Generation, st.Files.Cert, st.Files.Key, err))
	}
	next, err := newKeys(st.Generation, key, chain)
	if err != nil {
		return nil, nil, Internal("follow the signing key", err)
	}
	s.commitMu.Lock()
	if s.keys.Load().gen < next.gen {
		s.keys.Store(next)
	}
	s.commitMu.Unlock()
	s.m.generation.Set(float64(next.gen))
	s.log.Info("signing key switched by another node: this node signs with it too", "generation", next.gen, "subject", st.Subject)
	return key, chain, nil
}

// NeedsResign reads from the store whether documents remain to be re-signed or re-rendered (a key switched on any
// node, or a layout change), for the node that runs the re-signer.
func (s *Service) NeedsResign(ctx context.Context) (bool, error) {
	st, layout, err := s.readSigningState(ctx)
	if err != nil {
		return false, asError("read signing state", err)
	}
	return st.Pending || (layout != nil && string(layout) != s.layout), nil
}

// readSigningState reads the store's signing state and layout setting in one snapshot.
func (s *Service) readSigningState(ctx context.Context) (st signingState, layout []byte, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		var err error
		if st, err = readSigning(tx); err != nil {
			return err
		}
		layout, err = tx.Setting(settingLayout)
		return err
	})
	return st, layout, err
}
