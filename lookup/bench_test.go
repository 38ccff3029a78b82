package lookup

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// End-to-end lookups on loopback: DNS over UDP to a miekg/dns server, HTTP GET to a net/http SMP, signature
// and chain check, endpoint selection. "cold" runs without the cache (every lookup does all of it); "cached"
// with the cache, the SMP sending Cache-Control: max-age. Reported: lookups/s and p50/p99 latency of the
// serial run; the parallel runs report lookups/s with GOMAXPROCS*4 goroutines.
func BenchmarkLookup(b *testing.B) {
	e := newEnv(b)
	pid := mustID(b, identifier.Participant, "iso6523-actorid-upis::9915:bench")
	doc := mustID(b, identifier.DocumentType, testDoc)
	e.register(pid, "Meta:SMP", e.smp.URL)
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1,
		"Cache-Control", "max-age=3600", "ETag", `"bench"`)
	req := Request{Participant: pid, DocumentType: doc}
	ctx := ctxT(b)
	for _, mode := range []struct {
		name  string
		cache int
	}{{"cold", -1}, {"cached", 0}} {
		c := e.client(func(c *Config) { c.CacheEntries = mode.cache; c.Now = time.Now })
		if _, err := c.Lookup(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.Run(mode.name+"/serial", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			start := time.Now()
			for range b.N {
				t0 := time.Now()
				if _, err := c.Lookup(ctx, req); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lookups/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
		b.Run(mode.name+"/parallel", func(b *testing.B) {
			b.SetParallelism(4)
			var mu sync.Mutex
			var failed error
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Lookup(ctx, req); err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
					}
				}
			})
			if failed != nil {
				b.Fatal(failed)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
		})
	}
}
