package lookup

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup/lookuptest"
	"github.com/signpost-project/signpost/xmldsig"
)

// TestChooseNAPTRExported: the exported step 2 chooses as a lookup does, and prefers https when asked to.
func TestChooseNAPTRExported(t *testing.T) {
	var rrs []dns.RR
	for _, s := range []string{
		`x.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://plain!" .`,
		`x.sml.test. 60 IN NAPTR 200 10 "U" "Meta:SMP" "!^.*$!https://secure!" .`,
	} {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, r)
	}
	if ch, seen := ChooseNAPTR(rrs, "x.sml.test", false); ch.URL != "http://plain" || ch.Binding != BindingRoot || len(seen) != 2 {
		t.Errorf("without preferHTTPS: %+v %v", ch, seen)
	}
	if ch, _ := ChooseNAPTR(rrs, "x.sml.test", true); ch.URL != "https://secure" || ch.Record == nil || ch.Record.Order != 200 {
		t.Errorf("with preferHTTPS: %+v", ch)
	}
	if ch, _ := ChooseNAPTR(rrs[:1], "x.sml.test", true); ch.URL != "http://plain" {
		t.Errorf("only http, preferHTTPS: %+v", ch)
	}
	if u, err := ApplyNAPTRRule(`!^(.*)\.sml\.test$!https://\1.smp!`, "x.sml.test"); err != nil || u != "https://x.smp" {
		t.Errorf("ApplyNAPTRRule: %q %v", u, err)
	}
	if _, err := ApplyNAPTRRule(`!^y$!https://smp!`, "x.sml.test"); err == nil {
		t.Error("ApplyNAPTRRule: a rule that does not match gave a URL")
	}
}

// TestNAPTRRecords: the participant's records from the client's name servers; NXDOMAIN is "does not exist", a
// dead server a DNSFailure.
func TestNAPTRRecords(t *testing.T) {
	pid := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:naptr-records"}
	name := identifier.NAPTRName(pid, "sml.test", identifier.SchemeLabel)
	d := lookuptest.StartDNS(t, "sml.test", name+` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!https://smp.test!" .`)
	p := lookuptest.NewPKI(t)
	newClient := func(server string) *Client {
		c, err := New(Config{Zone: "sml.test", Servers: []string{server}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()}, DNSAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient(d.Addr)
	n, rrs, exists, err := c.NAPTRRecords(context.Background(), pid)
	if err != nil || !exists || len(rrs) != 1 || n+"." != name {
		t.Fatalf("%s %v %v %v", n, rrs, exists, err)
	}
	if ch, _ := ChooseNAPTR(rrs, n, true); ch.URL != "https://smp.test" {
		t.Errorf("chose %+v", ch)
	}
	other := identifier.ID{Scheme: pid.Scheme, Value: "9915:nobody"}
	if _, _, exists, err := c.NAPTRRecords(context.Background(), other); err != nil || exists {
		t.Errorf("NXDOMAIN: exists %v, %v", exists, err)
	}
	if _, _, _, err := newClient(lookuptest.ClosedAddr(t)).NAPTRRecords(context.Background(), pid); KindOf(err) != DNSFailure {
		t.Errorf("dead server: %v", err)
	}
}
