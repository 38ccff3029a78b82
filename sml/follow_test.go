package sml

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store/storetest"
)

// The follower is tested with two Services on one bbolt store (two nodes sharing one repository, as with
// sml/pgrepo) and a ChangeFeed over a channel that the test drives: what the nodes' commits notify, and when.

type note struct {
	zone   string
	serial uint32
}

// chanFeed is a ChangeFeed over channels: notes become changed calls, reconnects reconnected calls.
type chanFeed struct {
	notes     chan note
	reconnect chan struct{}
	// quiet leaves out the reconnected call at the start of Watch (a test of lost notifications: the follower then
	// looks at nothing until told).
	quiet bool
}

func newChanFeed() *chanFeed {
	return &chanFeed{notes: make(chan note, 10000), reconnect: make(chan struct{}, 1)}
}

func (f *chanFeed) Watch(ctx context.Context, changed func(string, uint32), reconnected func()) {
	if !f.quiet {
		reconnected()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-f.notes:
			changed(n.zone, n.serial)
		case <-f.reconnect:
			reconnected()
		}
	}
}

// notify is what a node's commit notifies (pgrepo: pg_notify after the commit).
func (f *chanFeed) notify(c zone.Change) { f.notes <- note{c.Zone, c.To} }

// twoNodes returns nodes a and b on one store; each node's commits are notified on the other's feed when notify
// is set.
func twoNodes(t *testing.T, o Options, notify bool) (a, b *fixture, fa, fb *chanFeed) {
	t.Helper()
	db := storetest.Open(t)
	fa, fb = newChanFeed(), newChanFeed()
	oa, ob := o, o
	if notify {
		oa.OnChange = func(c zone.Change) {
			if c.From != c.To {
				fb.notify(c)
			}
		}
		ob.OnChange = func(c zone.Change) {
			if c.From != c.To {
				fa.notify(c)
			}
		}
	}
	a = newFixtureOn(t, db, oa)
	b = newFixtureOn(t, db, ob)
	return a, b, fa, fb
}

// follow runs f's Follow on feed until the test ends.
func (f *fixture) follow(t *testing.T, feed ChangeFeed) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.s.Follow(ctx, feed) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Follow did not return after its context ended")
		}
	})
}

// delivered returns a copy of the changes the node handed over.
func (f *fixture) delivered() []zone.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]zone.Change(nil), f.changes...)
}

