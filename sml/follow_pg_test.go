package sml_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/pgrepo"
	"github.com/signpost-project/signpost/sml/zone"
)

// The follower on PostgreSQL: two Services, each on its own pgrepo connection pool to one database, each following
// the other through pgrepo's LISTEN/NOTIFY feed.

type pgNode struct {
	repo    *pgrepo.Repo
	svc     *sml.Service
	mu      sync.Mutex
	changes []zone.Change
}

func (n *pgNode) delivered() []zone.Change {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]zone.Change(nil), n.changes...)
}

func startPGNode(t *testing.T, dsn string) *pgNode {
	t.Helper()
	c, err := conf.ParseSML("test.yaml", []byte("domains:\n  - zone: sml.test\n    records: [naptr, cname]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := pgrepo.Open(context.Background(), dsn, pgrepo.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := &pgNode{repo: r}
	n.svc, err = sml.New(r, c.Domains, sml.Options{FollowPoll: time.Second, OnChange: func(c zone.Change) {
		n.mu.Lock()
		n.changes = append(n.changes, c)
		n.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.svc.Follow(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Follow did not return")
		}
		r.Close()
	})
	return n
}

func (n *pgNode) serial(t *testing.T) uint32 {
	t.Helper()
	st, err := n.svc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st[0].Serial
}

// waitLast waits (10 s) until the node has handed over a change ending at serial.
func (n *pgNode) waitLast(t *testing.T, serial uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ch := n.delivered()
		if len(ch) > 0 && ch[len(ch)-1].To == serial {
			return
		}
		if time.Now().After(deadline) {
			last := uint32(0)
			if len(ch) > 0 {
				last = ch[len(ch)-1].To
			}
			t.Fatalf("the node handed over up to %d, want %d", last, serial)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var pgCaller = sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}

func pgSpec(v string) []sml.ParticipantSpec {
	return []sml.ParticipantSpec{{ID: identifier.ID{Scheme: "iso6523-actorid-upis", Value: v}}}
}

// TestFollowOnPostgres: 4 writers, two on each node: both nodes hand over the same chain of changes, each once, up
// to the committed serial.
func TestFollowOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := startPGNode(t, dsn), startPGNode(t, dsn)
	start := a.serial(t)
	ctx := context.Background()
	if err := a.svc.CreateSMP(ctx, pgCaller, sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		n := a
		if w%2 == 1 {
			n = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if err := n.svc.CreateParticipants(ctx, pgCaller, "SMP-1", pgSpec(fmt.Sprintf("0088:%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := a.serial(t)
	a.waitLast(t, want)
	b.waitLast(t, want)
	ca, cb := a.delivered(), b.delivered()
	prev := start
	for i, c := range ca {
		if c.From != prev || int32(c.To-c.From) <= 0 {
			t.Fatalf("node A's change %d: %d->%d after %d", i, c.From, c.To, prev)
		}
		prev = c.To
	}
	if len(ca) != 1+4*25 || !reflect.DeepEqual(ca, cb) {
		t.Fatalf("node A handed over %d changes, node B %d; want the same %d", len(ca), len(cb), 1+4*25)
	}
}

// TestFollowAcrossPostgresRestart: with PostgreSQL down, writes fail at once with an Unavailable error that says
// to retry; when it is back, writes work again and the other node catches up, with no restart.
func TestFollowAcrossPostgresRestart(t *testing.T) {
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	a, b := startPGNode(t, dsn), startPGNode(t, dsn)
	ctx := context.Background()
	if err := a.svc.CreateSMP(ctx, pgCaller, sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	b.waitLast(t, a.serial(t))
	c.Stop()
	done := make(chan error, 1)
	go func() { done <- a.svc.CreateParticipants(ctx, pgCaller, "SMP-1", pgSpec("0088:down")) }()
	select {
	case err := <-done:
		var e *sml.Error
		if !errors.As(err, &e) || !e.Unavailable || e.Kind != sml.KindInternal || !sml.IsUnavailable(err) {
			t.Fatalf("write with PostgreSQL down: %#v, want an Unavailable internal error", err)
		}
		t.Logf("refused: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a write with PostgreSQL down hangs")
	}
	c.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := a.svc.CreateParticipants(ctx, pgCaller, "SMP-1", pgSpec("0088:up"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes do not resume: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.waitLast(t, a.serial(t))
}
