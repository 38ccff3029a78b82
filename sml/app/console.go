package app

import (
	"net/http"
	"strings"

	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/console"
)

// adminHandler is the admin listener's handler: the JSON admin API (token) under /api/ and the web console
// (sml/console, docs/console.md; its own users and sessions) on every other path.
func adminHandler(api http.Handler, o console.Options) (http.Handler, error) {
	c, err := console.New(o)
	if err != nil {
		return nil, err
	}
	web := c.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		web.ServeHTTP(w, r)
	}), nil
}

// ConsoleStore returns the console's users and sessions on the app's store (`signpost dev` creates its user).
func (a *App) ConsoleStore() sml.ConsoleStore { return a.store.Console }
