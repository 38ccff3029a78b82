package admin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
)

// The pending migrations over HTTP are those of the store: none at first, then the prepared one with its SMP and
// expiry (the default key TTL, 30 days), and none once it is used.
func TestMigrationsMatchLocal(t *testing.T) {
	svc := newService(t)
	local := Local{B: svc}
	c := &Client{Addr: serve(t, svc, nil), Token: testToken}
	ctx := context.Background()

	ms, err := c.Migrations(ctx)
	if err != nil || len(ms) != 0 {
		t.Fatalf("migrations of an empty store: %v %v", ms, err)
	}

	a := sml.Caller{Identity: "CN=a,O=A,C=BE:1", Domain: "sml.test."}
	b := sml.Caller{Identity: "CN=b,O=B,C=BE:2", Domain: "sml.test."}
	p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:moving"}
	for _, s := range []struct {
		c  sml.Caller
		id string
	}{{a, "SMP-A"}, {b, "SMP-B"}} {
		if err := svc.CreateSMP(ctx, s.c, sml.SMP{ID: s.id, LogicalAddress: "https://" + s.id + ".example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.CreateParticipants(ctx, a, "SMP-A", []sml.ParticipantSpec{{ID: p}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.PrepareToMigrate(ctx, a, "SMP-A", p, "Ab12@#cdEF34"); err != nil {
		t.Fatal(err)
	}
	ms, err = c.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lms, err := local.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Migration{Domain: "sml.test.", Participant: "iso6523-actorid-upis::9915:moving", SMP: "SMP-A",
		Prepared: fixedNow(), Expires: fixedNow().Add(30 * 24 * time.Hour)}
	if len(ms) != 1 || fmt.Sprint(ms) != fmt.Sprint(lms) || !ms[0].Prepared.Equal(want.Prepared) || !ms[0].Expires.Equal(want.Expires) ||
		ms[0].Domain != want.Domain || ms[0].Participant != want.Participant || ms[0].SMP != want.SMP {
		t.Fatalf("migrations over HTTP %+v, local %+v, want [%+v]", ms, lms, want)
	}

	if err := svc.Migrate(ctx, b, "SMP-B", p, "Ab12@#cdEF34"); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Migrations(ctx); err != nil || len(ms) != 0 {
		t.Errorf("migrations after the key was used: %v %v", ms, err)
	}
}
