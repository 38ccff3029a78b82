package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
)

// BenchmarkGroupsPage100k serves pages of the service group list of an SMP with 100,000 groups: the
// administrator's pages at random positions, searches by the start of a participant, and an owner's first page
// (the owner holds 1 group in 100, so the page reads up to 5,000 groups). It reports the p99 and p50 page time
// of each (ms), measured at the client over a real loopback connection. The groups are written straight into
// the repository (unsigned: the list reads only the group records).
func BenchmarkGroupsPage100k(b *testing.B) {
	const n = 100000
	f := newFixture(b, true)
	for start := 0; start < n; start += 10000 {
		err := f.repo.Update(b.Context(), func(tx smp.WriteTx) error {
			for i := start; i < start+10000; i++ {
				owner := "alice"
				if i%100 == 7 {
					owner = "bob"
				}
				id, err := identifier.PEPPOL.Parse(identifier.Participant, fmt.Sprintf("iso6523-actorid-upis::0088:%06d", i))
				if err != nil {
					return err
				}
				if err := tx.PutGroup(smp.ServiceGroup{Participant: id, Owner: owner, InSML: true}, 1); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	root, bob := f.browser(), f.browser()
	root.login("root")
	bob.login("bob")
	kinds := []struct {
		name string
		b    *browser
		path func(i int) string
	}{
		{"page", root, func(i int) string {
			return "/groups?after=" + url.QueryEscape(fmt.Sprintf("iso6523-actorid-upis::0088:%06d", i*7919%n))
		}},
		{"search", root, func(i int) string { return fmt.Sprintf("/groups?q=0088:%04d", i*31%1000) }},
		{"owner", bob, func(int) string { return "/groups" }},
	}
	times := make([][]time.Duration, len(kinds))
	i := 0
	for b.Loop() {
		k := i % len(kinds)
		start := time.Now()
		p := kinds[k].b.get(kinds[k].path(i))
		times[k] = append(times[k], time.Since(start))
		if p.code != http.StatusOK || !strings.Contains(p.body, "0088:") {
			b.Fatalf("%s: %d", kinds[k].path(i), p.code)
		}
		i++
	}
	for k, ts := range times {
		if len(ts) == 0 {
			continue
		}
		slices.Sort(ts)
		ms := func(q float64) float64 {
			return float64(ts[min(len(ts)-1, int(q*float64(len(ts))))].Microseconds()) / 1000
		}
		b.ReportMetric(ms(0.99), kinds[k].name+"-p99-ms")
		b.ReportMetric(ms(0.50), kinds[k].name+"-p50-ms")
	}
}
