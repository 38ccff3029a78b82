package lookup_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/xmldsig"
)

// An access point resolves a receiver before it sends: one Client for the whole process, one Lookup per message.
// docs/guide-access-point.md shows this example; it is compiled with the package's tests, so it follows the API.
// It has no Output line: it needs the network's DNS and SMPs.
func ExampleClient_Lookup() {
	// The trust anchors of the network's SMP certificates (for PEPPOL: the OpenPeppol SMP CA certificates).
	pem, err := os.ReadFile("/etc/signpost/peppol-smp-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		log.Fatal("no certificate in the trust anchor file")
	}
	client, err := lookup.New(lookup.Config{
		Zone:              "participant.sml.prod.tech.peppol.org", // OpenPeppol's production SML zone
		Verifier:          &xmldsig.Verifier{Roots: roots},
		TransportProfiles: []string{"peppol-transport-as4-v2_0"},
		// Servers: empty asks the name servers of /etc/resolv.conf.
	})
	if err != nil {
		log.Fatal(err)
	}

	var req lookup.Request
	if req.Participant, err = identifier.PEPPOL.Parse(identifier.Participant, "iso6523-actorid-upis::0088:5798000000001"); err != nil {
		log.Fatal(err)
	}
	if req.DocumentType, err = identifier.PEPPOL.Parse(identifier.DocumentType,
		"busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"); err != nil {
		log.Fatal(err)
	}
	if req.Process, err = identifier.PEPPOL.Parse(identifier.Process, "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := client.Lookup(ctx, req)
	switch lookup.KindOf(err) {
	case 0:
		fmt.Println("send to", res.Endpoint.Address, "with", res.Endpoint.TransportProfile)
		fmt.Println("encrypt for", res.Endpoint.Certificate.Subject)
	case lookup.NotRegistered, lookup.DocumentTypeNotSupported, lookup.NoMatchingEndpoint:
		fmt.Println("the receiver cannot take this document:", err) // a final answer: tell the sender
	case lookup.DNSFailure, lookup.SMPUnreachable:
		fmt.Println("try again later:", err) // a temporary failure: the receiver may well be registered
	default:
		var le *lookup.Error
		if errors.As(err, &le) {
			fmt.Println("the receiver's SMP answered wrongly:", le.Kind, err) // signature, certificate, bad response
		}
	}
}
