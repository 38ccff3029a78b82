package dnsserver

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/sml/zone"
)

func participant(i int) []zone.Record {
	return rrsToRecords(dnstest.RRs(fmt.Sprintf(`p%d.iso6523-actorid-upis.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp%d.example.org!" .`, i, i)))
}

// kdig runs kdig and returns the records of its answer (comments and blank lines dropped).
func kdig(t *testing.T, args ...string) []dns.RR {
	t.Helper()
	bin := needTool(t, "kdig")
	out, err := exec.Command(bin, append([]string{"+nocomments", "+nostats", "+noheader"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig %v: %v\n%s", args, err, out)
	}
	var rrs []dns.RR
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("kdig output line %q: %v\n%s", l, err, out)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

// kdigStatus runs kdig and returns its full output.
func kdigOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := exec.Command(needTool(t, "kdig"), args...).CombinedOutput()
	return string(out)
}

// TestIXFRWithKdig: IXFR=N returns only what changed since N, step by step; an N older than the journal gets
// the whole zone; N at the current serial gets the SOA alone.
func TestIXFRWithKdig(t *testing.T) {
	src := newSource(3)
	s := startServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, src)
	p := port(s)
	src.Commit(testZone, nil, participant(1))            // 1 -> 2
	src.Commit(testZone, nil, participant(2))            // 2 -> 3
	src.Commit(testZone, participant(1), participant(3)) // 3 -> 4
	src.Commit(testZone, nil, participant(4))            // 4 -> 5 (journal keeps 2..5)
	got := kdig(t, "@127.0.0.1", "-p", p, "sml.test.", "IXFR=3")
	soa := func(serial int) string {
		return fmt.Sprintf("sml.test. 3600 IN SOA ns1.sml.test. hostmaster.sml.test. %d 3600 600 604800 60", serial)
	}
	want := []dns.RR{dnstest.RR(soa(5)), dnstest.RR(soa(3))}
	want = append(want, toRRs(participant(1))...)
	want = append(want, dnstest.RR(soa(4)))
	want = append(want, toRRs(participant(3))...)
	want = append(want, dnstest.RR(soa(4)))
	want = append(want, dnstest.RR(soa(5)))
	want = append(want, toRRs(participant(4))...)
	want = append(want, dnstest.RR(soa(5)))
	if g, w := lines(got), lines(want); !slices.Equal(g, w) {
		t.Errorf("IXFR=3:\n got  %s\n want %s", strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}

	// Serial 1 is older than the journal: AXFR-style, the whole zone at serial 5.
	got = kdig(t, "@127.0.0.1", "-p", p, "sml.test.", "IXFR=1")
	if len(got) < 2 || got[0].String() != dnstest.RR(soa(5)).String() || got[len(got)-1].String() != got[0].String() {
		t.Fatalf("IXFR=1: want the zone framed by the SOA at 5, got %d records", len(got))
	}
	names := map[string]bool{}
	for _, r := range got {
		names[strings.ToLower(r.Header().Name)] = true
	}
	for _, n := range []string{naptrName, bigName, "p2.iso6523-actorid-upis.sml.test.", "p3.iso6523-actorid-upis.sml.test."} {
		if !names[n] {
			t.Errorf("IXFR=1 (AXFR-style): %s missing", n)
		}
	}
	if names["p1.iso6523-actorid-upis.sml.test."] {
		t.Error("IXFR=1 (AXFR-style): deleted p1 still there")
	}

	// Up to date: the SOA alone.
	got = kdig(t, "@127.0.0.1", "-p", p, "sml.test.", "IXFR=5")
	if len(got) != 1 || got[0].(*dns.SOA).Serial != 5 {
		t.Errorf("IXFR=5: got %v, want the SOA alone", got)
	}
	// AXFR agrees with the index.
	got = kdig(t, "@127.0.0.1", "-p", p, "sml.test.", "AXFR")
	if len(got) != len(testRecords())+3 /* p2..p4 */ +1 /* NS */ +2 /* SOA twice */ {
		t.Errorf("AXFR: %d records, want %d", len(got), len(testRecords())+6)
	}
}

func toRRs(recs []zone.Record) []dns.RR {
	var out []dns.RR
	for _, r := range recs {
		rr, err := toRR(r)
		if err != nil {
			panic(err)
		}
		out = append(out, rr)
	}
	return out
}

func lines(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, r := range rrs {
		out[i] = strings.ToLower(r.String())
	}
	return out
}

// TestTransferAccess: a transfer from an address not allowed is refused; with a transfer key, a signed
// transfer works and an unsigned or wrongly signed one is refused.
func TestTransferAccess(t *testing.T) {
	const key, secret = "xfr-key.", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMg=="
	src := newSource(3)
	s := startServer(t, Config{
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		TSIGKeys:      map[string]string{key: secret, "other-key.": "b3RoZXItb3RoZXItb3RoZXItb3RoZXI="},
		TransferKey:   key,
	}, src)
	p := port(s)
	signed := kdigOutput(t, "@127.0.0.1", "-p", p, "-y", "hmac-sha256:"+key+":"+secret, "sml.test.", "AXFR")
	if !strings.Contains(signed, "NAPTR") || strings.Contains(signed, "REFUSED") {
		t.Errorf("signed AXFR failed:\n%s", signed)
	}
	unsigned := kdigOutput(t, "@127.0.0.1", "-p", p, "sml.test.", "AXFR")
	if !strings.Contains(unsigned, "REFUSED") || strings.Contains(unsigned, "NAPTR") {
		t.Errorf("unsigned AXFR not refused:\n%s", unsigned)
	}
	other := kdigOutput(t, "@127.0.0.1", "-p", p, "-y", "hmac-sha256:other-key.:b3RoZXItb3RoZXItb3RoZXItb3RoZXI=", "sml.test.", "AXFR")
	if !strings.Contains(other, "REFUSED") || strings.Contains(other, "NAPTR") {
		t.Errorf("AXFR signed with another key not refused:\n%s", other)
	}
	unknown := kdigOutput(t, "@127.0.0.1", "-p", p, "-y", "hmac-sha256:unknown-key.:"+secret, "sml.test.", "AXFR")
	if !strings.Contains(unknown, "NOTAUTH") || strings.Contains(unknown, "NAPTR") {
		t.Errorf("AXFR signed with an unknown key not NOTAUTH:\n%s", unknown)
	}
	other127 := kdigOutput(t, "@127.0.0.1", "-p", p, "-b", "127.0.0.2", "-y", "hmac-sha256:"+key+":"+secret, "sml.test.", "AXFR")
	if !strings.Contains(other127, "REFUSED") || strings.Contains(other127, "NAPTR") {
		t.Errorf("AXFR from 127.0.0.2 not refused:\n%s", other127)
	}
	// The same with dig, for a second opinion.
	dig := needTool(t, "dig")
	out, _ := exec.Command(dig, "@127.0.0.1", "-p", p, "-b", "127.0.0.2", "sml.test.", "AXFR").CombinedOutput()
	if !strings.Contains(string(out), "Transfer failed") && !strings.Contains(string(out), "REFUSED") {
		t.Errorf("dig AXFR from 127.0.0.2 not refused:\n%s", out)
	}
	// Over UDP an AXFR is refused; normal queries stay open to everyone.
	r := exchange(t, s, dnstest.Case{Qname: testZone, Qtype: dns.TypeAXFR}.Msg(), "udp")
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR over UDP: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}
