package guides

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/signpost-project/signpost/internal/testproc"
)

// The guides, relative to this package's directory.
var guides = []string{"guide-sml.md", "guide-smp.md", "guide-access-point.md"}

// docBinary is where the systemd units of the guides expect the binary; the tests replace it with a fresh build.
const docBinary = "/usr/local/bin/signpost"

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// block is one fenced code block of a Markdown file.
type block struct {
	lang string
	text string
	line int // of the opening fence
}

// fencedBlocks returns the fenced code blocks (``` fences) of a Markdown file, in order.
func fencedBlocks(t testing.TB, name string) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimPrefix(trimmed, "```"), line: n}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if cur != nil {
		t.Fatalf("docs/%s:%d: code block never closed", name, cur.line)
	}
	return out
}

// blockStarting returns the blocks of a guide whose first line matches re.
func blocksStarting(t testing.TB, name string, re *regexp.Regexp) []block {
	t.Helper()
	var out []block
	for _, b := range fencedBlocks(t, name) {
		first, _, _ := strings.Cut(b.text, "\n")
		if re.MatchString(first) {
			out = append(out, b)
		}
	}
	return out
}

// tool returns the path of an external program, failing the test when it is missing (scripts/install-test-deps.sh
// installs every one the tests use).
func tool(t testing.TB, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s is not installed: run scripts/install-test-deps.sh (or `make test-deps`)", name)
	return ""
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
	buildDir  string
)

// signpostBinary builds cmd/signpost once per test run and returns its path.
func signpostBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "signpost-guides-")
		if buildErr != nil {
			return
		}
		builtPath = filepath.Join(buildDir, "signpost")
		cmd := exec.Command("go", "build", "-o", builtPath, "./cmd/signpost")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/signpost: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var reUnitHeader = regexp.MustCompile(`^# /etc/systemd/system/([A-Za-z0-9@_.-]+\.(service|timer))$`)

// systemdAnalyze returns the path of systemd-analyze. It skips the test when the tool is missing on a developer's
// machine, and fails it in CI (CI=true), where scripts/install-test-deps.sh must have installed it.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("systemd-analyze is not installed, and CI must run this test: scripts/install-test-deps.sh installs the Debian package systemd")
	}
	t.Skip("systemd-analyze is not installed (Debian package systemd; scripts/install-test-deps.sh installs it)")
	return ""
}

// verifyUnits writes units (file name -> text) into a directory of their own and runs systemd-analyze verify on
// them together (a timer finds its service beside it). It returns the tool's output and its error.
func verifyUnits(t *testing.T, analyze string, units map[string]string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, text := range units {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSystemdUnits checks every systemd unit of every guide with systemd-analyze verify, ExecStart pointing at a
// fresh build of signpost: the tool must succeed and print nothing (it prints unknown keys and bad values as
// warnings and still exits 0).
func TestSystemdUnits(t *testing.T) {
	analyze := systemdAnalyze(t)
	bin := signpostBinary(t)
	total := 0
	for _, g := range guides {
		t.Run(g, func(t *testing.T) {
			units := map[string]string{}
			for _, b := range blocksStarting(t, g, reUnitHeader) {
				if b.lang != "ini" {
					t.Errorf("docs/%s:%d: a systemd unit block should be marked ini, not %q", g, b.line, b.lang)
				}
				first, _, _ := strings.Cut(b.text, "\n")
				name := reUnitHeader.FindStringSubmatch(first)[1]
				if !strings.Contains(b.text, "ExecStart="+docBinary+" ") && strings.HasSuffix(name, ".service") {
					t.Errorf("docs/%s:%d: %s does not start %s", g, b.line, name, docBinary)
				}
				units[name] = strings.ReplaceAll(b.text, docBinary, bin)
			}
			if len(units) == 0 {
				t.Fatalf("docs/%s has no systemd unit (a ```ini block starting with # /etc/systemd/system/NAME.service)", g)
			}
			total += len(units)
			out, err := verifyUnits(t, analyze, units)
			if err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("systemd-analyze verify of the units of docs/%s: %v\n%s", g, err, out)
			}
		})
	}
	t.Logf("%d units verified", total)
}

// TestSystemdCheckerCatches shows that the check above can fail: a misspelt key (a warning only) and an ExecStart
// that is not executable are both caught.
func TestSystemdCheckerCatches(t *testing.T) {
	analyze := systemdAnalyze(t)
	bin := signpostBinary(t)
	good := "[Unit]\nDescription=x\n\n[Service]\nType=exec\nExecStart=" + bin + " version\n"
	if out, err := verifyUnits(t, analyze, map[string]string{"good.service": good}); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("a good unit was refused: %v\n%s", err, out)
	}
	typo := strings.Replace(good, "Type=exec", "Tpye=exec", 1)
	if out, _ := verifyUnits(t, analyze, map[string]string{"typo.service": typo}); !strings.Contains(out, "Tpye") {
		t.Errorf("a misspelt key went unnoticed: %q", out)
	}
	missing := strings.Replace(good, bin, filepath.Join(t.TempDir(), "no-such-signpost"), 1)
	if out, err := verifyUnits(t, analyze, map[string]string{"missing.service": missing}); err == nil {
		t.Errorf("a unit whose ExecStart does not exist passed: %q", out)
	}
}

