package dnsserver

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/sml/zone"
)

// gateSource streams half of the zone, then waits until the test has received the first message of the
// transfer: an AXFR that copied the zone before sending would never get there.
type gateSource struct {
	sortedSource
	gate chan struct{}
}

func (g gateSource) StreamRecords(name string, head func(uint32) error, fn func(zone.Record) error) error {
	var recs []zone.Record
	serial, err := g.sortedSource.Records(name, func(r zone.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		return err
	}
	if err := head(serial); err != nil {
		return err
	}
	for i, r := range recs {
		if i == len(recs)/2 {
			select {
			case <-g.gate:
			case <-time.After(20 * time.Second):
				return errors.New("the first message of the transfer did not arrive while the source was streaming")
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// plainSource hides StreamRecords: the AXFR copies from the index.
type plainSource struct{ Source }

// TestAXFRStreams: an AXFR of a 20,000-participant zone sends its first messages while the source is still
// streaming, and holds the index's records; a source that cannot stream gets the same records from the index.
func TestAXFRStreams(t *testing.T) {
	g := newGenZone(20000, 5)
	base := sortedSource{g.source(), 0}
	gate := make(chan struct{})
	var want []string
	for i, src := range []Source{gateSource{base, gate}, plainSource{base}} {
		s, err := New(Config{Listen: "127.0.0.1:0", AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			src, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if s.Ready() == nil {
			t.Error("ready before Start")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := s.Ready(); err != nil {
			t.Errorf("not ready after Start: %v", err)
		}
		if i == 0 {
			z := s.zones[testZone]
			want = append(want, z.soa.String(), z.soa.String())
			for _, n := range z.nodes {
				for _, set := range n.sets {
					if set.t != dns.TypeSOA {
						for _, rr := range set.rrs {
							want = append(want, rr.String())
						}
					}
				}
			}
			z.eachCompact(func(rr dns.RR) { want = append(want, rr.String()) })
			slices.Sort(want)
		}
		_, tc := s.Addr()
		m := new(dns.Msg)
		m.SetAxfr(testZone)
		ch, err := (&dns.Transfer{ReadTimeout: 30 * time.Second}).In(m, tc.String())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		envelopes := 0
		for env := range ch {
			if env.Error != nil {
				t.Fatalf("source %d: %v", i, env.Error)
			}
			if envelopes == 0 && i == 0 {
				close(gate)
			}
			envelopes++
			for _, rr := range env.RR {
				got = append(got, rr.String())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("source %d: AXFR has %d records, the index %d (or they differ)", i, len(got), len(want))
		}
		if envelopes < 10 {
			t.Errorf("source %d: %d messages", i, envelopes)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		scancel()
	}
}
