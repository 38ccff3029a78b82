package smp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestSmallWriteDoesNotWaitForLargeOne: a PUT whose extension declares 16,000 namespaces (decoded with the limits
// raised to let it through) is held while it signs; a small PUT of another group, started after it, completes
// before it. Signing happens with no transaction open, so writers of different groups never queue behind one
// another's signatures. Without that, the small write would wait for the large one and this test would time out.
func TestSmallWriteDoesNotWaitForLargeOne(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	big := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:big")
	small := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:small")
	for _, p := range []identifier.ID{big, small} {
		if _, err := f.svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: p}, smp.GroupWrite{}); err != nil {
			t.Fatal(err)
		}
	}
	var decls strings.Builder
	for i := range 16000 {
		fmt.Fprintf(&decls, ` xmlns:n%d="urn:n%d"`, i, i)
	}
	body := strings.Replace(trickyMetadataXML(f, big), "<Extension/>", `<Extension><x:Big xmlns:x="urn:big"`+decls.String()+`/></Extension>`, 1)
	lim := xmlbind.Limits{NSPerElement: 20000, NSPerDocument: 20000}
	largeSM, err := xmlbind.DecodeServiceMetadata([]byte(body), identifier.PEPPOL, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlbind.DecodeServiceMetadata([]byte(body), identifier.PEPPOL, xmlbind.Limits{}); err == nil || !strings.Contains(err.Error(), "write.max_ns_per_element") {
		t.Fatalf("default limits: %v, want the refusal naming write.max_ns_per_element", err)
	}
	smallSM := trickyMetadata(f, demoDocType)
	smallSM.Participant = small

	signing := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	smp.SetBeforeSign(func(k smp.DocKey) {
		if k.Participant == big && !k.DocType.IsZero() {
			once.Do(func() { close(signing) })
			<-release
		}
	})
	t.Cleanup(func() { smp.SetBeforeSign(nil) })

	var mu sync.Mutex
	var order []string
	done := func(name string) {
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	largeErr := make(chan error, 1)
	go func() {
		_, err := f.svc.PutServiceMetadata(ctx, smp.System, largeSM)
		done("large")
		largeErr <- err
	}()
	<-signing // the large write is signing now
	smallCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := f.svc.PutServiceMetadata(smallCtx, smp.System, smallSM); err != nil {
		t.Fatalf("small write while a large one signs: %v", err)
	}
	done("small")
	close(release)
	if err := <-largeErr; err != nil {
		t.Fatalf("large write: %v", err)
	}
	if strings.Join(order, ",") != "small,large" {
		t.Fatalf("completion order %v, want small first", order)
	}
	// Both are served, signed.
	for _, p := range []identifier.ID{big, small} {
		d, err := f.svc.Lookup(ctx, smp.PEPPOL, p, demoDocType)
		if err != nil || !strings.Contains(string(d.Body), "SignatureValue") {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

func mustID(t *testing.T, k identifier.Kind, s string) identifier.ID {
	t.Helper()
	id, err := identifier.PEPPOL.Parse(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// trickyMetadataXML is a PEPPOL ServiceMetadata body of participant p for demoDocType, with an empty
// <Extension/> placeholder in the endpoint.
func trickyMetadataXML(f *fixture, p identifier.ID) string {
	return fmt.Sprintf(`<ServiceMetadata xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/" xmlns:wsa="http://www.w3.org/2005/08/addressing">
<ServiceInformation>
<ids:ParticipantIdentifier scheme="%s">%s</ids:ParticipantIdentifier>
<ids:DocumentIdentifier scheme="%s">%s</ids:DocumentIdentifier>
<ProcessList><Process>
<ids:ProcessIdentifier scheme="%s">%s</ids:ProcessIdentifier>
<ServiceEndpointList><Endpoint transportProfile="peppol-transport-as4-v2_0">
<wsa:EndpointReference><wsa:Address>https://ap.signpost.test/as4</wsa:Address></wsa:EndpointReference>
<RequireBusinessLevelSignature>false</RequireBusinessLevelSignature>
<Certificate>%s</Certificate>
<ServiceDescription>big</ServiceDescription>
<TechnicalContactUrl>mailto:x@signpost.test</TechnicalContactUrl>
<Extension/>
</Endpoint></ServiceEndpointList>
</Process></ProcessList>
</ServiceInformation>
</ServiceMetadata>`, p.Scheme, p.Value, demoDocType.Scheme, demoDocType.Value, demoProcess.Scheme, demoProcess.Value, b64(f.leaf.Cert.Raw))
}
