package smp

import (
	"context"

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
// cache refuses a fill that started before an eviction (see cache).
func (s *Service) Follow(ctx context.Context, feed ChangeFeed) {
	feed.Watch(ctx, func(c Change) {
		s.m.remoteChanges.Inc()
		if c.All {
			s.cache.clear()
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
	})
}

// CachedDocuments is how many documents the cache of hot documents holds now.
func (s *Service) CachedDocuments() int { return s.cache.size() }
