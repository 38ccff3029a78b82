package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/sml"
)

// Real BIND 9 and Knot secondaries of the whole SML (store, Service, DNS server, NOTIFY) with a small journal
// (dns.journal_size 50): they bootstrap by AXFR of 20,000 participants while 1,000 changes (creates from 16 writers,
// and deletes) are committed, and converge on the primary's zone, record for record. Then, while one secondary is
// stopped (SIGSTOP), 200 more changes go by: more than the journal keeps, so its IXFR from its old serial is answered
// with the whole zone, and it converges again.

// secondaryDaemon is a BIND or Knot process started by the test and stopped by its PID.
type secondaryDaemon struct {
	*testproc.Daemon
	name string
	addr string
}

func startSecondary(t *testing.T, name string, args ...string) *secondaryDaemon {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (scripts/install-test-deps.sh installs it)", name)
	}
	return &secondaryDaemon{Daemon: testproc.StartDaemon(t, path, args...), name: name}
}

func bindSecondary(t *testing.T, port, primaryPort int) *secondaryDaemon {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`options { directory "%[1]s"; pid-file "%[1]s/named.pid"; session-keyfile "%[1]s/session.key";
  managed-keys-directory "%[1]s"; listen-on port %[2]d { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; allow-transfer { 127.0.0.1; }; dnssec-validation no; notify no;
  min-refresh-time 5; min-retry-time 5; };
controls { };
zone "sml.test" { type secondary; primaries port %[3]d { 127.0.0.1; }; file "sml.test.bk";
  masterfile-format text; allow-notify { 127.0.0.1; }; };
`, dir, port, primaryPort)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startSecondary(t, "named", "-g", "-c", filepath.Join(dir, "named.conf"))
	d.name, d.addr = "bind", "127.0.0.1:"+strconv.Itoa(port)
	return d
}

func knotSecondary(t *testing.T, port, primaryPort int) *secondaryDaemon {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`server:
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
remote:
  - id: primary
    address: 127.0.0.1@%[3]d
acl:
  - id: from_loopback
    address: 127.0.0.1
    action: [notify, transfer]
template:
  - id: default
    storage: "%[1]s"
zone:
  - domain: sml.test
    file: "sml.test.zone"
    master: primary
    acl: from_loopback
`, dir, port, primaryPort)
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startSecondary(t, "knotd", "-c", path)
	d.name, d.addr = "knot", "127.0.0.1:"+strconv.Itoa(port)
	return d
}

// zoneSet transfers the zone from addr by AXFR and returns its records as sorted text (TTLs included), and the
// SOA serial.
func zoneSet(addr string) ([]string, uint32, error) {
	m := new(dns.Msg)
	m.SetAxfr("sml.test.")
	tr := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 60 * time.Second}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	var serial uint32
	for env := range ch {
		if env.Error != nil {
			return nil, 0, env.Error
		}
		for _, rr := range env.RR {
			if soa, ok := rr.(*dns.SOA); ok {
				serial = soa.Serial
			}
			seen[strings.ToLower(rr.String())] = true // AXFR repeats the SOA at the end
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, serial, nil
}

func soaOf(addr string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion("sml.test.", dns.TypeSOA)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 3 * time.Second}).Exchange(m, addr)
	if err != nil {
		return 0, err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return 0, fmt.Errorf("SOA: %s", dns.RcodeToString[r.Rcode])
	}
	return r.Answer[0].(*dns.SOA).Serial, nil
}

// converged waits until the secondary serves exactly the primary's zone at the primary's serial.
func converged(t *testing.T, primary string, s *secondaryDaemon, within time.Duration) {
	t.Helper()
	want, serial, err := zoneSet(primary)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		got, err := soaOf(s.addr)
		if err == nil && got == serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: serial %d (%v), the primary's is %d", s.name, got, err, serial)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got, gotSerial, err := zoneSet(s.addr)
	if err != nil {
		t.Fatalf("%s: AXFR: %v", s.name, err)
	}
	if gotSerial != serial || len(got) != len(want) {
		t.Fatalf("%s: %d records at serial %d, the primary %d at %d", s.name, len(got), gotSerial, len(want), serial)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s differs from the primary: %q, want %q", s.name, got[i], want[i])
		}
	}
}

