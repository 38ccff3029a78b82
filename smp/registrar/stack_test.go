package registrar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	smlapp "github.com/signpost-project/signpost/sml/app"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// The registrar's tests run an SML and SMPs for real, in this process, on loopback: the SML's DNS, its SOAP API
// over mutual TLS, the SMPs' HTTP APIs, with the development PKI.

const zone = "sml.test."

type smlNode struct {
	log *slog.Logger // nil: none
	cfg *conf.SML
	app *smlapp.App
	g   *lifecycle.Group
}

type smpNode struct {
	cfg *conf.SMP
	app *smpapp.App
	g   *lifecycle.Group
	ops *ops.Ops
	tok string
}

type stack struct {
	t     testing.TB
	dir   string
	files pki.DevFiles
	sml   *smlNode
}

func newStack(t testing.TB, schemes string) *stack {
	t.Helper()
	return newStackWith(t, schemes, nil)
}

// newStackLogged is newStack with the SML logging to log (its audit lines among them).
func newStackLogged(t testing.TB, log *slog.Logger) *stack {
	t.Helper()
	return newStackWith(t, "", log)
}

func newStackWith(t testing.TB, schemes string, log *slog.Logger) *stack {
	t.Helper()
	dir := t.TempDir()
	files, _, err := pki.EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := testnet.FreeAddr(t)
	cfg := &conf.SML{
		Store: conf.Store{Path: filepath.Join(dir, "sml.db")},
		Log:   conf.Log{Level: "warn"},
		DNS:   conf.DNS{Listen: dnsAddr},
		Management: conf.Management{
			Listen: testnet.FreeAddr(t),
			TLS:    conf.TLSFiles{Cert: files.SML, Key: files.SMLKey},
		},
		Admin:   conf.Admin{Listen: testnet.FreeAddr(t), TokenFile: filepath.Join(dir, "sml-admin.token")},
		Domains: []conf.Domain{{Zone: zone, Records: []string{"naptr"}, TrustedIssuers: conf.Files{files.CA}, ParticipantSchemes: schemes}},
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, dir: dir, files: files, sml: &smlNode{cfg: cfg, log: log}}
	s.startSML()
	t.Cleanup(s.stopSML)
	return s
}