// waitServes waits (10 s) until the node has handed over the zone's changes up to its committed serial.
func (f *fixture) waitServes(t *testing.T, z string) {
	t.Helper()
	want := f.serial(t, z)
	deadline := time.Now().Add(10 * time.Second)
	for !f.s.seq.handed(z, want) {
		if time.Now().After(deadline) {
			t.Fatalf("the node hands over serial %d of %s, want %d", f.s.seq.lastOf(z), z, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// chained checks that the zone's changes form one chain, each From the previous To with To after From, from
// serial from, and returns them.
func chained(t *testing.T, all []zone.Change, z string, from uint32) []zone.Change {
	t.Helper()
	var out []zone.Change
	prev := from
	for _, c := range all {
		if c.Zone != z {
			continue
		}
		if c.From != prev || !serialLess(c.From, c.To) {
			t.Fatalf("change %d of %s: %d->%d after serial %d", len(out), z, c.From, c.To, prev)
		}
		prev = c.To
		out = append(out, c)
	}
	return out
}

// TestFollowAppliesTheOtherNodesChanges: the changes node A commits are handed over on node B, once each, in order,
// equal to A's, when B's feed reports them; when the notifications are lost, the poll finds them; and a
// reconnection makes B check every zone.
func TestFollowAppliesTheOtherNodesChanges(t *testing.T) {
	a, b, _, fb := twoNodes(t, Options{FollowPoll: time.Hour}, true)
	start := a.serial(t, testZone)
	b.follow(t, fb)
	a.createSMP(t, alice, "SMP-A", "http://a.example.org")
	for i := range 20 {
		if err := a.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	b.waitServes(t, testZone)
	got, want := chained(t, b.delivered(), testZone, start), chained(t, a.delivered(), testZone, start)
	if len(got) != 21 || !reflect.DeepEqual(got, want) {
		t.Fatalf("node B handed over %d changes, want A's %d", len(got), len(want))
	}

	// A notification lost: nothing happens until a reconnection (the poll is an hour).
	fbLost := newChanFeed()
	fbLost.quiet = true
	a2, b2, _, _ := twoNodes(t, Options{FollowPoll: time.Hour}, false)
	b2.follow(t, fbLost)
	a2.createSMP(t, alice, "SMP-A", "http://a.example.org")
	time.Sleep(200 * time.Millisecond)
	if n := len(b2.delivered()); n != 0 {
		t.Fatalf("node B handed over %d changes with no notification", n)
	}
	fbLost.reconnect <- struct{}{}
	b2.waitServes(t, testZone)

	// With the poll, lost notifications are found anyway.
	a3, b3, _, fb3 := twoNodes(t, Options{FollowPoll: 50 * time.Millisecond}, false)
	start3 := a3.serial(t, testZone)
	b3.follow(t, fb3)
	a3.createSMP(t, alice, "SMP-A", "http://a.example.org")
	b3.waitServes(t, testZone)
	if got := chained(t, b3.delivered(), testZone, start3); len(got) != 1 {
		t.Fatalf("node B handed over %d changes after the poll, want 1", len(got))
	}
}

// TestWriteAfterTheOtherNodesChange: a write on node B whose change follows changes of node A that B has not
// applied (no follower runs) does not wait for ever: B reads A's changes from the journal and hands over A's
// changes and its own, in order.
func TestWriteAfterTheOtherNodesChange(t *testing.T) {
	a, b, _, _ := twoNodes(t, Options{}, false)
	start := a.serial(t, testZone)
	a.createSMP(t, alice, "SMP-A", "http://a.example.org")
	if err := a.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:2")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write on node B after changes of node A hangs")
	}
	got := chained(t, b.delivered(), testZone, start)
	if len(got) != 3 || !reflect.DeepEqual(got[:2], a.delivered()) || got[2].To != b.serial(t, testZone) {
		t.Fatalf("node B handed over %d changes: %+v", len(got), got)
	}
}

// TestFollowConcurrentWritersOnBothNodes: two writers on each node, each node following the other: both nodes hand
// over the same chain of changes, each once, up to the committed serial.
func TestFollowConcurrentWritersOnBothNodes(t *testing.T) {
	a, b, fa, fb := twoNodes(t, Options{FollowPoll: 200 * time.Millisecond}, true)
	start := a.serial(t, testZone)
	a.follow(t, fa)
	b.follow(t, fb)
	a.createSMP(t, alice, "SMP-A", "http://a.example.org")
	var wg sync.WaitGroup
	for w := range 4 {
		node := a
		if w%2 == 1 {
			node = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if err := node.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a.waitServes(t, testZone)
	b.waitServes(t, testZone)
	ca, cb := chained(t, a.delivered(), testZone, start), chained(t, b.delivered(), testZone, start)
	if len(ca) != 1+4*30 || !reflect.DeepEqual(ca, cb) {
		t.Fatalf("node A handed over %d changes, node B %d; want the same %d", len(ca), len(cb), 1+4*30)
	}
}

// TestFollowBehindTheJournal: a node whose serial is no longer in the journal (trimmed) gets one change from the
// zone's serial to itself, which makes the DNS server load the zone afresh, then follows the journal again.
func TestFollowBehindTheJournal(t *testing.T) {
	a, b, _, fb := twoNodes(t, Options{JournalSize: 3, FollowPoll: time.Hour}, true)
	a.createSMP(t, alice, "SMP-A", "http://a.example.org")
	for i := range 6 {
		if err := a.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	cur := a.serial(t, testZone)
	b.follow(t, fb) // reconnected at start: every zone checked
	b.waitServes(t, testZone)
	got := b.delivered()
	if len(got) != 1 || got[0].From != cur || got[0].To != cur {
		t.Fatalf("node B behind the journal got %+v, want one change %d->%d", got, cur, cur)
	}
	if err := a.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:x")); err != nil {
		t.Fatal(err)
	}
	b.waitServes(t, testZone)
	if got := chained(t, b.delivered()[1:], testZone, cur); len(got) != 1 {
		t.Fatalf("after the reload, node B handed over %d changes, want 1", len(got))
	}
}

// TestFollowRemindsAConsumerThatIsBehind: when the consumer serves an older serial than the last handed over (its
// reload failed while the store was unreachable), the poll hands over a change from the last serial to itself,
// which makes the DNS server load the zone afresh; once it serves the last serial, nothing more.
func TestFollowRemindsAConsumerThatIsBehind(t *testing.T) {
	var mu sync.Mutex
	var servedSerial uint32
	served := func(z string) (uint32, bool) {
		mu.Lock()
		defer mu.Unlock()
		return servedSerial, z == testZone
	}
	a, b, _, fb := twoNodes(t, Options{FollowPoll: 50 * time.Millisecond, Served: served}, false)
	mu.Lock()
	servedSerial = a.serial(t, testZone)
	mu.Unlock()
	a.createSMP(t, alice, "SMP-A", "http://a.example.org")
	b.follow(t, fb)
	b.waitServes(t, testZone)
	cur := a.serial(t, testZone)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := b.delivered()
		if n := len(got); n >= 2 && got[n-1].From == cur && got[n-1].To == cur {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reminder to the consumer that serves an old serial: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	servedSerial = cur
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	n := len(b.delivered())
	time.Sleep(300 * time.Millisecond)
	if m := len(b.delivered()); m != n {
		t.Fatalf("%d more reminders to a consumer that serves the last serial", m-n)
	}
}

// TestChangesFromEveryStep: Changes from the start of each of the last steps (read from the end of the journal)
// and of older ones (binary search) returns exactly the steps after it; serials between two steps' starts are not
// in the journal.
func TestChangesFromEveryStep(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { // each call 10 s later: serials (unix seconds) leave gaps between steps
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(10 * time.Second)
		return clock
	}
	f := newFixture(t, Options{JournalSize: 20, Now: now})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	for i := range 30 {
		if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	all := f.delivered()
	kept := all[len(all)-20:]
	for i, c := range kept {
		steps, ok, err := f.s.Changes(testZone, c.From)
		if err != nil || !ok || !reflect.DeepEqual(steps, kept[i:]) {
			t.Fatalf("Changes from step %d of the journal: %d steps, ok %v, %v", i, len(steps), ok, err)
		}
	}
	if _, ok, _ := f.s.Changes(testZone, all[len(all)-21].From); ok {
		t.Fatal("Changes reaches behind the journal")
	}
	for i := 1; i < len(kept); i++ {
		if kept[i].From-kept[i-1].From < 2 {
			t.Fatalf("steps %d->%d: no serial between them", kept[i-1].From, kept[i].From)
		}
		if _, ok, _ := f.s.Changes(testZone, kept[i-1].From+1); ok {
			t.Fatalf("Changes from %d, between two steps' starts", kept[i-1].From+1)
		}
	}
}
