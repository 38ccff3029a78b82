package app

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/testproc"
)

// TestNodeKilledDuringWrites: node A runs in a child process (this test binary again) and registers participants
// over SOAP from 4 writers, reporting each acknowledged one; it is killed with SIGKILL. Node B, on the same
// database, answers every acknowledged participant afterwards, answered DNS queries throughout, and accepts
// writes (the killed node's write lock went with its connection).
func TestNodeKilledDuringWrites(t *testing.T) {
	if dsn := os.Getenv("SIGNPOST_SML_NODE_CHILD"); dsn != "" {
		childNode(t, dsn)
		return
	}
	if testing.Short() {
		t.Skip("starts PostgreSQL and a child process")
	}
	dsn := pgtest.DSN(t)
	b := startNode(t, "node B", dsn, newSMPPKI(t))
	ctx := context.Background()
	if err := b.soap.CreateSMP(ctx, "SMP-B", "http://b.example.org", "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if err := b.soap.CreateParticipant(ctx, "SMP-B", scheme, "0088:b0"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures []error
	queries := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			queries++
			if ok, err := b.answers("0088:b0"); !ok {
				failures = append(failures, err)
			}
		}
	}()
	acked := testproc.KillAfterAcks(t, "TestNodeKilledDuringWrites", "SIGNPOST_SML_NODE_CHILD="+dsn, 200)
	b.waitAnswers(t, acked...)
	if err := b.soap.CreateParticipant(ctx, "SMP-B", scheme, "0088:b1"); err != nil {
		t.Fatalf("node B after node A was killed: %v", err)
	}
	b.waitAnswers(t, "0088:b1")
	b.waitSerial(t, b.committed(t))
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d DNS queries to node B failed, e.g. %v", len(failures), queries, failures[0])
	}
}

// childNode is node A of TestNodeKilledDuringWrites: it registers participants until it is killed.
func childNode(t *testing.T, dsn string) {
	a := startNode(t, "node A", dsn, newSMPPKI(t))
	ctx := context.Background()
	if err := a.soap.CreateSMP(ctx, "SMP-K", "http://k.example.org", "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				v := fmt.Sprintf("0088:k%d-%d", w, i)
				if err := a.soap.CreateParticipant(ctx, "SMP-K", scheme, v); err != nil {
					fmt.Fprintf(os.Stderr, "child: %s: %v\n", v, err)
					continue
				}
				mu.Lock()
				fmt.Printf("acked %s\n", v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
