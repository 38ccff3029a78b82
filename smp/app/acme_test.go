package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// The ACME tests run Let's Encrypt's test CA, Pebble (github.com/letsencrypt/pebble/v2, a Go module), on
// loopback: it is built once per run of this package's tests with `go install` into a temporary directory, and
// configured for determinism offline: PEBBLE_VA_NOSLEEP=1 (no random validation delay), PEBBLE_WFE_NONCEREJECT=0
// (no random bad-nonce errors), and -dnsserver pointing at a loopback DNS server of the test that answers
// 127.0.0.1 for every name. Its ACME endpoint is served with a certificate of a throwaway CA, which the SMP trusts
// through http.acme.ca.

const pebbleModule = "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3"

var pebble struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// pebbleBinary builds Pebble once per test binary run. Where it cannot be built (no module proxy) the test is
// skipped, except under CI, where that is a failure.
func pebbleBinary(t *testing.T) string {
	t.Helper()
	pebble.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			pebble.err = err
			return
		}
		if pebble.dir, pebble.err = os.MkdirTemp("", "signpost-pebble-"); pebble.err != nil {
			return
		}
		cmd := exec.Command(goBin, "install", pebbleModule)
		cmd.Dir = pebble.dir
		cmd.Env = append(os.Environ(), "GOBIN="+pebble.dir, "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
		pebble.out, pebble.err = cmd.CombinedOutput()
		pebble.bin = filepath.Join(pebble.dir, "pebble")
	})
	if pebble.err != nil {
		msg := fmt.Sprintf("go install %s failed (no Go module proxy?): %v\n%s", pebbleModule, pebble.err, pebble.out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("skipped: " + msg)
	}
	return pebble.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pebble.dir != "" {
		_ = os.RemoveAll(pebble.dir)
	}
	os.Exit(code)
}

// loopbackDNS answers A 127.0.0.1 for every name (and no AAAA) on a port of 127.0.0.1, over UDP and TCP (Pebble
// asks over TCP).
func loopbackDNS(t *testing.T) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
				A: net.IPv4(127, 0, 0, 1)})
		}
		_ = w.WriteMsg(m)
	})
	for try := 0; try < 20; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil { // the UDP port is taken: another pair
			_ = ln.Close()
			continue
		}
		for _, srv := range []*dns.Server{{Listener: ln, Handler: h}, {PacketConn: pc, Handler: h}} {
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			go func() { _ = srv.ActivateAndServe() }()
			<-started
			t.Cleanup(func() { _ = srv.Shutdown() })
		}
		return ln.Addr().String()
	}
	t.Fatal("no port of 127.0.0.1 free for both TCP and UDP")
	return ""
}

// freePorts returns n distinct free ports of 127.0.0.1 (for Pebble's own listeners, which it binds itself, and
// the ports its validation connects to).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = testnet.FreePort(t)
	}
	return out
}

type pebbleCA struct {
	directory string         // the ACME directory URL
	caFile    string         // PEM that verifies the ACME endpoint (http.acme.ca)
	roots     *x509.CertPool // the root that signs the issued certificates
	cmd       *exec.Cmd
	log       *bytes.Buffer
	logMu     *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// pebbleAt prepares Pebble's configuration: its ACME and management ports, and the ports its validation
// connects to for HTTP-01 (httpPort) and TLS-ALPN-01 (tlsPort); certificates are valid for validity.
type pebbleAt struct {
	listen, mgmt, httpPort, tlsPort int
	validity                        time.Duration
}

func (p pebbleAt) directory() string { return fmt.Sprintf("https://127.0.0.1:%d/dir", p.listen) }

// endpointCA writes the throwaway CA and the certificate of Pebble's ACME endpoint into dir.
func endpointCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Pebble endpoint test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1", "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "pebble-ca.pem"), filepath.Join(dir, "pebble.pem"), filepath.Join(dir, "pebble-key.pem")
	if err := os.WriteFile(caFile, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := leaf.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return caFile, certFile, keyFile
}

