package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// BenchmarkTwoNodesVisibility: how long a change acknowledged by node A takes to be served by node B, which had the
// previous version cached (the goal of issue 15: under a second). Each iteration changes the service group's
// extension on A and, once A returned, polls B over HTTP every 200 µs; it reports the median and the 99th
// percentile (make bench).
func BenchmarkTwoNodesVisibility(b *testing.B) {
	c := pgtest.Start(b)
	dsn := c.NewDatabase(b)
	_, _, dir, certFile, keyFile := newSigner(b, "Bench CA", "SMP bench signer")
	cfg := config(b, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile))
	cfg.Store.Backend, cfg.Store.DSN = conf.BackendPostgres, dsn
	ctx := context.Background()
	nodes := make([]*smpapp.App, 2)
	for i := range nodes {
		a, err := smpapp.New(ctx, cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
		serve(b, a)
		nodes[i] = a
	}
	pid, err := cfg.Policy().Parse(identifier.Participant, "iso6523-actorid-upis::9915:visible")
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + nodes[1].Addr() + "/" + seg(pid.String())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	served := func() string {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return string(body)
	}
	write := func(i int) string {
		mark := fmt.Sprintf("visible-%d-%d", time.Now().UnixNano(), i)
		sg := smp.ServiceGroup{Participant: pid, Extensions: []string{`<Ext xmlns="urn:bench">` + mark + `</Ext>`}}
		if _, err := nodes[0].Service().PutServiceGroup(ctx, smp.System, sg, smp.GroupWrite{}); err != nil {
			b.Fatal(err)
		}
		return mark
	}
	mark := write(-1)
	for !strings.Contains(served(), mark) { // B caches the first version
		time.Sleep(time.Millisecond)
	}
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mark := write(i)
		start := time.Now() // acknowledged: from here the client may read anywhere
		for !strings.Contains(served(), mark) {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("node B did not serve the change within 10 s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
