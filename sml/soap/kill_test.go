package soap_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// buildSignpost builds bin/signpost's main package into dir once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

func buildSignpost(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "signpost-soap-test")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "signpost")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/signpost")
		cmd.Dir = root
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build ./cmd/signpost: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

var reServing = regexp.MustCompile(`msg="SML serving".* dns=(\S+).* management=(\S+)`)

// startServer runs `signpost sml serve` on the configuration in dir and waits until it logs that it serves.
func startServer(t *testing.T, bin, dir string) (cmd *exec.Cmd, soapAddr, dnsAddr string) {
	t.Helper()
	cmd = exec.Command(bin, "sml", "serve", "--config", filepath.Join(dir, "sml.yaml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan [2]string, 1)
	var logged syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logged.Write(append(sc.Bytes(), '\n'))
			if m := reServing.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[2], m[1]}
			}
		}
		close(found)
	}()
	select {
	case a, ok := <-found:
		if !ok {
			t.Fatalf("signpost sml serve ended before serving:\n%s", logged.String())
		}
		return cmd, a[0], a[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("signpost sml serve did not serve within 60s:\n%s", logged.String())
	}
	return nil, "", ""
}

// Every participant whose Create was acknowledged is still there after the server is killed with SIGKILL in the
// middle of single Creates from 64 concurrent clients (so commits are shared) and started again on the same store:
// the real binary, `signpost sml serve`. Each one answers in DNS after the restart, and the zone's serial is at
// least the highest one DNS answered with before the kill (it never goes back).
func TestKilledServerKeepsAcknowledged(t *testing.T) {
	bin := buildSignpost(t)
	p := newPKI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertPEM(p.ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.server.WriteFiles(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`store:
  path: %[1]s/sml.db
log:
  format: text
  level: info
ops:
  addr: 127.0.0.1:0
dns:
  listen: 127.0.0.1:0
management:
  listen: 127.0.0.1:0
  tls:
    cert: %[1]s/server.pem
    key: %[1]s/server-key.pem
domains:
  - zone: %[2]s
    records: [naptr]
    trusted_issuers: %[1]s/ca.pem
`, dir, zoneName)
	if err := os.WriteFile(filepath.Join(dir, "sml.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	newClient := func() *http.Client { // one connection per client, kept alive, as an SMP's
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: []tls.Certificate{p.clients["smp-a"].TLSCertificate()}, MinVersion: tls.VersionTLS12}}}
	}
	post := func(client *http.Client, addr, path string, body []byte, into any) (*soapmsg.Response, error) {
		resp, err := client.Post("https://"+addr+path, soapmsg.ContentType, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		r, err := soapmsg.DecodeResponse(resp.Body, soapmsg.Limits{}, into)
		if err == nil && r.Fault != nil {
			err = r.Fault
		}
		return r, err
	}

	cmd, addr, dnsAddr := startServer(t, bin, dir)
	admin := newClient()
	if _, err := post(admin, addr, "/manageservicemetadata", soaptest.Request(t, "smp-create.xml"), nil); err != nil {
		t.Fatal(err)
	}
	template := soaptest.Request(t, "participant-create.xml")
	var (
		mu        sync.Mutex
		acked     []string
		maxSerial uint32 // the highest serial DNS answered with before the kill
		wg        sync.WaitGroup
	)
	const writers, killAfter = 64, 400
	killed := make(chan struct{})
	var once sync.Once
	wg.Add(1)
	go func() { // reads the serial while the writes go on
		defer wg.Done()
		for {
			select {
			case <-killed:
				return
			default:
			}
			if s, err := soaSerial(dnsAddr); err == nil {
				mu.Lock()
				if serialAfter(s, maxSerial) {
					maxSerial = s
				}
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient()
			defer client.CloseIdleConnections()
			for i := 0; ; i++ {
				v := fmt.Sprintf("9915:kill-%02d-%05d", w, i)
				_, err := post(client, addr, "/manageparticipantidentifier", bytes.Replace(template, []byte("9915:test-a1"), []byte(v), 1), nil)
				if err != nil {
					select {
					case <-killed:
						return // the server is gone: this request's outcome is unknown, which is fine
					default:
						t.Errorf("create %s: %v", v, err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, v)
				n := len(acked)
				mu.Unlock()
				if n == killAfter {
					once.Do(func() {
						close(killed) // first: a request failing from now on may be cut by the kill
						_ = cmd.Process.Signal(syscall.SIGKILL)
					})
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	want := append([]string(nil), acked...)
	before := maxSerial
	mu.Unlock()
	if len(want) < killAfter {
		t.Fatalf("only %d creates acknowledged", len(want))
	}

	_, addr, dnsAddr = startServer(t, bin, dir)
	got := map[string]bool{}
	next := ""
	for pages := 0; ; pages++ {
		body := soaptest.Request(t, "participant-list.xml")
		if next != "" {
			body = bytes.Replace(soaptest.Request(t, "participant-list-next.xml"), []byte("NEXT_PAGE_TOKEN"), []byte(next), 1)
		}
		var page soapmsg.ParticipantPage
		if _, err := post(admin, addr, "/manageparticipantidentifier", body, &page); err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Participants {
			got[p.Value] = true
		}
		if next = page.NextPage; next == "" || pages > 1000 {
			break
		}
	}
	after, err := soaSerial(dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || serialAfter(before, after) {
		t.Errorf("serial %d after the restart, %d answered before the kill: it went back (or none was read)", after, before)
	}
	lost, notInDNS := 0, 0
	for _, v := range want {
		if !got[v] {
			lost++
			t.Errorf("acknowledged participant %s is gone after the kill", v)
		}
		// The restarted DNS server answers for every one of them.
		if err := naptrAnswered(dnsAddr, naptrName(v)); err != nil {
			notInDNS++
			t.Errorf("acknowledged participant %s: %v", v, err)
		}
	}
	t.Logf("%d creates acknowledged before SIGKILL by %d clients, %d participants after restart, %d lost, %d not in DNS; serial %d before, %d after",
		len(want), writers, len(got), lost, notInDNS, before, after)
}

// serialAfter reports a > b in RFC 1982 serial arithmetic.
func serialAfter(a, b uint32) bool { return a != b && int32(a-b) > 0 }

func dnsQuery(addr, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(q, addr)
	}
	return r, err
}

func soaSerial(addr string) (uint32, error) {
	r, err := dnsQuery(addr, zoneName, dns.TypeSOA)
	if err != nil {
		return 0, err
	}
	if len(r.Answer) != 1 {
		return 0, fmt.Errorf("SOA: %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	soa, ok := r.Answer[0].(*dns.SOA)
	if !ok {
		return 0, fmt.Errorf("SOA query answered with %s", r.Answer[0])
	}
	return soa.Serial, nil
}

func naptrAnswered(addr, name string) error {
	r, err := dnsQuery(addr, name, dns.TypeNAPTR)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Errorf("NAPTR %s: %s with %d answers, want its record", name, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		_ = os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}
