package guides

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/internal/testproc"
)

// The identifiers the proxy test publishes: the document type holds "/", "+" and "#", which travel as %2F, %2B
// (or a literal +) and %23, and every identifier holds "::" (%3A%3A).
const (
	guideParticipant = "iso6523-actorid-upis::9915:guide-test"
	guideDocType     = "busdox-docid-qns::urn:example:guide:a/b+c##urn:example:guide#x::1.0"
)

// pathCase is one request path of the proxy test.
type pathCase struct {
	name, path string
}

func guidePaths() []pathCase {
	pid := identifier.EncodeSegment(guideParticipant)
	doc := identifier.EncodeSegment(guideDocType)
	upper := identifier.EncodeSegment("iso6523-actorid-upis::9915:GUIDE-TEST") // participant values are case-insensitive
	return []pathCase{
		{"service group", "/" + pid},
		{"upper-case participant", "/" + upper},
		{"metadata %3A%3A %2F %2B %23", "/" + pid + "/services/" + doc},
		{"metadata with a literal +", "/" + pid + "/services/" + strings.Replace(doc, "%2B", "+", 1)},
		{"upper-case participant, metadata", "/" + upper + "/services/" + doc},
	}
}

// TestNginxPathEncoding runs nginx with the server block of the SMP guide in front of a real `signpost smp serve`
// and requests documents whose paths carry the hard encodings: each must come back through nginx exactly as the
// SMP serves it directly. The same block with a URI part on proxy_pass must break the %2F request: the test
// tells a good proxy configuration from a bad one.
func TestNginxPathEncoding(t *testing.T) {
	nginx := tool(t, "nginx")
	bin := signpostBinary(t)
	blocks := blocksStarting(t, "guide-smp.md", regexp.MustCompile(`^# nginx:`))
	if len(blocks) != 1 || blocks[0].lang != "nginx" {
		t.Fatalf("docs/guide-smp.md: want one ```nginx block starting with '# nginx:', have %d", len(blocks))
	}
	snippet := blocks[0].text

	dir := t.TempDir()
	files, _, err := pki.EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	smpAddr := testnet.FreeAddr(t)
	goodPort, badPort := testnet.FreePort(t), testnet.FreePort(t)
	cfg := guideSMPConfig(t, dir, files, smpAddr, "https://127.0.0.1:"+strconv.Itoa(goodPort))
	importGuideData(t, bin, cfg, files)
	startSMP(t, bin, cfg, smpAddr)

	good := nginxBlock(t, snippet, goodPort, files, smpAddr, false)
	bad := nginxBlock(t, snippet, badPort, files, smpAddr, true)
	startNginx(t, nginx, good, goodPort)
	startNginx(t, nginx, bad, badPort)

	roots, err := pki.LoadCertPool(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	for _, c := range guidePaths() {
		direct, dbody := get(t, client, "http://"+smpAddr+c.path)
		if direct != http.StatusOK {
			t.Fatalf("%s: the SMP itself answers %d to %s:\n%s", c.name, direct, c.path, dbody)
		}
		status, body := get(t, client, "https://127.0.0.1:"+strconv.Itoa(goodPort)+c.path)
		if status != http.StatusOK || !bytes.Equal(body, dbody) {
			t.Errorf("%s: through nginx with the guide's block: %d, %d bytes (directly: 200, %d bytes) for %s",
				c.name, status, len(body), len(dbody), c.path)
		}
	}
	// The bad block decodes %2F on its way to the SMP: the document is not found.
	c := guidePaths()[2]
	status, _ := get(t, client, "https://127.0.0.1:"+strconv.Itoa(badPort)+c.path)
	t.Logf("proxy_pass with a URI part: %d for %s", status, c.name)
	if status == http.StatusOK {
		t.Errorf("proxy_pass with a URI part passed %s unchanged: the test cannot tell a bad proxy from a good one", c.path)
	}
}

func get(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// guideImport is the import file of the proxy and migration tests: the test participant and its document type.
func guideImport(t *testing.T, files pki.DevFiles) string {
	t.Helper()
	apPEM, err := os.ReadFile(files.AP)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(apPEM)
	if blk == nil {
		t.Fatal("no PEM in " + files.AP)
	}
	return fmt.Sprintf(`{"service_group": {"participant": %q}}
{"service_metadata": {"participant": %q, "document_type": %q, "processes": [{"id": "cenbii-procid-ubl::urn:example:guide:process", "endpoints": [{"transport_profile": "peppol-transport-as4-v2_0", "address": "https://ap.example.org/as4", "certificate": %q}]}]}}
`, guideParticipant, guideParticipant, guideDocType, base64.StdEncoding.EncodeToString(blk.Bytes))
}

// guideSMPConfig writes an SMP configuration with its store in dir, serving on smpAddr, and returns its path.
func guideSMPConfig(t *testing.T, dir string, files pki.DevFiles, smpAddr, publicURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`store: {path: %q}
log: {level: warn}
ops: {addr: %q}
http: {listen: %q}
admin: {listen: %q, token_file: %q}
smp_id: SMP-GUIDE
public_url: %s
signing: {cert: %q, key: %q}
`, filepath.Join(dir, "smp.db"), testnet.FreeAddr(t), smpAddr, testnet.FreeAddr(t), filepath.Join(dir, "smp-admin.token"),
		publicURL, files.SMP, files.SMPKey)
	path := filepath.Join(dir, "smp.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// importGuideData loads guideImport into the store of cfg with `signpost smp import`.
func importGuideData(t *testing.T, bin, cfg string, files pki.DevFiles) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "guide.jsonl")
	if err := os.WriteFile(path, []byte(guideImport(t, files)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "smp", "import", "--config", cfg, path).CombinedOutput(); err != nil {
		t.Fatalf("signpost smp import: %v\n%s", err, out)
	}
}

// startSMP runs `signpost smp serve --config cfg` until the end of the test and waits until it listens on addr.
func startSMP(t *testing.T, bin, cfg, addr string) {
	t.Helper()
	out := startProcess(t, bin, "smp", "serve", "--config", cfg)
	waitListening(t, "signpost smp serve", addr, out)
}

// nginxBlock adapts the guide's server block to the test: its listen port, the dev PKI's server certificate, the
// SMP's address. Each replaced line must be there exactly once, so a changed guide fails here rather than testing
// something else. With uriPart, proxy_pass gets a URI part (the configuration the guide warns against).
func nginxBlock(t *testing.T, snippet string, port int, files pki.DevFiles, smpAddr string, uriPart bool) string {
	t.Helper()
	upstream := "proxy_pass http://" + smpAddr + ";"
	if uriPart {
		upstream = "proxy_pass http://" + smpAddr + "/;"
	}
	for _, r := range []struct{ re, with string }{
		{`listen 443 ssl;`, fmt.Sprintf("listen 127.0.0.1:%d ssl;", port)},
		{`ssl_certificate\s+\S+;`, "ssl_certificate " + files.SML + ";"},
		{`ssl_certificate_key\s+\S+;`, "ssl_certificate_key " + files.SMLKey + ";"},
		{`proxy_pass http://127\.0\.0\.1:8080;`, upstream},
	} {
		re := regexp.MustCompile(r.re)
		if n := len(re.FindAllString(snippet, -1)); n != 1 {
			t.Fatalf("docs/guide-smp.md nginx block: want one line matching %q, have %d", r.re, n)
		}
		snippet = re.ReplaceAllLiteralString(snippet, r.with)
	}
	return snippet
}

// startNginx runs nginx in the foreground with server inside a minimal http block, in a directory of its own.
func startNginx(t *testing.T, nginx, server string, port int) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s}
`, dir, server)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t refuses the guide's block: %v\n%s\n%s", err, out, conf)
	}
	out := startProcess(t, nginx, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path, "-g", "daemon off;")
	waitListening(t, "nginx", "127.0.0.1:"+strconv.Itoa(port), out)
}

// waitListening waits until something accepts TCP connections at addr (bounded: 30 s).
func waitListening(t *testing.T, what, addr string, out *testproc.Daemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen at %s: %v\n%s", what, addr, err, out.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
