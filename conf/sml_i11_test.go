package conf_test

import (
	"strings"
	"testing"

	"github.com/signpost-project/signpost/conf"
)

// trusted_issuers takes one file or a list; wildcard_owners and authority take certificate identities;
// list_participants_max defaults to 100000.
func TestSMLIssue11Keys(t *testing.T) {
	c, err := conf.ParseSML("a.yaml", []byte(`domains:
  - zone: a.test
    trusted_issuers: ca.pem
  - zone: b.test
    trusted_issuers: [ca-g2.pem, ca-g3.pem]
    wildcard_owners: ["CN=SMP A,O=Test,C=BE:1f"]
    authority: ["CN=SML Authority,C=BE:2a"]
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Domains[0], c.Domains[1]
	if strings.Join(a.TrustedIssuers, ",") != "ca.pem" || strings.Join(b.TrustedIssuers, ",") != "ca-g2.pem,ca-g3.pem" {
		t.Errorf("trusted_issuers = %q, %q", a.TrustedIssuers, b.TrustedIssuers)
	}
	if len(b.WildcardOwners) != 1 || b.WildcardOwners[0] != "CN=SMP A,O=Test,C=BE:1f" || len(b.Authority) != 1 {
		t.Errorf("wildcard_owners %q authority %q", b.WildcardOwners, b.Authority)
	}
	if c.Management.ListParticipantsMax != 100000 {
		t.Errorf("list_participants_max = %d", c.Management.ListParticipantsMax)
	}
	for _, bad := range []string{
		"domains:\n  - zone: a.test\n    wildcard_owners: [not-an-identity]\n",
		"domains:\n  - zone: a.test\n    authority: [\"CN=x:\"]\n",
		"domains:\n  - zone: a.test\n    trusted_issuers: {a: b}\n",
		"management:\n  list_participants_max: -1\ndomains:\n  - zone: a.test\n",
	} {
		if _, err := conf.ParseSML("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
