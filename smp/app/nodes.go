package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"sync"
	"time"

	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/smp"
)

// Several SMP nodes on one PostgreSQL database (store.backend: postgres). Every node serves reads and takes writes;
// each follows the others' writes (smp.Service.Follow over the repository's change feed) so that its cache of
// hot documents never serves a replaced document for longer than a notification takes. The jobs that must run
// once run on the node holding the leader lock ("smp jobs", a PostgreSQL advisory lock): the SML registrar (the
// SMP's own registration and the delivery of the outbox) and the background re-signer. The other nodes idle and
// take over within LeaderPoll when the leader goes (its lock dies with its session). With bbolt there is one node,
// and it runs everything.

// LeaderPoll is how often a node that does not hold the leader lock tries to take it, and how often the holder
// checks that its session (and so the lock) is alive.
var LeaderPoll = time.Second

// resignCheck is how often the leader looks in the store for documents left to re-sign (a key switched on any
// node); a key switch announced by another node wakes it at once.
const resignCheck = 5 * time.Second

// nodes is the App's part in a group of nodes; zero with bbolt.
type nodes struct {
	feed   smp.ChangeFeed // the store's change feed; nil with bbolt
	end    context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	leader *pgstore.Leader // nil until the servers start (and with bbolt)
	kick   chan struct{}   // wakes the leader's re-signer
	lead   context.CancelFunc
}

// startFollowing makes the service follow the other nodes' writes (New calls it, with PostgreSQL).
func (a *App) startFollowing() {
	if a.nodes.feed == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.nodes.end = cancel
	a.nodes.kick = make(chan struct{}, 1)
	a.nodes.wg.Add(1)
	go func() {
		defer a.nodes.wg.Done()
		a.svc.Follow(ctx, a.nodes.feed, a.keySwitched)
	}()
}

// keySwitched follows a signing key another node switched to: the SML client presents it too, and the leader
// re-signs.
func (a *App) keySwitched(key crypto.Signer, chain []*x509.Certificate) {
	if a.smlc != nil {
		a.smlc.SetCertificate(tlsCertificate(key, chain))
	}
	select {
	case a.nodes.kick <- struct{}{}:
	default:
	}
}

func (a *App) stopFollowing() {
	if a.nodes.end != nil {
		a.nodes.end()
	}
	a.nodes.wg.Wait()
}

// leaderServer takes part in the leader election while the SMP serves (PostgreSQL only), and runs the leader's
// re-signer.
func (a *App) leaderServer() lifecycle.Server {
	return lifecycle.Func{N: "smp leader lock", Up: func(context.Context) error {
		if a.pg == nil {
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		a.nodes.mu.Lock()
		a.nodes.lead = cancel
		a.nodes.leader = a.pg.Lead(ctx, "smp jobs", LeaderPoll)
		a.nodes.mu.Unlock()
		a.nodes.wg.Add(1)
		go func() {
			defer a.nodes.wg.Done()
			a.asLeader(ctx, "re-signer", a.leaderResigner)
		}()
		return nil
	}, Down: func(context.Context) error {
		a.nodes.mu.Lock()
		if a.nodes.lead != nil {
			a.nodes.lead()
		}
		a.nodes.mu.Unlock()
		return nil
	}}
}

// RunsJobs reports whether this node runs the jobs that run on one node only (the SML registrar, the
// re-signer): always with bbolt and outside `smp serve` (an operator's command), else while it holds the lock.
func (a *App) RunsJobs() bool {
	if a.pg == nil {
		return true
	}
	a.nodes.mu.Lock()
	l := a.nodes.leader
	a.nodes.mu.Unlock()
	return l == nil || l.Held()
}

// asLeader runs job while this node runs the single-node jobs: it starts it when the node takes the lock and
// cancels it (waiting for it to return) when the node loses it, until ctx ends. With bbolt it just runs job.
func (a *App) asLeader(ctx context.Context, name string, job func(context.Context)) {
	if a.pg == nil {
		job(ctx)
		return
	}
	const look = 100 * time.Millisecond
	for ctx.Err() == nil {
		if !a.RunsJobs() {
			sleep(ctx, look)
			continue
		}
		a.log.Info("this node runs the "+name, "why", "it holds the leader lock")
		jctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			job(jctx)
		}()
	held:
		for a.RunsJobs() {
			select {
			case <-done:
				break held
			case <-ctx.Done():
				break held
			case <-time.After(look):
			}
		}
		cancel()
		<-done
		if ctx.Err() == nil {
			a.log.Info("this node no longer runs the "+name, "why", "another node holds the leader lock")
		}
	}
}

// leaderResigner re-signs, on the leader (asLeader cancels ctx when the node loses the lock), what a key switch
// or layout change on any node left to re-sign.
func (a *App) leaderResigner(ctx context.Context) {
	t := time.NewTicker(resignCheck)
	defer t.Stop()
	for ctx.Err() == nil {
		if key, chain, err := a.svc.SyncKey(ctx); err != nil {
			if ctx.Err() == nil {
				a.log.Error("re-signer: following the signing key", "err", err)
			}
		} else if key != nil {
			a.keySwitched(key, chain)
		}
		if need, err := a.svc.NeedsResign(ctx); err == nil && need {
			start := time.Now()
			n, err := a.resignOnce(ctx, nil)
			switch {
			case err != nil && ctx.Err() == nil:
				a.log.Error("re-signing failed; retrying", "err", err, "groups", n, "in", resignCheck)
			case err == nil:
				a.log.Info("re-signed", "groups", n, "generation", a.svc.Generation(), "took", time.Since(start).Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-a.nodes.kick:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
