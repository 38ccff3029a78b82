package app

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/signpost-project/signpost/smp"
)

// The demo participant of DESIGN.md 1.2.
const (
	DemoParticipant  = "iso6523-actorid-upis::9915:signpost-demo"
	DemoDocumentType = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	DemoProcess      = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
	DemoTransport    = "peppol-transport-as4-v2_0"
	DemoAddress      = "https://ap.signpost.test/as4"
)

// SeedDemo creates (or keeps, when unchanged) the demo participant with one endpoint whose certificate is
// apCertDER, through the import path.
func SeedDemo(ctx context.Context, svc *smp.Service, apCertDER []byte) error {
	recs := []smp.Record{
		{Group: &smp.GroupJSON{Participant: DemoParticipant}},
		{Metadata: &smp.MetadataJSON{
			Participant: DemoParticipant, DocumentType: DemoDocumentType,
			Processes: []smp.ProcessJSON{{ID: DemoProcess, Endpoints: []smp.EndpointJSON{{
				TransportProfile: DemoTransport, Address: DemoAddress, Certificate: apCertDER,
				Description: "Signpost demo access point", TechnicalContactURL: "mailto:demo@signpost.test",
			}}}},
		}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	_, err := svc.Import(ctx, "demo", &buf, nil)
	return err
}
