package sml

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
)

// BenchmarkImport imports 200000 (or $SML_BENCH_IMPORT_N) generated participants in batches of 10000 into a fresh store; it reports
// participants per second.
func BenchmarkImport(b *testing.B) {
	var buf bytes.Buffer
	n := 200000
	if v, err := strconv.Atoi(os.Getenv("SML_BENCH_IMPORT_N")); err == nil && v > 0 {
		n = v
	}
	if err := WriteGenerated(&buf, n, 10, "sml.test", importOwner); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b, Options{})
		b.StartTimer()
		err := ReadImport(bytes.NewReader(data), 10000, func(batch ImportBatch) error {
			_, err := f.s.Import(ctx, batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "participants/s")
}

// BenchmarkCreateParticipantConcurrent registers single participants from 16 goroutines (shared commits).
func BenchmarkCreateParticipantConcurrent(b *testing.B) {
	f := newFixture(b, Options{})
	if err := f.s.CreateSMP(ctx, alice, SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/16 + 1
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid(fmt.Sprintf("0088:%d-%d", g, i))}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*16)/b.Elapsed().Seconds(), "participants/s")
}
