package app

import (
	"net/http"
	"strings"

	"github.com/signpost-project/signpost/smp/console"
	"github.com/signpost-project/signpost/smp/httpapi"
)

// adminHandler is the admin listener's handler: the JSON admin API under /api/ and the web console
// (smp/console, docs/console.md) on every other path.
func adminHandler(api http.Handler, o console.Options) (http.Handler, error) {
	c, err := console.New(o)
	if err != nil {
		return nil, err
	}
	web := c.Handler()
	prefix := strings.TrimSuffix(httpapi.PathAPI, "v1/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			api.ServeHTTP(w, r)
			return
		}
		web.ServeHTTP(w, r)
	}), nil
}
