package app

import (
	"context"
	"sync"

	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/sml"
)

// newFollower is the server that runs the Service's follower (sml.Service.Follow) on feed from Start until
// Shutdown: with several nodes on one database, it applies what the other nodes commit.
func newFollower(svc *sml.Service, feed sml.ChangeFeed) lifecycle.Server {
	var (
		mu     sync.Mutex
		cancel context.CancelFunc
		done   chan struct{}
	)
	return lifecycle.Func{N: "sml follower",
		Up: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			ctx, c := context.WithCancel(context.Background())
			cancel, done = c, make(chan struct{})
			go func(done chan struct{}) {
				defer close(done)
				svc.Follow(ctx, feed)
			}(done)
			return nil
		},
		Down: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			if cancel == nil {
				return nil
			}
			cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}
