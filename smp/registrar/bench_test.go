package registrar_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// BenchmarkImportToDNS: 10,000 service groups imported into an SMP (one write per 500, as `smp import` does)
// until every one is in the SML's DNS, through the outbox (CreateList batches over mutual TLS). The reference in
// the same run is the SML alone: the same 10,000 participants sent straight to it in CreateLists of 100 by one
// client. Metrics: s-to-dns (the SMP path: import, then delivery), s-import (the import's writes, signing
// included), s-outbox (from the end of the import until the last participant is in DNS), s-direct (the
// reference) and ratio (s-to-dns / s-direct).
func BenchmarkImportToDNS(b *testing.B) {
	const n = 10000
	for range b.N {
		s := newStack(b, "")
		a := s.newSMP(smpOptions{})
		a.waitDrained(b)
		ps := make([]string, n)
		for i := range ps {
			ps[i] = fmt.Sprintf("iso6523-actorid-upis::9915:bench-%05d", i)
		}
		start := time.Now()
		a.importGroups(b, ps)
		imported := time.Since(start)
		a.waitDrained(b)
		for !s.smlHas(b, ps[n-1]) {
			time.Sleep(time.Millisecond)
		}
		viaSMP := time.Since(start)
		if !s.smlHas(b, ps[0]) {
			b.Fatal("the first participant is not in DNS")
		}

		// The reference: a second SMP ID, the same certificate, straight CreateLists.
		kp, err := pki.LoadKeyPair(s.files.SMP, s.files.SMPKey)
		if err != nil {
			b.Fatal(err)
		}
		roots, err := pki.LoadCertPool(s.files.CA)
		if err != nil {
			b.Fatal(err)
		}
		c := smlclient.New(smlclient.Options{URL: "https://" + s.sml.cfg.Management.Listen, SMPID: "SMP-DIRECT",
			Certificate: kp.TLSCertificate(), Roots: roots})
		ctx := context.Background()
		if _, err := c.RegisterSMP(ctx, smlclient.Addresses{Logical: "http://direct.bench.test", Physical: "127.0.0.1"}); err != nil {
			b.Fatal(err)
		}
		ids := make([]identifier.ID, n)
		for i := range ids {
			ids[i] = identifier.ID{Scheme: identifier.SchemeISO6523, Value: fmt.Sprintf("9915:direct-%05d", i)}
		}
		start = time.Now()
		for i := 0; i < n; i += 100 {
			if err := c.Create(ctx, ids[i:i+100]); err != nil {
				b.Fatal(err)
			}
		}
		direct := time.Since(start)
		c.Close()
		b.ReportMetric(viaSMP.Seconds(), "s-to-dns")
		b.ReportMetric(imported.Seconds(), "s-import")
		b.ReportMetric((viaSMP - imported).Seconds(), "s-outbox")
		b.ReportMetric(direct.Seconds(), "s-direct")
		b.ReportMetric(viaSMP.Seconds()/direct.Seconds(), "ratio")
	}
}
