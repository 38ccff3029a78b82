package pgstore

import (
	"context"
	"sync/atomic"
	"time"
)

// Leader holds a session-level advisory lock on a connection of its own while it can: the node that holds it
// runs a job that only one node may run at a time (the SMP's outbox delivery, the background re-signer). When
// the connection is lost the lock is gone (PostgreSQL releases it with the session) and Held turns false at once;
// another node takes it over within a poll interval.
type Leader struct {
	held atomic.Bool
	// changed is signalled (without blocking) when Held changes.
	changed chan struct{}
}

// Held reports whether this node holds the lock now.
func (l *Leader) Held() bool { return l.held.Load() }

// Changed is signalled when Held changes.
func (l *Leader) Changed() <-chan struct{} { return l.changed }

// LeaderTimeout bounds each check of the leader's session: a node whose database stops answering (a hung server,
// a lost network) stops running the leader's jobs after it, rather than carry on without knowing whether it still
// holds the lock. The server still holds it until it ends the session, so no other node runs the jobs meanwhile.
const LeaderTimeout = 5 * time.Second

// Lead tries to take the advisory lock named name, and keeps trying every poll until ctx ends; it holds the lock
// for as long as its connection lives.
func (db *DB) Lead(ctx context.Context, name string, poll time.Duration) *Leader {
	l := &Leader{changed: make(chan struct{}, 1)}
	set := func(v bool) {
		if l.held.Swap(v) != v {
			select {
			case l.changed <- struct{}{}:
			default:
			}
		}
	}
	go func() {
		defer set(false)
		for ctx.Err() == nil {
			conn, err := db.Connect(ctx)
			if err != nil {
				sleep(ctx, ReconnectDelay)
				continue
			}
			key := db.Schema + " " + name
			for ctx.Err() == nil {
				var got bool
				qctx, cancel := context.WithTimeout(ctx, LeaderTimeout)
				if !l.held.Load() {
					err = conn.QueryRow(qctx, "SELECT pg_try_advisory_lock(hashtext($1))", key).Scan(&got)
					if got {
						db.log.Info("postgres: this node now runs "+name, "schema", db.Schema)
						set(true)
					}
				} else {
					err = conn.Ping(qctx) // the lock lives as long as this session
				}
				cancel()
				if err != nil {
					break
				}
				sleep(ctx, poll)
			}
			if l.held.Load() {
				db.log.Warn("postgres: lost the lock of "+name+" with its connection", "err", err)
			}
			set(false)
			_ = conn.Close(context.Background())
			sleep(ctx, ReconnectDelay)
		}
	}()
	return l
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
