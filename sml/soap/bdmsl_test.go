package soap_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// The wildcard participant "*" is registered only by the certificate identities of domains[].wildcard_owners;
// its NAPTR at *.<scheme>.<zone> then answers for every participant of the scheme that has no record of its own.
func TestWildcardOwners(t *testing.T) {
	e := newEnv(t, envOptions{domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].WildcardOwners = []string{pki.Identity(p.clients["smp-a"].Cert)}
	}})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	const urlA = "http://smp-a.example.org"

	// Not a wildcard owner: refused, and nothing answers for an unregistered participant.
	body := bytes.Replace(soaptest.Request(t, "participant-create-wildcard.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultUnauthorized,
		"[ERR-101] ")
	e.wantNAPTR(t, "9915:nobody", "", "")

	e.send(t, "smp-a", "participant-create-wildcard.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:nobody", "Meta:SMP", urlA)
	if rc, ans := e.dig(t, "*.iso6523-actorid-upis."+zoneName, "NAPTR"); rc != "NOERROR" || len(ans) != 1 || !strings.Contains(ans[0], urlA) {
		t.Errorf("wildcard NAPTR: %s %v", rc, ans)
	}
	// A participant of its own is answered with its own record, not the wildcard's.
	body = bytes.Replace(soaptest.Request(t, "participant-create.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-b.example.org/smp")
}
