package pgrepo

import (
	"fmt"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/store/storetest"
)

// BenchmarkCreateList registers participants through the Service, 100 per call (a full CreateList), on bbolt and
// on PostgreSQL (a local cluster) in the same run; it reports participants per second. The goal is
// PostgreSQL at 0.5x bbolt or better.
func BenchmarkCreateList(b *testing.B) {
	cluster := pgtest.Start(b)
	backends := []struct {
		name string
		open func(b *testing.B) sml.Repo
	}{
		{"bolt", func(b *testing.B) sml.Repo { return boltrepo.New(storetest.Open(b)) }},
		{"postgres", func(b *testing.B) sml.Repo { return openRepo(b, cluster.NewDatabase(b)) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := newService(b, be.open(b), nil)
			if err := s.CreateSMP(ctx, alice, sml.SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org", PhysicalAddress: "192.0.2.7"}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ps := make([]sml.ParticipantSpec, sml.MaxBatch)
				for j := range ps {
					ps[j] = sml.ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d-%d", i, j))}
				}
				if err := s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*sml.MaxBatch)/b.Elapsed().Seconds(), "participants/s")
		})
	}
}
