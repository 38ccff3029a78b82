package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
)

// TestShowParticipantAndCounts: through the running server's admin API, a participant shows with its SMP and
// exactly the records its DNS name answers; the SMP listing counts each SMP's participants; an unknown participant
// is not found.
func TestShowParticipantAndCounts(t *testing.T) {
	r := startSML(t, "[naptr, cname]")
	a, ctx := r.app, context.Background()
	caller := sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}
	svc := a.Service()
	for _, id := range []string{"SMP-1", "SMP-2"} {
		if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: id, LogicalAddress: "http://" + strings.ToLower(id) + ".example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	id := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:5798000000001"}
	other := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:5798000000002"}
	if err := svc.CreateParticipants(ctx, caller, "SMP-1", []sml.ParticipantSpec{{ID: id}, {ID: other}}); err != nil {
		t.Fatal(err)
	}
	client := r.client
	ps, err := client.Participant(ctx, "iso6523-actorid-upis::0088:5798000000001")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].SMP.ID != "SMP-1" || ps[0].Domain != "sml.test." || len(ps[0].Records) != 2 {
		t.Fatalf("participant: %+v", ps)
	}
	// The records shown are the records served.
	udp, _ := a.DNS().Addr()
	c := &dns.Client{Timeout: 2 * time.Second}
	for _, q := range []struct {
		name string
		typ  uint16
	}{{identifier.NAPTRName(id, "sml.test.", identifier.SchemeLabel), dns.TypeNAPTR}, {identifier.CNAMEName(id, "sml.test.", identifier.SchemeLabel), dns.TypeCNAME}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.typ)
		r, _, err := c.Exchange(m, udp.String())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("%s: %v %v", q.name, r, err)
		}
		want := strings.Join(strings.Fields(r.Answer[0].String()), " ")
		found := false
		for _, rec := range ps[0].Records {
			if strings.Join(strings.Fields(rec), " ") == want {
				found = true
			}
		}
		if !found {
			t.Errorf("DNS answers %q; the shown records are %q", want, ps[0].Records)
		}
	}
	smps, err := client.SMPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range smps {
		counts[s.ID] = s.Participants
	}
	if counts["SMP-1"] != 2 || counts["SMP-2"] != 0 {
		t.Fatalf("participant counts %v", counts)
	}
	if _, err := client.Participant(ctx, "iso6523-actorid-upis::0088:5798000000009"); sml.KindOf(err) != sml.KindNotFound {
		t.Fatalf("unknown participant: %v", err)
	}
}

// TestCertificateChangesListed: a scheduled certificate change shows through the running server's admin API as
// pending, with both identities and its moment.
func TestCertificateChangesListed(t *testing.T) {
	r := startSML(t, "[naptr]")
	a, ctx := r.app, context.Background()
	old := sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}
	if err := a.Service().CreateSMP(ctx, old, sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(24 * time.Hour).Add(10 * 24 * time.Hour)
	nu := sml.Successor{Identity: "CN=SMP G3,O=Test,C=BE:2", Domain: "sml.test.", NotBefore: at.Add(-48 * time.Hour), NotAfter: at.Add(365 * 24 * time.Hour), Dated: true}
	if err := a.Service().PrepareChangeCertificate(ctx, old, nu, at); err != nil {
		t.Fatal(err)
	}
	cs, err := r.client.CertificateChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Old != old.Identity || cs[0].New != nu.Identity || !cs[0].At.Equal(at) || !cs[0].Pending || cs[0].Domain != "sml.test." {
		t.Fatalf("certificate changes: %+v", cs)
	}
	// The expiry report: SMP-1's certificate was never seen (created without one), and its change is scheduled.
	es, err := r.client.ExpiringCertificates(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].SMP != "SMP-1" || es[0].NotAfter != nil || es[0].Change == nil || !es[0].Change.Pending || es[0].Change.New != nu.Identity {
		t.Fatalf("expiring certificates: %+v", es)
	}
}
