package dnsserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/internal/testproc"
)

func startDaemon(t *testing.T, name string, args ...string) *testproc.Daemon {
	t.Helper()
	return testproc.StartDaemon(t, needTool(t, name), args...)
}

func startBIND(t *testing.T, p, primaryPort int, keyName, secret string) string {
	dir := t.TempDir()
	key, primaryKey := "", ""
	if keyName != "" {
		key = fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\n", strings.TrimSuffix(keyName, "."), secret)
		primaryKey = " key " + strings.TrimSuffix(keyName, ".")
	}
	conf := fmt.Sprintf(`%soptions { directory "%[2]s"; pid-file "%[2]s/named.pid"; session-keyfile "%[2]s/session.key";
  managed-keys-directory "%[2]s"; listen-on port %[3]d { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; allow-transfer { none; }; dnssec-validation no; notify no;
  min-refresh-time 5; min-retry-time 5; };
controls { };
zone "sml.test" { type secondary; primaries port %[4]d { 127.0.0.1%[5]s; }; file "sml.test.bk";
  masterfile-format text; allow-notify { 127.0.0.1; }; };
`, key, dir, p, primaryPort, primaryKey)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "named", "-g", "-c", filepath.Join(dir, "named.conf"))
	return "127.0.0.1:" + strconv.Itoa(p)
}