func (s *stack) startSML() {
	s.t.Helper()
	n := s.sml
	a, err := smlapp.New(n.cfg, n.log, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	g := &lifecycle.Group{}
	g.Add(a.Servers()...)
	if err := g.Start(context.Background()); err != nil {
		_ = a.Close()
		s.t.Fatal(err)
	}
	n.app, n.g = a, g
}

func (s *stack) stopSML() {
	n := s.sml
	if n.app == nil {
		return
	}
	_ = n.g.Shutdown()
	_ = n.app.Close()
	n.app = nil
}

// smpOptions vary an SMP of the stack.
type smpOptions struct {
	id          string // SMP ID; default SMP-DEV
	cert, key   string // client and signing certificate; default the dev smp.pem
	identifiers string // peppol (default) or oasis
}

func (s *stack) newSMP(o smpOptions) *smpNode {
	s.t.Helper()
	n := &smpNode{cfg: s.smpConfig(o)}
	n.start(s.t)
	s.t.Cleanup(n.stop)
	return n
}

// smpConfig writes the configuration of an SMP of the stack (DIR/ID/smp.yaml) and returns it loaded.
func (s *stack) smpConfig(o smpOptions) *conf.SMP {
	s.t.Helper()
	if o.id == "" {
		o.id = "SMP-DEV"
	}
	if o.cert == "" {
		o.cert, o.key = s.files.SMP, s.files.SMPKey
	}
	if o.identifiers == "" {
		o.identifiers = "peppol"
	}
	dir := filepath.Join(s.dir, o.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.t.Fatal(err)
	}
	addr := testnet.FreeAddr(s.t)
	y := fmt.Sprintf(`store: {path: %s}
ops: {addr: ""}
http: {listen: %q}
admin: {listen: %q, token_file: %s}
smp_id: %s
public_url: http://%s
identifiers: %s
signing: {cert: %s, key: %s}
sml: {url: "https://%s", ca: %s, retry_min: 50ms, retry_max: 400ms}
`, filepath.Join(dir, "smp.db"), addr, testnet.FreeAddr(s.t), filepath.Join(dir, "admin.token"), o.id, addr, o.identifiers,
		o.cert, o.key, s.sml.cfg.Management.Listen, s.files.CA)
	path := filepath.Join(dir, "smp.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cfg, err := conf.LoadSMP(path)
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

func (n *smpNode) start(t testing.TB) {
	t.Helper()
	n.ops = ops.New()
	a, err := smpapp.New(context.Background(), n.cfg, nil, n.ops)
	if err != nil {
		t.Fatal(err)
	}
	g := &lifecycle.Group{}
	g.Add(a.Servers()...)
	if err := g.Start(context.Background()); err != nil {
		_ = a.Close()
		t.Fatal(err)
	}
	tok, err := os.ReadFile(n.cfg.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	n.app, n.g, n.tok = a, g, strings.TrimSpace(string(tok))
}

func (n *smpNode) stop() {
	if n.app == nil {
		return
	}
	_ = n.g.Shutdown()
	_ = n.app.Close()
	n.app = nil
}

func participant(t testing.TB, s string) identifier.ID {
	t.Helper()
	id, err := identifier.OASIS.Parse(identifier.Participant, s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// put publishes a service group through the SMP's HTTP API, as a client does.
func (n *smpNode) put(t testing.TB, p string, query string) {
	t.Helper()
	id := participant(t, p)
	body := `<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/">` +
		`<ids:ParticipantIdentifier scheme="` + id.Scheme + `">` + id.Value + `</ids:ParticipantIdentifier>` +
		`<ServiceMetadataReferenceCollection/></ServiceGroup>`
	n.do(t, http.MethodPut, "/"+identifier.EncodeSegment(p)+query, body, http.StatusCreated, http.StatusOK)
}

func (n *smpNode) del(t testing.TB, p string) {
	t.Helper()
	n.do(t, http.MethodDelete, "/"+identifier.EncodeSegment(p), "", http.StatusOK)
}

func (n *smpNode) do(t testing.TB, method, path, body string, want ...int) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.app.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.tok)
	req.Header.Set("Content-Type", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, w := range want {
		if resp.StatusCode == w {
			return
		}
	}
	t.Fatalf("%s %s: HTTP %d, want %v\n%s", method, path, resp.StatusCode, want, b)
}

// registration returns a participant's registration ("" state: none).
func (n *smpNode) registration(t testing.TB, p string) smp.Registration {
	t.Helper()
	r, _, err := n.app.Service().Registration(context.Background(), participant(t, p))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitState waits until p's registration has state (or has none, for "").
func (n *smpNode) waitState(t testing.TB, p string, state smp.RegState) smp.Registration {
	t.Helper()
	var r smp.Registration
	for range 1000 {
		if r = n.registration(t, p); r.State == state {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: registration %+v, want state %q", p, r, state)
	return r
}

// waitDrained waits until the SMP is registered and nothing is pending.
func (n *smpNode) waitDrained(t testing.TB) {
	t.Helper()
	var err error
	for range 2000 {
		var ok bool
		if ok, err = n.app.Registrar().Drained(context.Background()); ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _ := n.app.Registrar().Status(context.Background())
	t.Fatalf("outbox not drained: %v %+v", err, st)
}

// calls returns signpost_smp_sml_calls_total{op, outcome}.
func (n *smpNode) calls(t testing.TB, op, outcome string) float64 {
	t.Helper()
	return counter(t, n.ops.Registry, "signpost_smp_sml_calls_total", map[string]string{"op": op, "outcome": outcome})
}

func counter(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// naptr asks the SML's DNS with dig for p's NAPTR and returns the answer lines ("" when none).
func (s *stack) naptr(t testing.TB, p string) string {
	t.Helper()
	name := identifier.NAPTRName(participant(t, p), zone, identifier.SchemeLabel)
	host, port, _ := strings.Cut(s.sml.cfg.DNS.Listen, ":")
	out, err := exec.Command("dig", "+short", "+time=2", "+tries=2", "-p", port, "@"+host, name, "NAPTR").CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// smlHas reports whether the SML's DNS has a NAPTR for p (miekg/dns, for polling).
func (s *stack) smlHas(t testing.TB, p string) bool {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(identifier.NAPTRName(participant(t, p), zone, identifier.SchemeLabel), dns.TypeNAPTR)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, s.sml.cfg.DNS.Listen)
	if err != nil {
		t.Fatal(err)
	}
	return r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
}

func needDig(t testing.TB) {
	if _, err := exec.LookPath("dig"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dig is missing (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("dig is missing")
	}
}

// issueSMP issues a second SMP certificate from the development CA.
func (s *stack) issueSMP(t testing.TB, cn string) (cert, key string) {
	t.Helper()
	kp, err := pki.LoadKeyPair(s.files.CA, s.files.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &pki.Authority{Cert: kp.Cert, Key: kp.Key}
	now := time.Now()
	l, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(s.dir, cn+".pem"), filepath.Join(s.dir, cn+"-key.pem")
	if err := pki.WriteFiles(cert, key, l.Key, l.Cert, ca.Cert); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// importGroups imports n service groups named prefix-0 ... through the SMP's import (as an export file).
func (n *smpNode) importGroups(t testing.TB, ps []string) {
	t.Helper()
	var b bytes.Buffer
	for _, p := range ps {
		fmt.Fprintf(&b, "{\"service_group\":{\"participant\":%q}}\n", p)
	}
	if _, err := n.app.Service().Import(context.Background(), "test", &b, nil); err != nil {
		t.Fatal(err)
	}
}
