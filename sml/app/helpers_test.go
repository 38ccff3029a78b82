package app

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/admin"
)

// running is an SML started on free loopback ports (DNS and admin listener) for one test, with a client of its
// admin API.
type running struct {
	cfg    *conf.SML
	app    *App
	client *admin.Client
	stop   func() // shuts the servers down and closes the store (also run at cleanup)
}

// startSML starts the SML of one domain sml.test publishing records (e.g. "[naptr, cname]").
func startSML(t *testing.T, records string) *running {
	t.Helper()
	dir := t.TempDir()
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
admin:
  listen: `+testnet.FreeAddr(t)+`
domains:
  - zone: sml.test
    records: `+records+`
`))
	if err != nil {
		t.Fatal(err)
	}
	a, stop := startApp(t, cfg, nil)
	r := &running{cfg: cfg, app: a, stop: stop}
	tok, err := admin.ReadTokenFile(cfg.Admin.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	r.client = &admin.Client{Addr: cfg.Admin.Listen, Token: tok}
	return r
}

// startApp builds the App of cfg with o (nil: its own) and starts its servers. stop shuts them down in reverse
// order and closes the App; it runs once, when called or when the test ends.
func startApp(t testing.TB, cfg *conf.SML, o *ops.Ops) (a *App, stop func()) {
	t.Helper()
	a, err := New(cfg, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	servers := a.Servers()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for i := len(servers) - 1; i >= 0; i-- {
				_ = servers[i].Shutdown(ctx)
			}
			_ = a.Close()
		})
	}
	t.Cleanup(stop)
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return a, stop
}
