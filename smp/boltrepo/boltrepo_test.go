package boltrepo_test

import (
	"testing"

	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/smp/repotest"
	"github.com/signpost-project/signpost/store/storetest"
)

// TestContract runs the repository contract (smp/repotest) on bbolt.
func TestContract(t *testing.T) {
	repotest.Run(t, func(t *testing.T) smp.Repository { return boltrepo.New(storetest.Open(t)) })
}

func TestSessionsContract(t *testing.T) {
	repotest.RunSessions(t, func(t *testing.T) console.Store { return boltrepo.Sessions{DB: storetest.Open(t)} })
}
