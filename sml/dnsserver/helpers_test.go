package dnsserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/sml/zone"
)

const testZone = "sml.test."

// Names of the test zone (DIGEST.md 2.5 vectors for 0088:5798000000001).
const (
	naptrName = "reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.iso6523-actorid-upis.sml.test."
	cnameName = "b-4c7e158a31c6dfa533dcfaf4b80fb205.iso6523-actorid-upis.sml.test."
	pubName   = "smp1.publisher.sml.test."
	bigName   = "big.iso6523-actorid-upis.sml.test."
)

var testApex = zone.Apex{
	Zone: testZone,
	SOA: zone.SOA{MName: "ns1.sml.test.", RName: "hostmaster.sml.test.", Serial: 1,
		Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 60, TTL: 3600},
	NS:  []string{"ns1.sml.test."},
	TTL: 3600,
}

// testRecords is the zone's content in zone-file text.
func testRecords() []zone.Record {
	text := `
` + naptrName + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp1.example.org!" .
` + cnameName + ` 60 IN CNAME ` + pubName + `
` + pubName + ` 60 IN A 192.0.2.10
smp2.publisher.sml.test. 60 IN CNAME smp2.example.org.
b-dangling.iso6523-actorid-upis.sml.test. 60 IN CNAME gone.publisher.sml.test.
*.wild.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://wild.example.org!" .
ns1.sml.test. 3600 IN A 127.0.0.1
`
	recs := rrsToRecords(dnstest.RRs(text))
	for i := range 40 {
		recs = append(recs, rrToRecord(dnstest.RR(bigName+` 60 IN NAPTR 100 `+strconv.Itoa(i)+` "U" "Meta:SMP" "!^.*$!http://some-rather-long-host-name-for-smp-number-`+strconv.Itoa(i)+`.example.org/path!" .`)))
	}
	return recs
}

func rrsToRecords(rrs []dns.RR) []zone.Record {
	out := make([]zone.Record, 0, len(rrs))
	for _, r := range rrs {
		out = append(out, rrToRecord(r))
	}
	return out
}

// rrToRecord turns a parsed record into the neutral form the source holds.
func rrToRecord(r dns.RR) zone.Record {
	h := r.Header()
	out := zone.Record{Name: strings.ToLower(h.Name), Type: zone.Type(h.Rrtype), TTL: h.Ttl}
	switch v := r.(type) {
	case *dns.A:
		out.Addr, _ = netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		out.Addr, _ = netip.AddrFromSlice(v.AAAA)
	case *dns.CNAME:
		out.Target = v.Target
	case *dns.NS:
		out.Target = v.Ns
	case *dns.NAPTR:
		out.NAPTR = &zone.NAPTR{Order: v.Order, Preference: v.Preference, Flags: v.Flags, Service: v.Service,
			Regexp: v.Regexp, Replacement: v.Replacement}
	default:
		panic("unsupported record " + r.String())
	}
	return out
}

// newSource returns a source with the test zone loaded at serial 1.
func newSource(keep int) *dnstest.Source {
	src := dnstest.NewSource()
	src.AddZone(testApex, keep)
	src.Load(testZone, testRecords())
	return src
}

// newSourceWithout is newSource without the records whose owner begins with prefix.
func newSourceWithout(prefix string) *dnstest.Source {
	src := dnstest.NewSource()
	src.AddZone(testApex, 10)
	var recs []zone.Record
	for _, r := range testRecords() {
		if !strings.HasPrefix(r.Name, prefix) {
			recs = append(recs, r)
		}
	}
	src.Load(testZone, recs)
	return src
}

// startServer starts a server on a free loopback port; it is shut down when the test ends.
func startServer(t testing.TB, cfg Config, src *dnstest.Source) *Server {
	t.Helper()
	return startServerLoop(t, cfg, src, false)
}

// startServerLoop is startServer, with the plain UDP read loop when noBatch.
func startServerLoop(t testing.TB, cfg Config, src *dnstest.Source, noBatch bool) *Server {
	t.Helper()
	return startServerHook(t, cfg, src, noBatch, nil)
}

// startServerHook is startServerLoop with the panic hook set (see Server.panicHook).
func startServerHook(t testing.TB, cfg Config, src *dnstest.Source, noBatch bool, hook func(edge, name string)) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.NotifyDelay == 0 {
		cfg.NotifyDelay = 50 * time.Millisecond
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, src, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.noBatch = noBatch
	s.panicHook = hook
	src.OnCommit = s.Apply
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func port(s *Server) string {
	u, _ := s.Addr()
	return strconv.Itoa(u.(*net.UDPAddr).Port)
}

func exchange(t testing.TB, s *Server, m *dns.Msg, netw string) *dns.Msg {
	t.Helper()
	u, tc := s.Addr()
	addr := u.String()
	if netw == "tcp" {
		addr = tc.String()
	}
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], netw, err)
	}
	return r
}

// needTool fails (not skips) when an external checker is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s is not installed: run scripts/install-test-deps.sh (or `make test-deps`)", name)
	return ""
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t testing.TB, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