var reTransfers = regexp.MustCompile(`(?m)^signpost_dns_transfers_total\{result="(\w+)",type="(\w+)"\} (\d+)`)

// transfers reads signpost_dns_transfers_total from the operations registry: "type/result" -> count.
func transfers(t *testing.T, o *ops.Ops) map[string]int {
	t.Helper()
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := map[string]int{}
	for _, m := range reTransfers.FindAllStringSubmatch(string(body), -1) {
		n, _ := strconv.Atoi(m[3])
		out[m[2]+"/"+m[1]] = n
	}
	return out
}

func TestSecondariesConvergeWithBoundedJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts BIND and Knot and writes 20,000 participants")
	}
	primaryPort, bindPort, knotPort := testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	for bindPort == primaryPort || knotPort == primaryPort || knotPort == bindPort {
		bindPort, knotPort = testnet.FreePort(t), testnet.FreePort(t)
	}
	dir := t.TempDir()
	cfg, err := conf.ParseSML("test.yaml", []byte(fmt.Sprintf(`
store:
  path: %s
dns:
  listen: 127.0.0.1:%d
  notify: [127.0.0.1:%d, 127.0.0.1:%d]
  notify_delay: 50ms
  journal_size: 50
admin:
  listen: %s
domains:
  - zone: sml.test
    records: [naptr, cname]
`, filepath.Join(dir, "sml.db"), primaryPort, bindPort, knotPort, testnet.FreeAddr(t))))
	if err != nil {
		t.Fatal(err)
	}
	o := ops.New()
	a, _ := startApp(t, cfg, o)
	ctx := context.Background()
	svc := a.Service()
	var gen bytes.Buffer
	if err := sml.WriteGenerated(&gen, 20000, 4, "sml.test", "CN=Import,O=Test,C=BE:1"); err != nil {
		t.Fatal(err)
	}
	if err := sml.ReadImport(&gen, 5000, func(b sml.ImportBatch) error { _, err := svc.Import(ctx, b); return err }); err != nil {
		t.Fatal(err)
	}
	caller := sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}
	if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: "SMP-W", LogicalAddress: "http://w.example.org"}); err != nil {
		t.Fatal(err)
	}
	pid := func(s string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: s} }
	// changes commits n changes from 16 writers: creates, and every fourth writer deletes what it created before.
	next := 0
	changes := func(n int) {
		var wg sync.WaitGroup
		per := n / 16
		base := next
		next += n
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					v := fmt.Sprintf("0088:w%d-%d", w, base+i)
					var err error
					if w%4 == 3 && i%2 == 1 {
						prev := fmt.Sprintf("0088:w%d-%d", w, base+i-1)
						err = svc.DeleteParticipants(ctx, caller, "SMP-W", []identifier.ID{pid(prev)})
					} else {
						err = svc.CreateParticipants(ctx, caller, "SMP-W", []sml.ParticipantSpec{{ID: pid(v)}})
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	primary := "127.0.0.1:" + strconv.Itoa(primaryPort)

	// The secondaries start and transfer the zone while 1,000 changes are committed.
	bind := bindSecondary(t, bindPort, primaryPort)
	knot := knotSecondary(t, knotPort, primaryPort)
	changes(1000)
	for _, s := range []*secondaryDaemon{bind, knot} {
		converged(t, primary, s, 90*time.Second)
	}
	st, _ := svc.Stats()
	if st[0].JournalEntries > 50 {
		t.Errorf("journal holds %d changes, want at most 50", st[0].JournalEntries)
	}

	// A secondary that misses more changes than the journal keeps gets the whole zone for its IXFR.
	for _, s := range []*secondaryDaemon{knot, bind} {
		before := transfers(t, o)
		if err := s.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		changes(208)
		if err := s.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		converged(t, primary, s, 90*time.Second)
		after := transfers(t, o)
		if after["ixfr/full"] <= before["ixfr/full"] { // (axfr/full counts this test's own AXFRs too)
			t.Errorf("%s: no IXFR answered with the whole zone after missing more than the journal (before %v, after %v)", s.name, before, after)
		}
		t.Logf("%s: transfers before %v, after %v", s.name, before, after)
	}
	for _, s := range []*secondaryDaemon{bind, knot} {
		converged(t, primary, s, 90*time.Second)
	}
}
