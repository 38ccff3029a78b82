package pgrepo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/smp"
)

// Several SMP nodes on one database: every write transaction that changes what a node may cache (stored documents,
// the signing key or the layout) or records SML intents announces it on the channel smp_changes, from inside the
// transaction, so that PostgreSQL delivers it to the other nodes when, and only if, it commits (in commit order).
// Watch (smp.ChangeFeed) hands the announcements of the other nodes to smp.Service.Follow.

// Channel is the LISTEN/NOTIFY channel of the SMP's changes.
const Channel = "smp_changes"

// maxPayload bounds an announcement (PostgreSQL's limit is 8000 bytes): a transaction that changed more
// participants than fit says "everything" instead.
const maxPayload = 7000

// notice is an announcement as sent on Channel (JSON).
type notice struct {
	// Node is the announcing repository (Repo.Node): a node skips its own announcements (its cache is updated by
	// the write itself).
	Node string `json:"n"`
	// P are the participants whose documents changed (canonical form).
	P []string `json:"p,omitempty"`
	// All: drop every cached document.
	All bool `json:"all,omitempty"`
	// Outbox: SML intents were recorded.
	Outbox bool `json:"o,omitempty"`
}

// changes collects what a write transaction changed.
type changes struct {
	docs   map[string]struct{}
	all    bool
	outbox bool
}

func (c *changes) doc(p identifier.ID) {
	if c == nil {
		return
	}
	if c.docs == nil {
		c.docs = map[string]struct{}{}
	}
	c.docs[p.String()] = struct{}{}
}

func (c *changes) setting(name string) {
	// The signing state (a new key, a finished re-signing) and the layout (flavours, public URL) change every
	// document; other settings (SML state, key schedule) change none.
	if c != nil && (name == "signing" || name == "layout") {
		c.all = true
	}
}

func (c *changes) registration(r smp.Registration) {
	if c != nil && r.State == smp.RegPending {
		c.outbox = true
	}
}

// payload is the announcement of the changes; "" when there is nothing to announce.
func (c *changes) payload(node string) string {
	if c == nil || (len(c.docs) == 0 && !c.all && !c.outbox) {
		return ""
	}
	n := notice{Node: node, All: c.all, Outbox: c.outbox}
	if !c.all {
		size := 0
		for p := range c.docs {
			size += len(p) + 3
			if size > maxPayload {
				n.All = true
				break
			}
		}
		if !n.All {
			n.P = make([]string, 0, len(c.docs))
			for p := range c.docs {
				n.P = append(n.P, p)
			}
			sort.Strings(n.P)
		}
	}
	b, err := json.Marshal(n)
	if err != nil || len(b) > maxPayload {
		b, _ = json.Marshal(notice{Node: node, All: true, Outbox: c.outbox})
	}
	return string(b)
}

// announce sends the transaction's announcement, if any, from inside it.
func (r *Repo) announce(ctx context.Context, t pgx.Tx, c *changes) error {
	p := c.payload(r.Node())
	if p == "" {
		return nil
	}
	return dbErr("announce the change to the other nodes", pgstore.Notify(ctx, t, Channel, p))
}

// Node is the identity of this repository in its announcements: random, one per Repo (so per process, or per
// App in a test that runs two nodes in one process).
func (r *Repo) Node() string {
	r.nodeOnce.Do(func() {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		r.node = hex.EncodeToString(b)
	})
	return r.node
}

// Watch implements smp.ChangeFeed: it listens on Channel on a connection of its own (reconnecting after a loss)
// and calls changed for each announcement of another node, reconnected each time it starts listening.
func (r *Repo) Watch(ctx context.Context, changed func(smp.Change), reconnected func()) {
	self := r.Node()
	r.DB.Listen(ctx, Channel, func(payload string) {
		var n notice
		if err := json.Unmarshal([]byte(payload), &n); err != nil {
			changed(smp.Change{All: true}) // not ours to read: be safe
			return
		}
		if n.Node == self {
			return
		}
		c := smp.Change{All: n.All, Outbox: n.Outbox}
		if !n.All {
			c.Participants = make([]identifier.ID, len(n.P))
			for i, p := range n.P {
				c.Participants[i] = parseID(p)
			}
		}
		changed(c)
	}, reconnected)
}

var _ smp.ChangeFeed = (*Repo)(nil)