func startKnot(t *testing.T, p, primaryPort int, keyName, secret string) string {
	dir := t.TempDir()
	key, remoteKey, aclKey := "", "", ""
	if keyName != "" {
		key = fmt.Sprintf("key:\n  - id: %s\n    algorithm: hmac-sha256\n    secret: %s\n", keyName, secret)
		remoteKey = "\n    key: " + keyName
		aclKey = "\n    key: " + keyName
	}
	conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[2]d
    rundir: "%[1]s"
    pidfile: "%[1]s/knot.pid"
    user: root:root
control:
    listen: "%[1]s/knot.sock"
database:
    storage: "%[1]s/db"
log:
  - target: stderr
    any: info
%[4]sremote:
  - id: primary
    address: 127.0.0.1@%[3]d%[5]s
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify%[6]s
template:
  - id: default
    storage: "%[1]s"
zone:
  - domain: sml.test
    file: "sml.test.zone"
    master: primary
    acl: notify_from_primary
`, dir, p, primaryPort, key, remoteKey, aclKey)
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(needTool(t, "knotc"), "-c", path, "conf-check").CombinedOutput(); err != nil {
		t.Fatalf("knotc conf-check: %v\n%s", err, out)
	}
	startDaemon(t, "knotd", "-c", path)
	return "127.0.0.1:" + strconv.Itoa(p)
}

// comparedCases are the questions whose answers the secondaries must give as the primary does.
func comparedCases() []dnstest.Case {
	var out []dnstest.Case
	for _, c := range answerCases() {
		if c.Qtype == dns.TypeANY || c.Rcode == dns.RcodeRefused {
			continue // ANY: BIND answers every RRset; REFUSED: outside the zone
		}
		out = append(out, c)
	}
	out = append(out, dnstest.Case{Qname: bigName, Qtype: dns.TypeNAPTR})
	return out
}

func query(addr string, q *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second}
	r, _, err := c.Exchange(q, addr)
	return r, err
}

// sameAnswers checks that the server at addr answers every case as the primary does.
func sameAnswers(primary, addr string, cases []dnstest.Case) error {
	for _, c := range cases {
		want, err := query(primary, c.Msg())
		if err != nil {
			return err
		}
		got, err := query(addr, c.Msg())
		if err != nil {
			return err
		}
		// Policies differ beyond the answer (BIND adds the NS RRset to the authority section, Knot glue to the
		// additional): compare rcode, AA, the answer and the SOA of negative answers.
		got.Ns, got.Extra = soaOnly(got.Ns), nil
		wc := dnstest.Case{Name: c.String(), Qname: c.Qname, Qtype: c.Qtype, Rcode: want.Rcode, AA: want.Authoritative,
			Answer: want.Answer, Ns: soaOnly(want.Ns)}
		if err := dnstest.SortAndCheck(got, wc); err != nil {
			return err
		}
	}
	return nil
}

func soaOnly(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, r := range rrs {
		if r.Header().Rrtype == dns.TypeSOA {
			out = append(out, r)
		}
	}
	return out
}

func soaSerial(addr string) (uint32, error) {
	r, err := query(addr, dnstest.Case{Qname: testZone, Qtype: dns.TypeSOA}.Msg())
	if err != nil {
		return 0, err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return 0, fmt.Errorf("SOA: %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return r.Answer[0].(*dns.SOA).Serial, nil
}

// TestSecondaries: real BIND 9 and Knot secondaries bootstrap by AXFR, follow a new participant and a deletion
// by NOTIFY + IXFR, and answer as the primary does. Run with and without TSIG on transfers and notifies.
func TestSecondaries(t *testing.T) {
	for _, withKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("tsig=%v", withKey), func(t *testing.T) {
			testSecondaries(t, withKey)
		})
	}
}

func testSecondaries(t *testing.T, withKey bool) {
	keyName, secret := "", ""
	cfg := Config{}
	if withKey {
		keyName, secret = "sml-xfr.", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMg=="
		cfg.TSIGKeys = map[string]string{keyName: secret}
		cfg.TransferKey, cfg.NotifyKey = keyName, keyName
	}
	primaryPort, bindPort, knotPort := testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	for bindPort == primaryPort || knotPort == primaryPort || knotPort == bindPort {
		bindPort, knotPort = testnet.FreePort(t), testnet.FreePort(t)
	}
	cfg.Listen = "127.0.0.1:" + strconv.Itoa(primaryPort)
	cfg.Notify = []string{"127.0.0.1:" + strconv.Itoa(bindPort), "127.0.0.1:" + strconv.Itoa(knotPort)}
	src := newSource(100)
	s := startServer(t, cfg, src)
	_, tcp := s.Addr()
	primary := tcp.String()
	// The secondaries start after the primary and bootstrap by AXFR at once.
	bind := startBIND(t, bindPort, primaryPort, keyName, secret)
	knot := startKnot(t, knotPort, primaryPort, keyName, secret)
	secondaries := map[string]string{"bind": bind, "knot": knot}

	waitSerial := func(want uint32) {
		for name, addr := range secondaries {
			eventually(t, name+" at serial "+strconv.Itoa(int(want)), 60*time.Second, func() error {
				got, err := soaSerial(addr)
				if err == nil && got != want {
					err = fmt.Errorf("serial %d", got)
				}
				return err
			})
		}
	}
	waitSerial(1)
	if full := testutilTransfers(s, "axfr", "full") + testutilTransfers(s, "ixfr", "full"); full < 2 {
		t.Errorf("%v full transfers, want one per secondary (AXFR bootstrap)", full)
	}
	for name, addr := range secondaries {
		if err := sameAnswers(primary, addr, comparedCases()); err != nil {
			t.Errorf("%s after bootstrap: %v", name, err)
		}
	}

	// A new participant and a deletion propagate by NOTIFY + IXFR.
	before := testutilTransfers(s, "ixfr", "incremental")
	src.Commit(testZone, nil, participant(1))
	waitSerial(2)
	src.Commit(testZone, nil, participant(2))
	src.Commit(testZone, participant(1), nil)
	waitSerial(4)
	if after := testutilTransfers(s, "ixfr", "incremental"); after < before+4 {
		t.Errorf("incremental transfers %v -> %v, want one more per secondary at least", before, after)
	}
	cases := append(comparedCases(),
		dnstest.Case{Qname: "p1.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR},
		dnstest.Case{Qname: "P2.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR})
	for name, addr := range secondaries {
		if err := sameAnswers(primary, addr, cases); err != nil {
			t.Errorf("%s after changes: %v", name, err)
		}
		r, err := query(addr, dnstest.Case{Qname: "p1.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR}.Msg())
		if err != nil || r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: deleted participant: %v %v, want NXDOMAIN", name, r, err)
		}
		r, err = query(addr, dnstest.Case{Qname: "p2.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR}.Msg())
		if err != nil || len(r.Answer) != 1 {
			t.Errorf("%s: new participant: %v %v, want its NAPTR", name, r, err)
		}
	}
	if n := testutilNotifies(s, "acknowledged"); n < 2 {
		t.Errorf("%v notifies acknowledged", n)
	}
}

func testutilTransfers(s *Server, kind, result string) float64 {
	return testutil.ToFloat64(s.m.transfers.WithLabelValues(kind, result))
}

func testutilNotifies(s *Server, result string) float64 {
	return testutil.ToFloat64(s.m.notifies.WithLabelValues(result))
}
