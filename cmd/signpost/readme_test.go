package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeTryIt returns the commands of README.md's "Try it" block: one per line, with continuation lines joined,
// and the exit status each must end with (0 unless its line ends with "# exits N").
func readmeTryIt(t *testing.T) (cmds []string, want []int) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Try it\n")
	if !ok {
		t.Fatal(`README.md has no "### Try it" section`)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal(`README.md's "Try it" section has no sh block`)
	}
	block, _, _ := strings.Cut(rest, "```")
	exits := regexp.MustCompile(`\s+# exits (\d+)$`)
	cur := ""
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cur += c
			continue
		}
		line = cur + line
		cur = ""
		code := 0
		if m := exits.FindStringSubmatch(line); m != nil {
			code, _ = strconv.Atoi(m[1])
			line = line[:len(line)-len(m[0])]
		}
		cmds, want = append(cmds, line), append(want, code)
	}
	if len(cmds) < 5 {
		t.Fatalf("README.md's Try it block has %d commands, want the five steps", len(cmds))
	}
	return cmds, want
}

// TestReadmeTryIt runs README.md's "Try it" commands, as written, against `signpost dev` (with this test's ports
// and directory in place of the defaults): PUT a participant with curl and the admin token, wait for the SML, look
// it up, DELETE it, and the lookup says not registered (exit 3).
func TestReadmeTryIt(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is missing (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("curl is missing")
	}
	cmds, want := readmeTryIt(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	ports := freeDevPorts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startDev(t, ctx, bin, dir, ports)
	// The README's addresses are dev's defaults.
	defaults := map[string]string{
		"127.0.0.1:15353": ports["--dns-addr"], "127.0.0.1:18443": ports["--sml-addr"], "127.0.0.1:18080": ports["--smp-addr"],
		"127.0.0.1:18081": ports["--smp-admin-addr"], "127.0.0.1:18082": ports["--sml-admin-addr"], "127.0.0.1:19090": ports["--ops-addr"],
	}

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		line := strings.ReplaceAll(c, "bin/signpost", bin)
		line = strings.ReplaceAll(line, "data/dev", dir)
		for def, addr := range defaults {
			line = strings.ReplaceAll(line, def, addr)
		}
		sh := exec.CommandContext(ctx, "sh", "-c", line)
		sh.Dir = root
		out, err := sh.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if code != want[i] {
			t.Fatalf("README Try it, command %d exited %d, want %d:\n%s\n%s", i+1, code, want[i], c, out)
		}
		if strings.Contains(c, "signpost lookup") && want[i] == 0 && !strings.Contains(string(out), "iso6523-actorid-upis::9915:xxx") {
			t.Errorf("command %d: the lookup does not name the participant:\n%s", i+1, out)
		}
	}
}
