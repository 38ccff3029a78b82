package dnsserver

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/sml/zone"
)

// BenchmarkLoad is the time to index a zone of 20,000 participants (NAPTR and CNAME each) with its answers
// packed.
func BenchmarkLoad(b *testing.B) {
	src := dnstest.NewSource()
	src.AddZone(testApex, 10)
	var recs []zone.Record
	for i := range 20000 {
		recs = append(recs, participant(i)...)
		recs = append(recs, zone.Record{Name: fmt.Sprintf("b-%d.iso6523-actorid-upis.sml.test.", i), Type: zone.TypeCNAME,
			TTL: 60, Target: fmt.Sprintf("smp%d.publisher.sml.test.", i%100)})
	}
	src.Load(testZone, recs)
	s, err := New(Config{Listen: "127.0.0.1:0"}, src, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.loadZone(testApex); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCompact is the time to index a generated zone of 100,000 participants with random names (NAPTR
// and B- CNAME, see genZone) into the compact index, and the heap the index keeps per participant.
func BenchmarkLoadCompact(b *testing.B) {
	g := newGenZone(100000, 9)
	src := g.source()
	s, err := New(Config{Listen: "127.0.0.1:0"}, src, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var z *zoneIdx
	var before, after runtime.MemStats
	var load time.Duration
	for b.Loop() {
		z = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		if z, err = s.loadZone(testApex); err != nil {
			b.Fatal(err)
		}
		load += time.Since(t0)
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	b.ReportMetric(float64(load.Nanoseconds())/float64(b.N)/100000, "load-ns/participant")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/100000, "heap-B/participant")
	runtime.KeepAlive(z)
}
