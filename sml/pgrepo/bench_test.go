package pgrepo

import (
	"fmt"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/store/storetest"
)

// BenchmarkCreateList registers participants through the Service, 100 per call (a full CreateList), on bbolt and
// on PostgreSQL (a local cluster), alternating call by call so that both see the same load of the machine. It
// reports each backend's participants per second and their ratio; the goal of issue 15 is PostgreSQL at 0.5x
// bbolt or better. Both are durable: every call returns after its commit is on disk.
func BenchmarkCreateList(b *testing.B) {
	backends := []struct {
		name string
		s    *sml.Service
		took time.Duration
	}{
		{name: "bolt", s: newService(b, boltrepo.New(storetest.Open(b)), nil)},
		{name: "postgres", s: newService(b, openRepo(b, pgtest.DSN(b)), nil)},
	}
	for _, be := range backends {
		if err := be.s.CreateSMP(ctx, alice, sml.SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org", PhysicalAddress: "192.0.2.7"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps := make([]sml.ParticipantSpec, sml.MaxBatch)
		for j := range ps {
			ps[j] = sml.ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d-%d", i, j))}
		}
		for k := range backends {
			be := &backends[(i+k)%len(backends)] // alternate which goes first
			start := time.Now()
			if err := be.s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil {
				b.Fatal(err)
			}
			be.took += time.Since(start)
		}
	}
	rate := func(d time.Duration) float64 { return float64(b.N*sml.MaxBatch) / d.Seconds() }
	bolt, pg := rate(backends[0].took), rate(backends[1].took)
	b.ReportMetric(bolt, "bolt-participants/s")
	b.ReportMetric(pg, "postgres-participants/s")
	b.ReportMetric(pg/bolt, "postgres/bolt")
}
