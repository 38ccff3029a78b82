package smp_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// TestAllowListsThePathsMethods: a 405 names in Allow the methods the path has (RFC 9110 15.5.6), not every
// method of the API: /{participant}/services has DELETE only, /{participant} has no POST.
func TestAllowListsThePathsMethods(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	f.srv.Handler = httpapi.Public(httpapi.Options{SMP: f.svc, Creds: auth.New(nil, nil), Write: true, Registerer: prometheus.NewRegistry()})
	for _, c := range []struct{ method, path, want string }{
		{http.MethodGet, "/" + seg(demoParticipant) + "/services", "DELETE"},
		{http.MethodPut, "/" + seg(demoParticipant) + "/services", "DELETE"},
		{http.MethodPost, "/" + seg(demoParticipant), "GET, HEAD, PUT, DELETE"},
	} {
		r, body := f.do(c.method, c.path)
		if r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, r.StatusCode)
			continue
		}
		if got := sortedMethods(r.Header.Get("Allow")); got != sortedMethods(c.want) {
			t.Errorf("%s %s: Allow %q, want %q (%s)", c.method, c.path, r.Header.Get("Allow"), c.want, body)
		}
	}
}

func sortedMethods(s string) string {
	var ms []string
	for _, m := range strings.Split(s, ",") {
		ms = append(ms, strings.TrimSpace(m))
	}
	slices.Sort(ms)
	return strings.Join(ms, ",")
}
