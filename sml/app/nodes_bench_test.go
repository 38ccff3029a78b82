package app

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pgtest"
)

// BenchmarkTwoNodesVisibility measures, on two nodes of one PostgreSQL database, how long a participant created
// over SOAP on node A takes to be answered by node B's DNS, counted from the moment A acknowledged the write, over
// 200 writes (run it with -benchtime 1x): p50 and p99 in milliseconds (ms-p50, ms-p99), and the SOAP write's own
// p50 (write-ms-p50). The goal of issue 15 is 1 s.
func BenchmarkTwoNodesVisibility(b *testing.B) {
	dsn := pgtest.DSN(b)
	na, nb := twoNodes(b, dsn)
	ctx := context.Background()
	const writes = 200
	var visible, write []time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range writes {
			v := fmt.Sprintf("0088:v%d-%d", n, i)
			start := time.Now()
			if err := na.soap.CreateParticipant(ctx, "SMP-1", scheme, v); err != nil {
				b.Fatal(err)
			}
			acked := time.Now()
			for {
				ok, err := nb.answers(v)
				if ok {
					break
				}
				if time.Since(acked) > 10*time.Second {
					b.Fatalf("node B does not answer %s after 10 s (%v)", v, err)
				}
			}
			visible = append(visible, time.Since(acked))
			write = append(write, acked.Sub(start))
		}
	}
	b.StopTimer()
	ms := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(visible, 0.5), "ms-p50")
	b.ReportMetric(ms(visible, 0.99), "ms-p99")
	b.ReportMetric(ms(write, 0.5), "write-ms-p50")
}
