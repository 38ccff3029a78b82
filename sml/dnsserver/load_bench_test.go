package dnsserver

import (
	"fmt"
	"testing"

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
