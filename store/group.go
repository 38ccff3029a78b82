package store

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Batch callers queue their functions; one committer goroutine (started when the queue fills from
// empty, gone when it drains) runs everything queued in one read-write transaction and one fsync, while the calls
// that arrive during that commit queue up for the next one. No timer: a lone writer commits at once, and under
// load a commit takes what came during the previous one. (bbolt's own Batch waits up to 10 ms for companions,
// which bounds many concurrent writers to about 100 commits per second whatever the disk can do.)

// maxGroup bounds the calls of one commit, so that one transaction stays small enough to write quickly.
const maxGroup = 1000

type groupCall struct {
	fn       func(*Tx) error
	err      error
	panicked bool
	panicVal any
	done     chan struct{}
}

// run calls fn, turning a panic into errPanicked (the value is re-raised in the caller's goroutine).
func (c *groupCall) run(tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.panicked, c.panicVal = true, r
			err = errPanicked
		}
	}()
	return c.fn(tx)
}

var errPanicked = errors.New("store: batch function panicked")

type group struct {
	mu      sync.Mutex
	queue   []*groupCall
	running bool
}

// Batch is Update for many concurrent small writers: calls from several goroutines share one commit (and one
// fsync). fn may run more than once and must only change the store. It returns after the shared commit is on disk.
// A call whose fn fails is taken out of the shared transaction, which the others retry, and runs alone, so that
// its error is its own; a panic of fn is raised again in the goroutine that called Batch.
func (db *DB) Batch(fn func(*Tx) error) error {
	c := &groupCall{fn: fn, done: make(chan struct{})}
	g := &db.group
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go db.commitLoop()
	}
	g.mu.Unlock()
	<-c.done
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// commitLoop commits what is queued until the queue is empty.
func (db *DB) commitLoop() {
	g := &db.group
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.running = false
			g.queue = nil
			g.mu.Unlock()
			return
		}
		calls := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		db.commitGroup(calls)
	}
}

// commitGroup runs calls in one transaction; a failing call leaves it and runs alone, the rest run again.
func (db *DB) commitGroup(calls []*groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			tx := &Tx{btx: btx}
			for i, c := range calls {
				if err := c.run(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.err = err // nil, or the commit's own failure (disk full, closed store)
				close(c.done)
			}
			return
		}
		f := calls[failed]
		calls = append(calls[:failed:failed], calls[failed+1:]...)
		if !f.panicked { // a panic is raised again in its caller; anything else gets its own, final outcome
			f.err = db.bolt.Update(func(btx *bolt.Tx) error { return f.run(&Tx{btx: btx}) })
		}
		close(f.done)
	}
}