// TestDNSSecondarySnippets checks the BIND and Knot snippets of the SML guide with the servers' own checkers,
// inside a minimal configuration; a broken reference (a zone naming a primary that is not defined) must fail.
func TestDNSSecondarySnippets(t *testing.T) {
	bind := blocksStarting(t, "guide-sml.md", regexp.MustCompile(`^// named\.conf`))
	knot := blocksStarting(t, "guide-sml.md", regexp.MustCompile(`^# knot\.conf`))
	if len(bind) != 1 || len(knot) != 1 {
		t.Fatalf("docs/guide-sml.md: want one BIND block (// named.conf ...) and one Knot block (# knot.conf ...), have %d and %d", len(bind), len(knot))
	}
	dir := t.TempDir()
	checkBIND := func(snippet string) ([]byte, error) {
		conf := fmt.Sprintf("options { directory %q; recursion no; };\n%s", dir, snippet)
		p := filepath.Join(dir, "named.conf")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(tool(t, "named-checkconf"), p).CombinedOutput()
	}
	checkKnot := func(snippet string) ([]byte, error) {
		conf := fmt.Sprintf("server:\n    rundir: %q\n%s", dir, snippet)
		p := filepath.Join(dir, "knot.conf")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(tool(t, "knotc"), "-c", p, "conf-check").CombinedOutput()
	}
	if out, err := checkBIND(bind[0].text); err != nil {
		t.Errorf("named-checkconf refuses the BIND block of docs/guide-sml.md:%d: %v\n%s", bind[0].line, err, out)
	}
	if out, err := checkKnot(knot[0].text); err != nil {
		t.Errorf("knotc conf-check refuses the Knot block of docs/guide-sml.md:%d: %v\n%s", knot[0].line, err, out)
	}
	// The checkers catch a mistake: a zone type BIND does not know, a remote Knot does not know.
	if out, err := checkBIND(strings.Replace(bind[0].text, "type secondary;", "type secundary;", 1)); err == nil {
		t.Errorf("named-checkconf accepted an unknown zone type: %s", out)
	}
	if out, err := checkKnot(strings.Replace(knot[0].text, "master: sml-primary", "master: other", 1)); err == nil {
		t.Errorf("knotc conf-check accepted an undefined remote: %s", out)
	}
}

// TestGoSnippet checks that every line of the Go block of the access point guide is a line of the compiled
// example in package lookup, in the same order (whitespace runs compared as one space).
func TestGoSnippet(t *testing.T) {
	var code []block
	for _, b := range fencedBlocks(t, "guide-access-point.md") {
		if b.lang == "go" {
			code = append(code, b)
		}
	}
	if len(code) != 1 {
		t.Fatalf("docs/guide-access-point.md: want one go block, have %d", len(code))
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "lookup", "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var example []string
	for _, l := range strings.Split(string(data), "\n") {
		example = append(example, norm(l))
	}
	i := 0
	for _, l := range strings.Split(code[0].text, "\n") {
		want := norm(l)
		if want == "" {
			continue
		}
		for i < len(example) && example[i] != want {
			i++
		}
		if i == len(example) {
			t.Fatalf("docs/guide-access-point.md: the line %q is not in lookup/example_test.go (or not in this order)", want)
		}
		i++
	}
}

// startProcess starts a long-running program with its output collected, and stops it at the end of the test.
func startProcess(t *testing.T, name string, args ...string) *testproc.Daemon {
	t.Helper()
	return testproc.StartDaemon(t, name, args...)
}
