// Command dnsbench serves a generated SML zone of N participants with the SML's DNS server, for
// scripts/bench-dns.sh: it writes the same zone as an RFC 1035 zone file (for Knot, the reference) and a
// dnsperf query file of random existing participants' NAPTR names, then serves until SIGINT or SIGTERM.
//
//	dnsbench -n 100000 -listen 127.0.0.1:PORT -zonefile FILE -queries FILE [-nqueries 100000] [-cpuprofile FILE]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/dnsserver"
	"github.com/signpost-project/signpost/sml/zone"
)

const zoneName = "sml.test."

var profile string

func main() {
	n := flag.Int("n", 100000, "participants")
	listen := flag.String("listen", "127.0.0.1:0", "UDP and TCP address")
	zoneFile := flag.String("zonefile", "", "write the zone file here")
	queries := flag.String("queries", "", "write dnsperf queries here")
	nq := flag.Int("nqueries", 100000, "query lines")
	cname := flag.Bool("cname", true, "also publish B- CNAMEs (as a PEPPOL domain with both record types)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving time here")
	flag.Parse()
	if *cpuprofile != "" {
		profile = *cpuprofile
	}
	if err := run(*n, *nq, *listen, *zoneFile, *queries, *cname); err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
}

// genSource generates the zone's records from their index each time it is read, so that the process's memory
// is the server's.
type genSource struct {
	apex  zone.Apex
	n     int
	cname bool
}

const smps = 100

func (g *genSource) Apexes() ([]zone.Apex, error) { return []zone.Apex{g.apex}, nil }

func (g *genSource) Changes(string, uint32) ([]zone.Change, bool, error) { return nil, false, nil }

// ParticipantsHint sizes the index at once (dnsserver.SizeHinter).
func (g *genSource) ParticipantsHint(string) int { return g.n }

// StreamRecords streams the zone for an AXFR (dnsserver.ZoneStreamer).
func (g *genSource) StreamRecords(name string, head func(uint32) error, fn func(zone.Record) error) error {
	if err := head(g.apex.SOA.Serial); err != nil {
		return err
	}
	_, err := g.Records(name, fn)
	return err
}

func (g *genSource) Records(_ string, fn func(zone.Record) error) (uint32, error) {
	if err := fn(zone.Record{Name: "ns1.sml.test.", Type: zone.TypeA, TTL: 3600, Addr: netip.MustParseAddr("127.0.0.1")}); err != nil {
		return 0, err
	}
	for i := range smps {
		if err := fn(zone.Record{Name: fmt.Sprintf("smp%d.publisher.sml.test.", i), Type: zone.TypeA, TTL: 60,
			Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}); err != nil {
			return 0, err
		}
	}
	for i := range g.n {
		id := participant(i)
		smp := i % smps
		if err := fn(zone.Record{Name: identifier.NAPTRName(id, zoneName, identifier.SchemeLabel), Type: zone.TypeNAPTR,
			TTL: 60, NAPTR: &zone.NAPTR{Order: 100, Preference: 10, Flags: "U", Service: "Meta:SMP",
				Regexp: fmt.Sprintf("!^.*$!http://smp%d.example.org!", smp), Replacement: "."}}); err != nil {
			return 0, err
		}
		if g.cname {
			if err := fn(zone.Record{Name: identifier.CNAMEName(id, zoneName, identifier.SchemeLabel),
				Type: zone.TypeCNAME, TTL: 60, Target: fmt.Sprintf("smp%d.publisher.sml.test.", smp)}); err != nil {
				return 0, err
			}
		}
	}
	return g.apex.SOA.Serial, nil
}

func participant(i int) identifier.ID {
	return identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:bench%07d", i)}
}

func run(n, nq int, listen, zoneFile, queries string, cname bool) error {
	apex := zone.Apex{Zone: zoneName, SOA: zone.SOA{MName: "ns1.sml.test.", RName: "hostmaster.sml.test.", Serial: 1,
		Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 60, TTL: 3600}, NS: []string{"ns1.sml.test."}, TTL: 3600}
	src := &genSource{apex: apex, n: n, cname: cname}
	if zoneFile != "" {
		if err := writeZone(zoneFile, src); err != nil {
			return err
		}
	}
	if queries != "" {
		if err := writeQueries(queries, n, nq); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dnsserver.New(dnsserver.Config{Listen: listen, AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}, src, log, nil)
	if err != nil {
		return err
	}
	t0 := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Start(ctx); err != nil {
		return err
	}
	start := time.Since(t0)
	runtime.GC()
	debug.FreeOSMemory()
	udp, _ := s.Addr()
	fmt.Printf("ready %s participants=%d load=%s\n", udp, n, start.Round(time.Millisecond))
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

func writeZone(path string, src *genSource) error {
	apex := src.apex
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "$ORIGIN %s\n", apex.Zone)
	s := apex.SOA
	fmt.Fprintf(w, "%s %d IN SOA %s %s %d %d %d %d %d\n", apex.Zone, s.TTL, s.MName, s.RName, s.Serial, s.Refresh,
		s.Retry, s.Expire, s.Minimum)
	for _, ns := range apex.NS {
		fmt.Fprintf(w, "%s %d IN NS %s\n", apex.Zone, apex.TTL, ns)
	}
	_, err = src.Records(zoneName, func(r zone.Record) error {
		h := dns.RR_Header{Name: r.Name, Rrtype: uint16(r.Type), Class: dns.ClassINET, Ttl: r.TTL}
		var rr dns.RR
		switch r.Type {
		case zone.TypeA:
			rr = &dns.A{Hdr: h, A: r.Addr.AsSlice()}
		case zone.TypeCNAME:
			rr = &dns.CNAME{Hdr: h, Target: r.Target}
		case zone.TypeNAPTR:
			rr = &dns.NAPTR{Hdr: h, Order: r.NAPTR.Order, Preference: r.NAPTR.Preference, Flags: r.NAPTR.Flags,
				Service: r.NAPTR.Service, Regexp: r.NAPTR.Regexp, Replacement: r.NAPTR.Replacement}
		}
		_, err := fmt.Fprintln(w, rr.String())
		return err
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeQueries(path string, n, nq int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(1, 2))
	for range nq {
		name := identifier.NAPTRName(participant(r.IntN(n)), zoneName, identifier.SchemeLabel)
		fmt.Fprintf(w, "%s NAPTR\n", strings.TrimSuffix(name, "."))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