// start runs Pebble until the end of the test and waits until its directory answers.
func (p pebbleAt) start(t *testing.T, bin, caFile, certFile, keyFile, dnsAddr string) *pebbleCA {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", p.listen),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", p.mgmt),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       p.httpPort,
		"tlsPort":                        p.tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "short-lived certificates for the renewal test", "validityPeriod": int(p.validity.Seconds()),
		}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	pc := &pebbleCA{directory: p.directory(), caFile: caFile, log: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout = lockedWriter{pc.logMu, pc.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pc.cmd = cmd
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			pc.logMu.Lock()
			t.Logf("pebble's log:\n%s", pc.log.String())
			pc.logMu.Unlock()
		}
	})
	pool, err := pki.LoadCertPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var roots []byte
	for i := 0; ; i++ {
		resp, err := cl.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", p.mgmt))
		if err == nil {
			roots, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i == 300 {
			t.Fatalf("pebble did not answer on its management port: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pc.roots = x509.NewCertPool()
	if !pc.roots.AppendCertsFromPEM(roots) {
		t.Fatalf("pebble's /roots/0 is not PEM: %q", roots)
	}
	return pc
}

// acmeSMP builds an SMP whose HTTPS certificate comes from the ACME directory.
func acmeSMP(t *testing.T, dir, cacheDir, directory, caFile string, listen, redirect int, renewBefore time.Duration, o *ops.Ops) *smpapp.App {
	t.Helper()
	_, _, _, sc, sk := newSigner(t, "ACME Test signing CA", "SMP signer")
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", sc, sk))
	cfg.PublicURL = "https://smp.test"
	cfg.HTTP.ACME.Domains = []string{"smp.test"}
	cfg.HTTP.ACME.Email = "ops@smp.test"
	cfg.HTTP.ACME.Directory = directory
	cfg.HTTP.ACME.CA = caFile
	cfg.HTTP.ACME.CacheDir = cacheDir
	cfg.HTTP.ACME.RenewBefore = renewBefore
	cfg.HTTP.TLSCheckInterval = 100 * time.Millisecond
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", listen)
	if redirect != 0 {
		cfg.HTTP.RedirectListen = fmt.Sprintf("127.0.0.1:%d", redirect)
	}
	a, err := smpapp.New(context.Background(), cfg, slog.New(slog.NewTextHandler(tWriter{t}, nil)), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// tWriter sends the SMP's log to the test's log while the test runs.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// served handshakes with the SMP as a client trusting roots would, and returns the certificate it was served.
func served(addr string, roots *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: roots, ServerName: "smp.test", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	if st.NegotiatedProtocol != "h2" {
		return nil, fmt.Errorf("ALPN %q, want h2", st.NegotiatedProtocol)
	}
	return st.PeerCertificates[0], nil
}

// waitServed waits (bounded) until a handshake verifies against roots and accept(cert) holds.
func waitServed(t *testing.T, addr string, roots *x509.CertPool, what string, accept func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	var last error
	for i := 0; i < 1500; i++ {
		c, err := served(addr, roots)
		if err == nil && accept(c) {
			return c
		}
		if err != nil {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never served %s (last handshake error: %v)", what, last)
	return nil
}

// waitCached waits (bounded) for the certificate file in the cache directory: autocert writes it right after it
// serves a new certificate.
func waitCached(t *testing.T, file string) {
	t.Helper()
	for i := 0; ; i++ {
		_, err := os.Stat(file)
		if err == nil {
			return
		} else if i == 200 {
			t.Fatalf("the certificate is not in the cache directory: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACMEHTTP01AndRenewal: with http.acme and http.redirect_listen, the SMP obtains its certificate from Pebble
// through the HTTP-01 challenge (Pebble's TLS-ALPN-01 validation is pointed at a closed port, so only HTTP-01 can
// succeed), serves it with HTTP/2 to a client that trusts Pebble's root, keeps it in the cache directory, turns
// ready, and renews it before it expires (20 s validity, renew_before 15 s): a later handshake shows another
// certificate, also from Pebble.
func TestACMEHTTP01AndRenewal(t *testing.T) {
	bin := pebbleBinary(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := endpointCA(t, dir)
	ports := freePorts(t, 5)
	p := pebbleAt{listen: ports[0], mgmt: ports[1], httpPort: ports[2], tlsPort: ports[3], validity: 20 * time.Second}
	ca := p.start(t, bin, caFile, certFile, keyFile, loopbackDNS(t))
	o := ops.New()
	a := acmeSMP(t, dir, filepath.Join(dir, "acme"), p.directory(), caFile, ports[4], p.httpPort, 15*time.Second, o)
	serve(t, a)

	first := waitServed(t, a.Addr(), ca.roots, "a certificate from Pebble", func(*x509.Certificate) bool { return true })
	if first.Subject.CommonName != "smp.test" && (len(first.DNSNames) != 1 || first.DNSNames[0] != "smp.test") {
		t.Fatalf("certificate for %v %v; want smp.test", first.Subject, first.DNSNames)
	}
	ca.logMu.Lock()
	pebbleLog := ca.log.String()
	ca.logMu.Unlock()
	if want := fmt.Sprintf("validate w/ HTTP: http://smp.test:%d/.well-known/acme-challenge/", p.httpPort); !strings.Contains(pebbleLog, want) {
		t.Errorf("pebble's log shows no HTTP-01 validation (%q):\n%s", want, pebbleLog)
	}
	waitCached(t, filepath.Join(dir, "acme", "smp.test"))
	for i := 0; ; i++ {
		if errs := o.Ready(context.Background()); errs["smp-https-certificate"] == nil {
			break
		} else if i == 200 {
			t.Fatalf("not ready with a certificate: %v", errs["smp-https-certificate"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	renewed := waitServed(t, a.Addr(), ca.roots, "a renewed certificate", func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %s, not after the first's %s", renewed.NotAfter, first.NotAfter)
	}
	t.Logf("obtained serial %s (expires %s), renewed as %s (expires %s)", first.SerialNumber, first.NotAfter.Format(time.TimeOnly),
		renewed.SerialNumber, renewed.NotAfter.Format(time.TimeOnly))
}

// TestACMETLSALPN01AndCache: without a redirect listener the SMP proves its name with TLS-ALPN-01 on its HTTPS
// port (Pebble's HTTP-01 validation is pointed at a port where nothing listens, so only TLS-ALPN-01 can pass);
// a second SMP on the same cache directory, with
// the ACME directory gone, serves the cached certificate.
func TestACMETLSALPN01AndCache(t *testing.T) {
	bin := pebbleBinary(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := endpointCA(t, dir)
	ports := freePorts(t, 5)
	p := pebbleAt{listen: ports[0], mgmt: ports[1], httpPort: ports[2], tlsPort: ports[3], validity: time.Hour}
	ca := p.start(t, bin, caFile, certFile, keyFile, loopbackDNS(t))
	a := acmeSMP(t, dir, filepath.Join(dir, "acme"), p.directory(), caFile, p.tlsPort, 0, 0, nil)
	serve(t, a)
	first := waitServed(t, a.Addr(), ca.roots, "a certificate from Pebble", func(*x509.Certificate) bool { return true })
	waitCached(t, filepath.Join(dir, "acme", "smp.test"))
	_ = ca.cmd.Process.Kill()
	_ = ca.cmd.Wait()
	dir2 := filepath.Join(dir, "second")
	if err := os.MkdirAll(dir2, 0o700); err != nil {
		t.Fatal(err)
	}
	b := acmeSMP(t, dir2, filepath.Join(dir, "acme"), p.directory(), caFile, ports[4], 0, 0, nil) // the first one's cache
	serve(t, b)
	again := waitServed(t, b.Addr(), ca.roots, "the cached certificate", func(*x509.Certificate) bool { return true })
	if !again.Equal(first) {
		t.Fatalf("after a restart: serial %s, want the cached %s", again.SerialNumber, first.SerialNumber)
	}
}
