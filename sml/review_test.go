package sml

import (
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/store/storetest"
)

// Certificate identities in domains[].authority and wildcard_owners are compared with the callers' identities,
// whose serial is lower-case hex without leading zeros. A serial written as openssl prints it (upper case,
// leading zeros) must match too, as it does in an import file's owner; otherwise the configured authority is
// silently never recognised.
func TestConfiguredIdentitiesNormalised(t *testing.T) {
	c, err := conf.ParseSML("test.yaml", []byte(`
domains:
  - zone: sml.test
    records: [naptr, cname]
    authority: ["CN=bob,O=B,C=BE:2B"]
    wildcard_owners: ["CN=alice,O=A,C=BE:001A"]
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(testRepo(t, storetest.Open(t)), c.Domains, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSMP(ctx, alice, SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org", PhysicalAddress: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid("*")}}); err != nil {
		t.Errorf("wildcard owner with serial 001A: %v", err)
	}
	nu := Successor{Identity: "CN=dave,O=A,C=BE:5e", Domain: testZone}
	if err := s.ChangeCertificate(ctx, bob, "SMP-A", nu); err != nil {
		t.Errorf("authority with serial 2B: %v", err)
	}
}
