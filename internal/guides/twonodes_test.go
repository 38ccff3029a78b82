package guides

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
)

// twoNodesConfig returns a configuration of docs/guide-two-nodes.md, its one yaml block that holds marker
// ("smp_id:" for the SMP's, "\ndns:" for the SML's), with the values of set ("section.key" or "key" -> value) put
// in, the sections of drop removed and extra appended. Every key of set must be in the guide's block, so that a
// guide that changes its keys fails here.
func twoNodesConfig(t *testing.T, marker string, set map[string]string, drop []string, extra string) string {
	t.Helper()
	var blocks []block
	for _, b := range fencedBlocks(t, "guide-two-nodes.md") {
		if b.lang == "yaml" && strings.Contains("\n"+b.text, marker) {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("docs/guide-two-nodes.md: want one yaml block with %q, have %d", marker, len(blocks))
	}
	keyRE := regexp.MustCompile(`^(\s*)([a-z_0-9]+):(.*)$`)
	seen := map[string]bool{}
	var out strings.Builder
	section, dropping := "", false
	sc := bufio.NewScanner(strings.NewReader(blocks[0].text))
	for sc.Scan() {
		line := sc.Text()
		m := keyRE.FindStringSubmatch(line)
		if m == nil {
			if !dropping {
				out.WriteString(line + "\n")
			}
			continue
		}
		name := m[2]
		if m[1] == "" {
			section = name
			dropping = false
			for _, d := range drop {
				if d == name {
					dropping = true
				}
			}
		} else {
			name = section + "." + name
		}
		if dropping {
			continue
		}
		if v, ok := set[name]; ok {
			seen[name] = true
			line = m[1] + m[2] + ": " + v
		}
		out.WriteString(line + "\n")
	}
	for k := range set {
		if !seen[k] {
			t.Fatalf("docs/guide-two-nodes.md: the yaml block has no %s", k)
		}
	}
	return out.String() + extra
}

// twoNodesSetup is what the two-node guide tests start from: the binary, a database on a PostgreSQL cluster of the
// test's own, a directory and the development PKI in it.
func twoNodesSetup(t *testing.T) (bin, dsn, dir string, files pki.DevFiles) {
	t.Helper()
	bin = signpostBinary(t)
	dsn = pgtest.Start(t).NewDatabase(t)
	dir = t.TempDir()
	files, _, err := pki.EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return bin, dsn, dir, files
}

// nodeDir makes the data directory of node name.
func nodeDir(t *testing.T, dir, name string) string {
	t.Helper()
	ndir := filepath.Join(dir, name)
	if err := os.MkdirAll(ndir, 0o700); err != nil {
		t.Fatal(err)
	}
	return ndir
}

// startNode writes the configuration y into ndir, runs `signpost KIND serve` with it until the test ends, waits
// until it listens at addr, and returns what kills it with SIGKILL.
func startNode(t *testing.T, bin, ndir, kind, y, addr string) (kill func()) {
	t.Helper()
	cfg := filepath.Join(ndir, kind+".yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startProcess(t, bin, kind, "serve", "--config", cfg)
	waitListening(t, "signpost "+kind+" serve in "+ndir, addr, d)
	return func() { _ = d.Cmd.Process.Kill() }
}

// within polls cond until it holds, failing the test after 10 s.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// streamUntilKilled calls write(i) for i = 0, 1, ... until it fails (the node is gone), kills the node once n
// writes were acknowledged, and returns what write acknowledged (its first result, when the second is true).
func streamUntilKilled[K any](t *testing.T, n int, write func(i int) (K, bool, error), kill func()) []K {
	t.Helper()
	var (
		mu    sync.Mutex
		acked []K
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			k, ok, err := write(i)
			if err != nil {
				return // the node is gone
			}
			if ok {
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		}
	}()
	within(t, "the node acknowledges writes", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= n })
	kill()
	wg.Wait()
	return acked
}

// TestGuideTwoNodes runs two `signpost smp serve` processes with the configuration of docs/guide-two-nodes.md on
// one PostgreSQL database: a service group written on one is served by the other, its delete too; while the first
// takes a stream of writes it is killed with SIGKILL, and every write it acknowledged is served by the second,
// which now runs the single-node jobs (signpost_smp_runs_jobs 1).
func TestGuideTwoNodes(t *testing.T) {
	bin, dsn, dir, files := twoNodesSetup(t)
	type node struct {
		http, ops, token string
		kill             func()
	}
	start := func(name string) *node {
		n := &node{http: testnet.FreeAddr(t), ops: testnet.FreeAddr(t)}
		ndir := nodeDir(t, dir, name)
		n.token = filepath.Join(ndir, "smp-admin.token")
		y := twoNodesConfig(t, "smp_id:", map[string]string{
			"store.dsn":        fmt.Sprintf("%q", dsn),
			"store.path":       filepath.Join(ndir, "smp.db"),
			"http.listen":      n.http,
			"admin.listen":     testnet.FreeAddr(t),
			"admin.token_file": n.token,
			"public_url":       "http://smp.test",
			"signing.cert":     files.SMP,
			"signing.key":      files.SMPKey,
		}, []string{"sml"}, fmt.Sprintf("ops: {addr: %q}\nlog: {level: warn}\n", n.ops))
		n.kill = startNode(t, bin, ndir, "smp", y, n.http)
		return n
	}
	a, b := start("a"), start("b")
	tok, err := os.ReadFile(a.token)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	do := func(method, addr, p string) (int, string, error) {
		var body io.Reader
		if method == http.MethodPut {
			id, _ := identifier.OASIS.Parse(identifier.Participant, p)
			body = strings.NewReader(`<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/">` +
				`<ids:ParticipantIdentifier scheme="` + id.Scheme + `">` + id.Value + `</ids:ParticipantIdentifier>` +
				`<ServiceMetadataReferenceCollection/></ServiceGroup>`)
		}
		req, err := http.NewRequest(method, "http://"+addr+"/"+identifier.EncodeSegment(p), body)
		if err != nil {
			return 0, "", err
		}
		if method != http.MethodGet {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/xml")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	const p = "iso6523-actorid-upis::9915:two-nodes"
	if code, body, err := do(http.MethodPut, a.http, p); err != nil || code != 201 {
		t.Fatalf("PUT on A: %d %v %s", code, err, body)
	}
	if code, body, err := do(http.MethodGet, b.http, p); err != nil || code != 200 || !strings.Contains(body, "9915:two-nodes") {
		t.Fatalf("GET on B: %d %v %s", code, err, body)
	}
	if code, body, err := do(http.MethodDelete, a.http, p); err != nil || code != 200 {
		t.Fatalf("DELETE on A: %d %v %s", code, err, body)
	}
	within(t, "B answers 404 for the group deleted on A", func() bool {
		code, _, err := do(http.MethodGet, b.http, p)
		return err == nil && code == 404
	})

	// A stream of writes to A, which is killed with SIGKILL meanwhile.
	acked := streamUntilKilled(t, 20, func(i int) (string, bool, error) {
		q := fmt.Sprintf("iso6523-actorid-upis::9915:stream-%04d", i)
		code, _, err := do(http.MethodPut, a.http, q)
		return q, code == 201, err
	}, a.kill)
	for _, q := range acked {
		if code, body, err := do(http.MethodGet, b.http, q); err != nil || code != 200 {
			t.Errorf("%s acknowledged by A before SIGKILL, on B: %d %v %s", q, code, err, body)
		}
	}
	within(t, "B runs the single-node jobs", func() bool {
		resp, err := http.Get("http://" + b.ops + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		m, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(m), "\nsignpost_smp_runs_jobs 1\n")
	})
	t.Logf("%d writes acknowledged by A before SIGKILL, all served by B", len(acked))
}
