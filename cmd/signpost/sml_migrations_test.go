package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
)

// `sml migrations` lists a prepared migration from the store (server stopped) and through the running server's
// admin API, as a table and as JSON.
func TestSMLMigrationsCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath, c := smlConfig(t, dir)
	ctx := context.Background()

	st, svc, err := openSMLService(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	a := sml.Caller{Identity: "CN=a,O=A,C=BE:1", Domain: "sml.test."}
	p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:moving"}
	if err := svc.CreateSMP(ctx, a, sml.SMP{ID: "SMP-A", LogicalAddress: "https://a.example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateParticipants(ctx, a, "SMP-A", []sml.ParticipantSpec{{ID: p}, {ID: identifier.ID{Scheme: p.Scheme, Value: "9915:staying"}}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.PrepareToMigrate(ctx, a, "SMP-A", p, "Ab12@#cdEF34"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	row := regexp.MustCompile(`(?m)^sml\.test\.\s+iso6523-actorid-upis::9915:moving\s+SMP-A\s+\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z$`)
	check := func(how string, wantNote bool) {
		t.Helper()
		out, errOut, code := runSML(t, ctx, "sml", "migrations", "--config", cfgPath)
		if code != 0 || !row.MatchString(out) || strings.Contains(out, "staying") || strings.Count(out, "\n") != 2 ||
			strings.Contains(errOut, "working on the store") != wantNote {
			t.Fatalf("%s: exit %d\n%s%s", how, code, out, errOut)
		}
		out, errOut, code = runSML(t, ctx, "sml", "migrations", "--config", cfgPath, "--json")
		var got struct {
			Migrations []admin.Migration `json:"migrations"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got.Migrations) != 1 ||
			got.Migrations[0].Participant != "iso6523-actorid-upis::9915:moving" || got.Migrations[0].SMP != "SMP-A" ||
			!got.Migrations[0].Expires.After(got.Migrations[0].Prepared) {
			t.Fatalf("%s --json: exit %d\n%s%s", how, code, out, errOut)
		}
	}
	check("on the store", true)
	startSMLServe(t, c)
	check("through the server", false)
}
