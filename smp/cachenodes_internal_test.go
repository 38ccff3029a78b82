package smp

import (
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// TestCacheEvictOrder: the orders in which another node's change (evict) meets this node's reads (get, store
// read, fill) and writes (commit, apply) never leave an older document cached.
func TestCacheEvictOrder(t *testing.T) {
	p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:1"}
	other := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:2"}
	group := cacheKey(DocKey{Flavour: PEPPOL, Participant: p})
	meta := cacheKey(DocKey{Flavour: SMP2, Participant: p, DocType: identifier.ID{Scheme: "busdox-docid-qns", Value: "x::y"}})
	kept := cacheKey(DocKey{Flavour: PEPPOL, Participant: other})
	v1 := newDoc(PEPPOL, []byte("v1"), 1, time.Now())
	v2 := newDoc(PEPPOL, []byte("v2"), 1, time.Now())

	c := newCache(10)
	// Every flavour and document of a changed participant goes; other participants stay.
	_, seq := c.get(group)
	c.fill(group, v1, seq)
	c.fill(meta, v1, seq)
	c.fill(kept, v1, seq)
	c.evict([]string{p.String()})
	if d, _ := c.get(group); d != nil {
		t.Error("the group document stayed cached after its participant changed on another node")
	}
	if d, _ := c.get(meta); d != nil {
		t.Error("a metadata document stayed cached after its participant changed on another node")
	}
	if d, _ := c.get(kept); d == nil {
		t.Error("another participant's document was evicted")
	}

	// A read that started before the eviction (its store snapshot may predate the other node's commit) does not
	// fill the cache after it.
	_, seq = c.get(group)
	c.evict([]string{p.String()})
	c.fill(group, v1, seq)
	if d, _ := c.get(group); d != nil {
		t.Error("a read that started before an eviction filled the cache with what it read")
	}

	// A local write whose commit saw another node's change arrive drops its entries rather than replacing them:
	// the other node's later version may be cached already.
	_, seq = c.get(group)
	c.fill(group, v1, seq)
	remote := c.remoteSeq()
	c.evict([]string{other.String()}) // another node's change arrives during the local commit
	_, seq = c.get(group)
	c.fill(group, v2, seq) // ... and a reader caches what that node committed
	c.apply([]cacheOp{{key: group, doc: v1}}, remote)
	if d, _ := c.get(group); d != nil {
		t.Errorf("a local write replaced a document cached after another node's change: %s", d.Body)
	}
	// Without a change of another node, a local write replaces its entries as before.
	_, seq = c.get(group)
	c.fill(group, v1, seq)
	c.apply([]cacheOp{{key: group, doc: v2}}, c.remoteSeq())
	if d, _ := c.get(group); d == nil || string(d.Body) != "v2" {
		t.Errorf("a local write did not replace its cached document: %v", d)
	}
	// Clearing empties the participant index too; a bounded cache keeps its bound.
	c.clear()
	if len(c.m) != 0 || len(c.byP) != 0 {
		t.Errorf("clear left %d documents, %d participants", len(c.m), len(c.byP))
	}
	small := newCache(2)
	for i := range 5 {
		k := cacheKey(DocKey{Flavour: PEPPOL, Participant: identifier.ID{Scheme: "s", Value: string(rune('a' + i))}})
		_, seq := small.get(k)
		small.fill(k, v1, seq)
	}
	if len(small.m) != 2 || len(small.byP) != 2 {
		t.Errorf("bounded cache: %d documents, %d participants, want 2 and 2", len(small.m), len(small.byP))
	}
}
