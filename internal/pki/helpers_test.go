package pki

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// openssl runs the real openssl command (see TESTING.md for installing it) and
// returns its exit code and combined output.
func openssl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not found in PATH (install it, see TESTING.md): %v", err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("running openssl %s: %v", strings.Join(args, " "), err)
	return -1, ""
}

// testNow is a fixed instant, so tests do not depend on the clock.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustRoot(t *testing.T, cn string) *Authority {
	t.Helper()
	ca, err := NewRoot(cn, testNow.Add(-time.Hour), testNow.AddDate(10, 0, 0))
	if err != nil {
		t.Fatalf("NewRoot(%q): %v", cn, err)
	}
	return ca
}

func mustIssue(t *testing.T, ca *Authority, p Profile, cn string, hosts ...string) *Leaf {
	t.Helper()
	l, err := ca.Issue(LeafSpec{Profile: p, CommonName: cn, Organization: "Signpost Test", Country: "BE",
		Hosts: hosts, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.AddDate(2, 0, 0)})
	if err != nil {
		t.Fatalf("Issue(%s, %q): %v", p, cn, err)
	}
	return l
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
