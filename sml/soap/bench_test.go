package soap_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/sml/soap/soaptest"
)

// benchClients is the number of concurrent SMP clients of the write benchmarks.
const benchClients = 4

// benchWrites runs b.N calls spread over benchClients goroutines, each call registering perCall participants
// through the real HTTPS listener (mutual TLS on loopback, durable commits), and reports participants/s.
func benchWrites(b *testing.B, perCall int) {
	e := newEnv(b, envOptions{})
	e.send(b, "smp-a", "smp-create.xml", nil).ok(b)
	single := soaptest.Request(b, "participant-create.xml")
	var seq atomic.Int64
	body := func() []byte {
		if perCall == 1 {
			return bytes.Replace(single, []byte("9915:test-a1"), fmt.Appendf(nil, "9915:bench-%d", seq.Add(1)), 1)
		}
		values := make([]string, perCall)
		for i := range values {
			values[i] = fmt.Sprintf("9915:bench-%d", seq.Add(1))
		}
		return listBody(b, "participant-createlist.xml", values)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				r, err := e.try("smp-a", "/manageparticipantidentifier", body(), nil, nil)
				if err != nil || !r.succeeded() {
					b.Errorf("create: %v %s", err, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perCall)/elapsed.Seconds(), "participants/s")
}

// BenchmarkCreateList: CreateList calls of 100 participants, 4 concurrent clients.
func BenchmarkCreateList(b *testing.B) { benchWrites(b, 100) }

// BenchmarkCreate: single-participant Create calls, 4 concurrent clients.
func BenchmarkCreate(b *testing.B) { benchWrites(b, 1) }
