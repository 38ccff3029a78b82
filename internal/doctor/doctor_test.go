package doctor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/doctor"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// The doctor's tests run the SML and an SMP in this process on loopback (the SML's DNS and SOAP API over mutual
// TLS, the SMP registering its participants through its outbox), with an HTTPS reverse proxy in front of the SMP
// whose certificate comes from a test web CA: the SMP's public_url, and so its NAPTR records, name the proxy. Each
// fault is injected in turn into that setup, and the doctor must name it, and only it.

const zone = "sml.test."

// Document types of the demo participant holding the characters a proxy mangles.
const (
	docSlash = "busdox-docid-qns::urn:x-signpost:doctor:a/b::Invoice##urn:x-signpost:slash::1.0"
	docPlus  = "busdox-docid-qns::urn:x-signpost:doctor:a+b::Invoice##urn:x-signpost:plus::1.0"
)

// Modes of the proxy in front of the SMP.
const (
	proxyPlain     = iota
	proxyDecode    // decodes the path before passing it on: %2F becomes /
	proxyFlipBytes // changes a byte of every signed document
)

type env struct {
	dir      string
	files    pki.DevFiles
	smlDNS   string
	smpApp   *smpapp.App
	smpHTTP  string // the SMP's own listener
	frontURL string // https://127.0.0.1:PORT, the SMP's public_url
	webCA    *pki.Authority
	good     *tls.Certificate
	expired  *tls.Certificate
	cert     atomic.Pointer[tls.Certificate]
	mode     atomic.Int32
	admin    *smpadmin.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	now := time.Now()
	files, _, err := pki.EnsureDev(e.dir, now)
	if err != nil {
		t.Fatal(err)
	}
	e.files = files

	// The web PKI of the proxy: a test CA, a certificate for 127.0.0.1, and an expired one.
	if e.webCA, err = pki.NewRoot("Doctor Test Web CA", now.Add(-72*time.Hour), now.Add(400*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	issue := func(from, to time.Time) *tls.Certificate {
		l, err := e.webCA.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1"}, NotBefore: from, NotAfter: to})
		if err != nil {
			t.Fatal(err)
		}
		c := l.TLSCertificate()
		return &c
	}
	e.good = issue(now.Add(-time.Hour), now.Add(90*24*time.Hour))
	e.expired = issue(now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	e.cert.Store(e.good)

	// The SML.
	e.smlDNS = testnet.FreeAddr(t)
	smlCfg := &conf.SML{
		Store:      conf.Store{Path: filepath.Join(e.dir, "sml.db")},
		Log:        conf.Log{Level: "warn"},
		DNS:        conf.DNS{Listen: e.smlDNS},
		Management: conf.Management{Listen: testnet.FreeAddr(t), TLS: conf.TLSFiles{Cert: files.SML, Key: files.SMLKey}},
		Admin:      conf.Admin{Listen: testnet.FreeAddr(t), TokenFile: filepath.Join(e.dir, "sml-admin.token")},
		Domains:    []conf.Domain{{Zone: zone, Records: []string{"naptr"}, TrustedIssuers: conf.Files{files.CA}}},
	}
	smlCfg.Defaults()
	if err := smlCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	smlA, err := smlapp.New(smlCfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	smlG := &lifecycle.Group{}
	smlG.Add(smlA.Servers()...)
	if err := smlG.Start(context.Background()); err != nil {
		_ = smlA.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = smlG.Shutdown(); _ = smlA.Close() })

	// The proxy's listener first: its address is the SMP's public_url.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.frontURL = "https://" + ln.Addr().String()

	// The SMP.
	e.smpHTTP = testnet.FreeAddr(t)
	y := fmt.Sprintf(`store: {path: %s}
ops: {addr: ""}
log: {level: warn}
http: {listen: %q}
admin: {listen: %q, token_file: %s}
smp_id: SMP-DOCTOR
public_url: %s
signing: {cert: %s, key: %s}
sml: {url: "https://%s", zone: sml.test, ca: %s, retry_min: 50ms, retry_max: 400ms}
`, filepath.Join(e.dir, "smp.db"), e.smpHTTP, testnet.FreeAddr(t), filepath.Join(e.dir, "smp-admin.token"), e.frontURL,
		files.SMP, files.SMPKey, smlCfg.Management.Listen, files.CA)
	cfgPath := filepath.Join(e.dir, "smp.yaml")
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	smpCfg, err := conf.LoadSMP(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	e.smpApp, err = smpapp.New(context.Background(), smpCfg, nil, ops.New())
	if err != nil {
		t.Fatal(err)
	}
	smpG := &lifecycle.Group{}
	smpG.Add(e.smpApp.Servers()...)
	if err := smpG.Start(context.Background()); err != nil {
		_ = e.smpApp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = smpG.Shutdown(); _ = e.smpApp.Close() })
	tok, err := smpadmin.ReadTokenFile(smpCfg.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = &smpadmin.Client{Addr: e.smpApp.AdminAddr(), Token: tok}

	// The proxy in front.
	target := &url.URL{Scheme: "http", Host: e.smpHTTP}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if e.mode.Load() == proxyDecode {
				pr.Out.URL.RawPath = "" // sent as Path re-escaped: every %2F has become a /
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if e.mode.Load() != proxyFlipBytes {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("SignedServiceMetadata")) {
				b = bytes.Replace(b, []byte("ap.signpost.test"), []byte("ap.signpost.tesu"), 1)
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		},
	}
	front := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0), TLSConfig: &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return e.cert.Load(), nil },
	}}
	go func() { _ = front.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = front.Close() })

	// The demo participant and two document types with / and + in them, registered by the SMP's outbox.
	ap, err := pki.LoadCertificates(files.AP)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := smpapp.SeedDemo(ctx, e.smpApp.Service(), ap[0].Raw); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, d := range []string{docSlash, docPlus} {
		_ = enc.Encode(smp.Record{Metadata: &smp.MetadataJSON{Participant: smpapp.DemoParticipant, DocumentType: d,
			Processes: []smp.ProcessJSON{{ID: smpapp.DemoProcess, Endpoints: []smp.EndpointJSON{{
				TransportProfile: smpapp.DemoTransport, Address: smpapp.DemoAddress, Certificate: ap[0].Raw,
				Description: "doctor test", TechnicalContactURL: "mailto:doctor@signpost.test"}}}}}})
	}
	// A second participant, to sample.
	_ = enc.Encode(smp.Record{Group: &smp.GroupJSON{Participant: "iso6523-actorid-upis::9915:doctor-second"}})
	if _, err := e.smpApp.Service().Import(ctx, "test", &buf, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ok, err := e.smpApp.Registrar().Drained(ctx)
		if ok {
			break
		}
		if i == 1000 {
			t.Fatalf("the SMP's outbox did not drain: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

func demo(t *testing.T) identifier.ID {
	t.Helper()
	p, err := identifier.PEPPOL.Parse(identifier.Participant, smpapp.DemoParticipant)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// config is the doctor's configuration for the setup as it should be.
func (e *env) config(t *testing.T) doctor.Config {
	t.Helper()
	trust, err := pki.LoadCertPool(e.files.CA)
	if err != nil {
		t.Fatal(err)
	}
	return doctor.Config{
		Participant: demo(t),
		SMPURL:      e.frontURL,
		Zone:        zone,
		Servers:     []string{e.smlDNS},
		TLSRoots:    e.webCA.Pool(),
		Trust:       trust,
		Admin:       e.admin,
		Timeout:     5 * time.Second,
	}
}

// fakeDNS is a loopback name server that answers one NAPTR name with a rule of the test's choosing and passes
// every other question to the SML's DNS.
func fakeDNS(t *testing.T, upstream, name, rule string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if len(q.Question) == 1 && strings.EqualFold(q.Question[0].Name, name) {
			m := new(dns.Msg)
			m.SetReply(q)
			m.Authoritative = true
			m.Answer = append(m.Answer, &dns.NAPTR{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeNAPTR, Class: dns.ClassINET, Ttl: 60},
				Order: 100, Preference: 10, Flags: "U", Service: "Meta:SMP", Regexp: rule, Replacement: "."})
			_ = w.WriteMsg(m)
			return
		}
		r, err := dns.Exchange(q, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
			return
		}
		_ = w.WriteMsg(r)
	})
	var started sync.WaitGroup
	started.Add(1)
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: started.Done}
	go func() { _ = srv.ActivateAndServe() }()
	started.Wait()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func run(t *testing.T, cfg doctor.Config) *doctor.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := doctor.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// expect checks that exactly the checks failed named in wantFail, that the others passed (or were skipped, for
// those in wantSkip), and logs the report.
func expect(t *testing.T, rep *doctor.Report, wantFail, wantSkip []string) {
	t.Helper()
	if len(rep.Checks) != len(doctor.CheckIDs()) {
		t.Errorf("%d checks, want %d", len(rep.Checks), len(doctor.CheckIDs()))
	}
	for i, c := range rep.Checks {
		if i < len(doctor.CheckIDs()) && c.ID != doctor.CheckIDs()[i] {
			t.Errorf("check %d is %s, want %s", i, c.ID, doctor.CheckIDs()[i])
		}
		want := doctor.Pass
		switch {
		case slices.Contains(wantFail, c.ID):
			want = doctor.Fail
		case slices.Contains(wantSkip, c.ID):
			want = doctor.Skip
		}
		if c.Status != want {
			t.Errorf("check %s: %s, want %s: %s (fix: %s)", c.ID, c.Status, want, c.Message, c.Fix)
		}
		if c.Status == doctor.Fail && c.Fix == "" {
			t.Errorf("check %s failed without a fix", c.ID)
		}
	}
	if rep.OK() != (len(wantFail) == 0) {
		t.Errorf("OK() = %v with failures %v", rep.OK(), rep.Failed())
	}
	for _, c := range rep.Checks {
		t.Logf("%-14s %-4s %s", c.ID, c.Status, c.Message)
	}
}

func TestDoctorFaults(t *testing.T) {
	e := newEnv(t)
	pid := demo(t)
	naptrName := identifier.NAPTRName(pid, zone, identifier.SchemeLabel)

	t.Run("healthy", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Sample = 10
		rep := run(t, cfg)
		expect(t, rep, nil, nil)
		if !strings.Contains(rep.Check(doctor.CheckPathEncoding).Message, "%2F") || !strings.Contains(rep.Check(doctor.CheckPathEncoding).Message, "literal +") ||
			!strings.Contains(rep.Check(doctor.CheckPathEncoding).Message, "upper-case participant") {
			t.Errorf("path-encoding did not test every encoding: %s", rep.Check(doctor.CheckPathEncoding).Message)
		}
		if !strings.Contains(rep.Check(doctor.CheckSMLAgrees).Message, "all 2 sampled") {
			t.Errorf("sml-agrees: %s", rep.Check(doctor.CheckSMLAgrees).Message)
		}
		if !strings.Contains(rep.Check(doctor.CheckDocumentTypes).Message, "3 of 3") {
			t.Errorf("document-types: %s", rep.Check(doctor.CheckDocumentTypes).Message)
		}
	})

	t.Run("proxy decodes %2F", func(t *testing.T) {
		e.mode.Store(proxyDecode)
		defer e.mode.Store(proxyPlain)
		rep := run(t, e.config(t))
		expect(t, rep, []string{doctor.CheckPathEncoding}, []string{doctor.CheckSMLAgrees})
		if m := rep.Check(doctor.CheckPathEncoding).Message; !strings.Contains(m, "%2F (") || strings.Contains(m, "literal + (") {
			t.Errorf("path-encoding names the wrong encoding: %s", m)
		}
	})

	t.Run("expired TLS certificate", func(t *testing.T) {
		e.cert.Store(e.expired)
		defer e.cert.Store(e.good)
		rep := run(t, e.config(t))
		expect(t, rep, []string{doctor.CheckTLS}, []string{doctor.CheckSMLAgrees})
		if m := rep.Check(doctor.CheckTLS).Message; !strings.Contains(m, "expired") {
			t.Errorf("tls: %s", m)
		}
	})

	t.Run("certificate close to expiry", func(t *testing.T) {
		cfg := e.config(t)
		cfg.MinValidity = 100 * 24 * time.Hour // the proxy's certificate has 90 days, the dev SMP certificate more
		rep := run(t, cfg)
		expect(t, rep, []string{doctor.CheckTLS}, []string{doctor.CheckSMLAgrees})
	})

	t.Run("NAPTR points elsewhere", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Servers = []string{fakeDNS(t, e.smlDNS, naptrName, "!^.*$!https://smp.elsewhere.test!")}
		rep := run(t, cfg)
		expect(t, rep, []string{doctor.CheckNAPTRTarget}, []string{doctor.CheckSMLAgrees})
		if m := rep.Check(doctor.CheckNAPTRTarget).Message; !strings.Contains(m, "https://smp.elsewhere.test") {
			t.Errorf("naptr-target: %s", m)
		}
		// Sampling sees it too: the SML disagrees with the SMP about the demo participant, not the other one.
		cfg.Sample = 10
		rep = run(t, cfg)
		expect(t, rep, []string{doctor.CheckNAPTRTarget, doctor.CheckSMLAgrees}, nil)
		if m := rep.Check(doctor.CheckSMLAgrees).Message; !strings.Contains(m, "1 of 2") || !strings.Contains(m, smpapp.DemoParticipant) {
			t.Errorf("sml-agrees: %s", m)
		}
	})

	t.Run("http URL", func(t *testing.T) {
		cfg := e.config(t)
		plain := "http://" + e.smpHTTP
		cfg.SMPURL = plain
		cfg.Servers = []string{fakeDNS(t, e.smlDNS, naptrName, "!^.*$!"+plain+"!")}
		rep := run(t, cfg)
		expect(t, rep, []string{doctor.CheckHTTPS}, []string{doctor.CheckTLS, doctor.CheckSMLAgrees})
		cfg.AllowHTTP = true
		expect(t, run(t, cfg), nil, []string{doctor.CheckTLS, doctor.CheckSMLAgrees})
	})

	t.Run("broken signature", func(t *testing.T) {
		e.mode.Store(proxyFlipBytes)
		defer e.mode.Store(proxyPlain)
		rep := run(t, e.config(t))
		expect(t, rep, []string{doctor.CheckSignature}, []string{doctor.CheckSMLAgrees})
		if m := rep.Check(doctor.CheckSignature).Message; !strings.Contains(m, "3 of 3") {
			t.Errorf("signature: %s", m)
		}
	})

	t.Run("wrong trust anchors", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Trust = e.webCA.Pool()
		rep := run(t, cfg)
		expect(t, rep, []string{doctor.CheckSignature}, []string{doctor.CheckSMLAgrees})
	})

	t.Run("SMP URL only", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Participant, cfg.Admin = identifier.ID{}, nil
		rep := run(t, cfg)
		expect(t, rep, nil, []string{doctor.CheckNAPTR, doctor.CheckNAPTRTarget, doctor.CheckPathEncoding, doctor.CheckSignature,
			doctor.CheckDocumentTypes, doctor.CheckSMLAgrees})
		if c := rep.Check(doctor.CheckNAPTR); !strings.Contains(c.Fix, "name a participant") {
			t.Errorf("naptr skipped without saying what to give: %+v", c)
		}
		// With the admin API, the first service group's participant is checked.
		cfg.Admin = e.admin
		rep = run(t, cfg)
		expect(t, rep, nil, []string{doctor.CheckSMLAgrees})
		if rep.Participant != smpapp.DemoParticipant {
			t.Errorf("picked %q", rep.Participant)
		}
	})

	t.Run("not registered", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Participant = identifier.ID{Scheme: pid.Scheme, Value: "9915:nobody-here"}
		rep := run(t, cfg)
		expect(t, rep, []string{doctor.CheckNAPTR, doctor.CheckDocumentTypes},
			[]string{doctor.CheckNAPTRTarget, doctor.CheckPathEncoding, doctor.CheckSignature, doctor.CheckSMLAgrees})
		if m := rep.Check(doctor.CheckNAPTR).Message; !strings.Contains(m, "NXDOMAIN") {
			t.Errorf("naptr: %s", m)
		}
	})
}

// TestRunConfigErrors: a configuration that cannot run is an error, not a report.
func TestRunConfigErrors(t *testing.T) {
	for _, cfg := range []doctor.Config{
		{},
		{Zone: zone},
		{Zone: zone, Trust: pkiPool(t), SMPURL: "ftp://x"},
		{Zone: zone, Trust: pkiPool(t), Sample: 3},
	} {
		if _, err := doctor.Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		} else if errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}
}

func pkiPool(t *testing.T) *x509.CertPool {
	t.Helper()
	a, err := pki.NewRoot("x", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return a.Pool()
}
