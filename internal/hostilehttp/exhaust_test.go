package hostilehttp

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAcceptExhaustion: a plain handler served through lifecycle.HTTP outlives running out of descriptors.
func TestAcceptExhaustion(t *testing.T) {
	AcceptExhaustion(t, Exhaustion{
		Handler: func(testing.TB) http.Handler { return PathHandler("/ok") },
		Target:  Target{Path: "/ok"},
	})
}

// TestAcceptExhaustionFailsFragileServer: the same storm against an accept loop that stops at its first error
// (what the SMP's old listener did) fails: the GET after the storm is never answered.
func TestAcceptExhaustionFailsFragileServer(t *testing.T) {
	e := Exhaustion{
		Handler: func(testing.TB) http.Handler { return PathHandler("/ok") },
		Target:  Target{Path: "/ok"},
		fragile: true,
	}.withDefaults()
	if name, ok := lookupChild(); ok && name == t.Name() {
		exhaustChild(t, e)
		return
	}
	e.Timeout = 5 * time.Second // only bounds how long the expected failure takes to show
	err := exhaust(t, e)
	if err == nil || !strings.Contains(err.Error(), "the listener stopped accepting") && !strings.Contains(err.Error(), "GET after the storm") {
		t.Fatalf("the storm against a fragile accept loop: %v, want the GET after it to fail", err)
	}
	if !strings.Contains(err.Error(), "fragile: accept: ") || !strings.Contains(err.Error(), "too many open files; giving up") {
		t.Fatalf("the fragile loop did not give up on EMFILE: %v", err)
	}
}

func TestRunPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestA":            "^TestA$",
		"TestA/sub_case#1": "^TestA$/^sub_case#1$",
		"TestA/x.y(z)":     `^TestA$/^x\.y\(z\)$`,
	} {
		if got := runPattern(name); got != want {
			t.Errorf("runPattern(%q) = %q, want %q", name, got, want)
		}
	}
}
