// Package testproc runs a test's child process for crash tests: the test binary re-executes one test with an
// environment variable set, the child reports each acknowledged write on stdout, and the parent kills it.
package testproc

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// KillAfterAcks re-runs the current test binary on test (an exact test name) with env ("KEY=VALUE") added,
// collects the values of the child's "acked VALUE" stdout lines until n have arrived, kills the child with
// SIGKILL and returns them. It fails the test when the child ends before acknowledging n writes.
func KillAfterAcks(t testing.TB, test, env string, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for len(acked) < n && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, v)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < n {
		t.Fatalf("testproc: child acknowledged only %d of %d writes", len(acked), n)
	}
	return acked
}
