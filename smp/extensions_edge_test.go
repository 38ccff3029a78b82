package smp_test

import (
	"context"
	"testing"

	"github.com/signpost-project/signpost/smp"
)

// Extensions that stress namespace handling in canonicalisation: a default namespace and its undeclaration, a
// foreign namespace bound to the signature's own prefix, xml:lang, a processing instruction, comments, non-ASCII.
var edgeExtensions = []string{
	`<Info xmlns="urn:test:default"><Inner xmlns=""><Leaf>ä€𝄞</Leaf></Inner><!-- c --><?pi some data?></Info>`,
	`<ds:Foreign xmlns:ds="urn:not:xmldsig" xml:lang="de"><ds:X a="1" b="&quot;&lt;"/></ds:Foreign>`,
	`<a:Outer xmlns:a="urn:a" xmlns:b="urn:b"><b:In a:attr="v"><a:Deep xmlns:a="urn:a2"/></b:In></a:Outer>`,
}

// TestEdgeExtensionsVerify: documents with these extensions validate and verify with xmlsec1 in every flavour.
func TestEdgeExtensionsVerify(t *testing.T) {
	for j, ext := range append(edgeExtensions, edgeExtensions...) {
		i, root := j%len(edgeExtensions), smp.OASIS1
		if j >= len(edgeExtensions) {
			root = smp.PEPPOL
		}
		f := newFixture(t, fixtureOpts{flavour: root})
		ctx := context.Background()
		if _, err := f.svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: demoParticipant, Extensions: []string{ext}}, smp.GroupWrite{}); err != nil {
			t.Fatalf("ext %d: group: %v", i, err)
		}
		sm := trickyMetadata(f, demoDocType)
		sm.Extensions = []string{ext}
		sm.Processes[0].Extensions = []string{ext}
		sm.Processes[0].Endpoints[0].Extensions = []string{ext}
		if _, err := f.svc.PutServiceMetadata(ctx, smp.System, sm); err != nil {
			t.Fatalf("ext %d: metadata: %v", i, err)
		}
		for _, fl := range []smp.Flavour{root, smp.SMP2} {
			prefix := ""
			if fl == smp.SMP2 {
				prefix = "/bdxr-smp-2"
			}
			for _, p := range []string{prefix + "/" + seg(demoParticipant), prefix + "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)} {
				resp, body := f.get(p)
				if resp.StatusCode != 200 {
					t.Fatalf("ext %d GET %s: %d %s", i, p, resp.StatusCode, body)
				}
				group := p == prefix+"/"+seg(demoParticipant)
				if err := xmllint(t, schemaFor(fl, group), body); err != nil {
					t.Errorf("ext %d %v %s does not validate: %v\n%s", i, fl, p, err, body)
				}
				if group && fl != smp.SMP2 {
					continue
				}
				if ok, msg := xmlsecVerify(t, f.caFile, body); !ok {
					t.Errorf("ext %d %v %s: xmlsec1 rejects it: %s\n%s", i, fl, p, msg, body)
				}
			}
		}
	}
}
