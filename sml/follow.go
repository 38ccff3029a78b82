package sml

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/signpost-project/signpost/internal/recovery"
)

// EdgeFollow is the edge label (signpost_panics_total) of a panic while the follower applies other nodes' changes.
const EdgeFollow = "sml_follow"

// DefaultFollowPoll is how often a follower checks every zone when no notification came (Options.FollowPoll).
const DefaultFollowPoll = 5 * time.Second

// Follow applies the zone changes that other nodes commit to the shared repository, until ctx ends; it returns
// when ctx has ended and feed's Watch has returned. Several SML nodes share one repository (sml/pgrepo), and each
// answers DNS from its own index, fed by OnChange: when feed reports a serial newer than the one this node has
// handed over, the follower reads the zone's journal from this node's serial and hands the missing changes over
// in order, or, when the journal no longer reaches back that far (trimmed, reset by a bulk import, or a change too
// large for it), a change that makes the DNS server load the zone afresh. When feed (re)connects, and every
// FollowPoll in case a notification is lost, it checks every zone. A zone it cannot read (the repository is
// unreachable) is tried again at the next notification, reconnection or poll.
func (s *Service) Follow(ctx context.Context, feed ChangeFeed) {
	f := &follower{s: s, dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed.Watch(ctx, f.changed, f.all)
	}()
	f.run(ctx)
	<-done
}

type follower struct {
	s       *Service
	mu      sync.Mutex
	dirty   map[string]bool // zones to check; guarded by mu
	wake    chan struct{}
	failing bool // the last check failed (logged once until it succeeds)
}

func (f *follower) changed(zoneName string, serial uint32) {
	z := strings.ToLower(fqdn(zoneName))
	if _, ok := f.s.domains[z]; !ok || f.s.seq.handed(z, serial) {
		return
	}
	f.mark(z)
}

// all marks every zone to check.
func (f *follower) all() {
	f.mark(f.s.zones...)
}

func (f *follower) mark(zones ...string) {
	f.mu.Lock()
	for _, z := range zones {
		f.dirty[z] = true
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *follower) run(ctx context.Context) {
	tick := time.NewTicker(f.s.followPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-tick.C:
			f.all()
			<-f.wake
			f.remind()
		}
		f.mu.Lock()
		zones := make([]string, 0, len(f.dirty))
		for _, z := range f.s.zones { // configuration order, for stable logs
			if f.dirty[z] {
				zones = append(zones, z)
			}
		}
		clear(f.dirty)
		f.mu.Unlock()
		var failed []string
		var lastErr error
		for _, z := range zones {
			var err error
			if perr := recovery.Call(f.s.log, EdgeFollow, func() { err = f.s.catchUp(z) }); perr != nil {
				err = perr // counted and logged with its stack; the zone is tried again
			}
			if err != nil {
				failed, lastErr = append(failed, z), err
			}
		}
		switch {
		case len(failed) > 0 && !f.failing:
			f.failing = true
			f.s.log.Warn("sml: cannot read the changes of other nodes; DNS answers stay at the serials this node has until the store answers again",
				"zones", failed, "err", lastErr)
		case len(failed) == 0 && f.failing:
			f.failing = false
			f.s.log.Info("sml: reading the changes of other nodes again")
		}
		if len(failed) > 0 {
			// Tried again at the next poll (or sooner, on a notification or a reconnection).
			f.mu.Lock()
			for _, z := range failed {
				f.dirty[z] = true
			}
			f.mu.Unlock()
		}
	}
}

// remind makes a consumer that serves an older serial than the last handed over (a reload that failed while the
// store was unreachable) load the zone afresh.
func (f *follower) remind() {
	if f.s.served == nil {
		return
	}
	for _, z := range f.s.zones {
		if serial, ok := f.s.served(z); ok {
			f.s.seq.remind(z, serial)
		}
	}
}
