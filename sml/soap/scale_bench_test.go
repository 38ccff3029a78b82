package soap_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/store"
)

// The write benchmarks at scale (issue 14): registrations over SOAP into a store that already holds
// $SML_BENCH_BASE participants (for example 1000000). The store is built once by a bulk import and cached in the
// git-ignored .benchcache/ folder at the repository root; each run works on a copy. Without SML_BENCH_BASE they
// are skipped (they need minutes and about a GB of disk).
//
//	SML_BENCH_BASE=1000000 go test -run '^$' -bench 'Scale' -benchtime 20000x ./sml/soap/
//
// SML_BENCH_CPUPROFILE=FILE writes a CPU profile of the timed writes only.

// scaleBase returns the base size asked for, or skips the benchmark.
func scaleBase(b *testing.B) int {
	n, err := strconv.Atoi(os.Getenv("SML_BENCH_BASE"))
	if err != nil || n < 0 {
		b.Skip("set SML_BENCH_BASE to the number of participants already in the store (for example 1000000)")
	}
	return n
}

// scaleFixture returns a fresh copy (in the benchmark's temporary directory) of the cached store holding n
// participants of 100 SMPs owned by someone else, building the cache first when it is missing.
func scaleFixture(b *testing.B, n int) string {
	b.Helper()
	_, file, _, _ := runtime.Caller(0)
	// Named by the store's schema version: a fixture of an older layout is not reused (it would be upgraded on
	// every copy).
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".benchcache", fmt.Sprintf("sml-base-%d-schema-%d", n, store.SchemaVersion))
	cached := filepath.Join(dir, "sml.db")
	if _, err := os.Stat(cached); err != nil {
		buildScaleFixture(b, dir, cached, n)
	}
	dst := filepath.Join(b.TempDir(), "sml.db")
	if err := copyFile(cached, dst); err != nil {
		b.Fatal(err)
	}
	return dst
}

func buildScaleFixture(b *testing.B, dir, cached string, n int) {
	b.Helper()
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := cached + ".building"
	_ = os.Remove(tmp)
	db, err := store.Open(tmp, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := newPKI(b)
	svc, err := sml.New(boltrepo.New(db), testDomains(b, p.caFile), sml.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sml.WriteGenerated(pw, n, 100, zoneName, "CN=Bench Fixture,O=Signpost:01")) }()
	err = sml.ReadImport(pr, 20000, func(batch sml.ImportBatch) error {
		_, err := svc.Import(context.Background(), batch)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, cached); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s (%d participants) in %s", cached, n, time.Since(start).Round(time.Second))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// scaleWrites runs b.N calls of perCall participants each from clients concurrent SMP clients, every client with
// its own connection (kept alive, as an SMP's client would), and reports participants/s.
func scaleWrites(b *testing.B, clients, perCall int) {
	n := scaleBase(b)
	e := newEnv(b, envOptions{dbPath: scaleFixture(b, n)})
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
	hcs := make([]*http.Client, clients)
	for i := range hcs {
		hcs[i] = e.mk(e.pki.clients["smp-a"])
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	if path := os.Getenv("SML_BENCH_CPUPROFILE"); path != "" { // the writes only, not the fixture and start
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if path := os.Getenv("SML_BENCH_TRACE"); path != "" { // an execution trace of the timed writes
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			b.Fatal(err)
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := hcs[c].Post(e.base+"/manageparticipantidentifier", "text/xml; charset=utf-8", bytes.NewReader(body()))
				if err != nil {
					b.Errorf("create: %v", err)
					return
				}
				data, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("create: HTTP %d %v %s", resp.StatusCode, err, data)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	pprof.StopCPUProfile()
	trace.Stop()
	b.ReportMetric(float64(b.N*perCall)/elapsed.Seconds(), "participants/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkScaleCreateList: CreateList calls of 100 participants from 4 concurrent clients.
func BenchmarkScaleCreateList(b *testing.B) { scaleWrites(b, 4, 100) }

// BenchmarkScaleCreate: single Create calls from 64 concurrent clients.
func BenchmarkScaleCreate(b *testing.B) { scaleWrites(b, 64, 1) }
