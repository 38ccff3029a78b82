package soapmsg_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

func TestDecodeTestdataRequests(t *testing.T) {
	cases := map[string]soapmsg.Operation{
		"smp-create.xml":                              soapmsg.OpCreateSMP,
		"smp-create-b.xml":                            soapmsg.OpCreateSMP,
		"smp-read.xml":                                soapmsg.OpReadSMP,
		"smp-read-missing.xml":                        soapmsg.OpReadSMP,
		"smp-update.xml":                              soapmsg.OpUpdateSMP,
		"smp-update-bad-address.xml":                  soapmsg.OpUpdateSMP,
		"smp-delete.xml":                              soapmsg.OpDeleteSMP,
		"participant-create.xml":                      soapmsg.OpCreateParticipant,
		"participant-create-b.xml":                    soapmsg.OpCreateParticipant,
		"participant-create-bad-scheme.xml":           soapmsg.OpCreateParticipant,
		"participant-create-bad-value.xml":            soapmsg.OpCreateParticipant,
		"participant-delete.xml":                      soapmsg.OpDeleteParticipant,
		"participant-createlist.xml":                  soapmsg.OpCreateList,
		"participant-deletelist.xml":                  soapmsg.OpDeleteList,
		"participant-list.xml":                        soapmsg.OpList,
		"participant-list-next.xml":                   soapmsg.OpList,
		"participant-prepare-migrate.xml":             soapmsg.OpPrepareToMigrate,
		"participant-migrate.xml":                     soapmsg.OpMigrate,
		"bdmsl-isalive.xml":                           soapmsg.OpIsAlive,
		"bdmsl-create-participant.xml":                soapmsg.OpCreateParticipantService,
		"bdmsl-prepare-change-certificate.xml":        soapmsg.OpPrepareChangeCertificate,
		"bdmsl-prepare-change-certificate-new.xml":    soapmsg.OpPrepareChangeCertificate,
		"bdmsl-prepare-change-certificate-nodate.xml": soapmsg.OpPrepareChangeCertificate,
		"bdmsl-change-certificate.xml":                soapmsg.OpChangeCertificate,
		"bdmsl-list-participants.xml":                 soapmsg.OpListParticipants,
		"bdmsl-clear-cache.xml":                       soapmsg.OpClearCache,
		"bdmsl-create-participant-url.xml":            soapmsg.OpCreateParticipantService,
		"participant-create-wildcard.xml":             soapmsg.OpCreateParticipant,
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := soapmsg.DecodeRequest(bytes.NewReader(soaptest.Request(t, name)), soapmsg.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if req.Op != want {
				t.Fatalf("op = %v, want %v", req.Op, want)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	dec := func(name string) any {
		t.Helper()
		req, err := soapmsg.DecodeRequest(bytes.NewReader(soaptest.Request(t, name)), soapmsg.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return req.Body
	}
	smp := dec("smp-create-b.xml").(*soapmsg.SMPService)
	if smp.SMPID != "SMP-B" || smp.PublisherEndpoint.LogicalAddress != "https://smp-b.example.org/smp" ||
		smp.PublisherEndpoint.PhysicalAddress != "192.0.2.20" {
		t.Errorf("create SMP = %+v", smp)
	}
	if id := dec("smp-delete.xml").(*soapmsg.SMPID); id.ID != "SMP-A" {
		t.Errorf("delete SMP = %+v", id)
	}
	p := dec("participant-create-b.xml").(*soapmsg.ParticipantForSMP)
	if p.SMPID != "SMP-B" || p.Participant.Scheme != "iso6523-actorid-upis" || p.Participant.Value != "9915:test-b1" {
		t.Errorf("create participant = %+v", p)
	}
	l := dec("participant-createlist.xml").(*soapmsg.ParticipantPage)
	if l.SMPID != "SMP-A" || len(l.Participants) != 3 || l.Participants[2].Value != "0088:5798000000001" {
		t.Errorf("create list = %+v", l)
	}
	pr := dec("participant-list-next.xml").(*soapmsg.PageRequest)
	if pr.SMPID != "SMP-A" || pr.NextPage != "NEXT_PAGE_TOKEN" {
		t.Errorf("page request = %+v", pr)
	}
	a := dec("bdmsl-create-participant.xml").(*soapmsg.AdvancedParticipant)
	if a.ServiceName != "oasis-bdxr-smp-2" || a.Participant.SMPID != "SMP-A" || a.Participant.Participant.Value != "9915:test-a2" {
		t.Errorf("advanced = %+v", a)
	}
	m := dec("participant-migrate.xml").(*soapmsg.MigrationRecord)
	if m.MigrationKey != "Ab12@#cdEF34" || m.SMPID != "SMP-B" {
		t.Errorf("migration = %+v", m)
	}
}

func TestDecodeRefusals(t *testing.T) {
	cases := []struct {
		name string
		doc  []byte
		want soapmsg.Reason
		text string
	}{
		{"unknown element", soaptest.Request(t, "bad-unknown-element.xml"), soapmsg.ReasonUnknownOperation, "ExistsParticipantIdentifier"},
		{"malformed", soaptest.Request(t, "bad-malformed.xml"), soapmsg.ReasonMalformed, "well-formed"},
		{"doctype", soaptest.Request(t, "bad-doctype.xml"), soapmsg.ReasonMalformed, "DTD"},
		{"soap 1.2", soaptest.Request(t, "bad-soap12.xml"), soapmsg.ReasonVersion, "SOAP 1.2"},
		{"no body", soaptest.Request(t, "bad-no-body.xml"), soapmsg.ReasonMalformed, "no Body"},
		{"two elements", soaptest.Request(t, "bad-two-elements.xml"), soapmsg.ReasonMalformed, "more than one"},
		{"empty", nil, soapmsg.ReasonMalformed, ""},
		{"not xml", []byte("hello"), soapmsg.ReasonMalformed, ""},
		{"deep", deep(100), soapmsg.ReasonLimit, "deeper"},
		{"many", many(5000), soapmsg.ReasonLimit, "more than"},
		{"entity", []byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ServiceMetadataPublisherID xmlns="http://busdox.org/serviceMetadata/locator/1.0/">&xxe;</ServiceMetadataPublisherID></S:Body></S:Envelope>`), soapmsg.ReasonMalformed, ""},
		{"encoding", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body/></S:Envelope>`), soapmsg.ReasonMalformed, ""},
		{"procinst", []byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><?evil x?><S:Body/></S:Envelope>`), soapmsg.ReasonMalformed, "processing"},
		{"trailing", []byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ec:IsAlive xmlns:ec="ec:services:wsdl:BDMSL:data:1.0"/></S:Body></S:Envelope><x/>`), soapmsg.ReasonMalformed, "after"},
		{"wrong root", []byte(`<Envelope><Body/></Envelope>`), soapmsg.ReasonMalformed, "not a SOAP 1.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := soapmsg.DecodeRequest(bytes.NewReader(c.doc), soapmsg.Limits{})
			var de *soapmsg.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Reason != c.want || !strings.Contains(de.Msg, c.text) {
				t.Fatalf("reason %d %q, want %d containing %q", de.Reason, de.Msg, c.want, c.text)
			}
		})
	}
}

// deep returns an envelope whose body nests n elements.
func deep(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><CreateList xmlns="http://busdox.org/serviceMetadata/locator/1.0/">`)
	b.WriteString(strings.Repeat("<a>", n) + strings.Repeat("</a>", n))
	b.WriteString(`</CreateList></S:Body></S:Envelope>`)
	return b.Bytes()
}

// many returns an envelope with n sibling elements in its body element.
func many(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><CreateList xmlns="http://busdox.org/serviceMetadata/locator/1.0/">`)
	b.WriteString(strings.Repeat("<a/>", n))
	b.WriteString(`</CreateList></S:Body></S:Envelope>`)
	return b.Bytes()
}

// The testdata requests (written from the WSDL) are valid against the schemas: the tests send what real clients
// send, not what our own types produce.
func TestTestdataRequestsValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(soaptest.Dir(t), "requests", "*.xml"))
	if len(files) < 20 {
		t.Fatalf("only %d testdata requests", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "bad-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			xsd := "peppol-sml-types-v1.xsd"
			if strings.HasPrefix(name, "bdmsl-") {
				xsd = "BDMSLService-full-2018.xsd" // a superset of BDMSLService-1.0.xsd: every BDMSL operation
			}
			soaptest.Validate(t, soaptest.BodyElement(t, data), xsd)
		})
	}
}

func TestMarshalValidAndRoundTrip(t *testing.T) {
	page := &soapmsg.ParticipantPage{XMLName: soapmsg.ElemParticipantPage, SMPID: "SMP-A", NextPage: "abc",
		Participants: []soapmsg.ParticipantIdentifier{{Scheme: "iso6523-actorid-upis", Value: "9915:a&b<c"}, {Scheme: "iso6523-actorid-upis", Value: "9915:x"}}}
	smp := &soapmsg.SMPService{XMLName: soapmsg.ElemSMPService, SMPID: "SMP-A",
		PublisherEndpoint: soapmsg.PublisherEndpoint{LogicalAddress: "https://smp.example.org/x", PhysicalAddress: "192.0.2.1"}}
	for _, body := range []any{page, smp} {
		env, err := soapmsg.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		soaptest.Validate(t, soaptest.BodyElement(t, env), "peppol-sml-types-v1.xsd")
		var got soapmsg.ParticipantPage
		var gotSMP soapmsg.SMPService
		var into any = &got
		if _, ok := body.(*soapmsg.SMPService); ok {
			into = &gotSMP
		}
		resp, err := soapmsg.DecodeResponse(bytes.NewReader(env), soapmsg.Limits{}, into)
		if err != nil || resp.Fault != nil {
			t.Fatalf("decode: %v %+v", err, resp)
		}
		if into == &got && (len(got.Participants) != 2 || got.Participants[0].Value != "9915:a&b<c" || got.NextPage != "abc") {
			t.Errorf("page round trip = %+v", got)
		}
		if into == &gotSMP && gotSMP.PublisherEndpoint.LogicalAddress != "https://smp.example.org/x" {
			t.Errorf("smp round trip = %+v", gotSMP)
		}
	}
	env, _ := soapmsg.Marshal(nil)
	resp, err := soapmsg.DecodeResponse(bytes.NewReader(env), soapmsg.Limits{}, nil)
	if err != nil || resp.Fault != nil || resp.Element != (xml.Name{}) {
		t.Errorf("empty body: %v %+v", err, resp)
	}
}

func TestFaultMarshal(t *testing.T) {
	for k := soapmsg.FaultBadRequest; k <= soapmsg.FaultInternal; k++ {
		f := &soapmsg.Fault{Code: soapmsg.CodeClient, String: "[ERR-106] bad <thing> & more", Kind: k, Message: "[ERR-106] bad <thing> & more"}
		env := f.Marshal()
		resp, err := soapmsg.DecodeResponse(bytes.NewReader(env), soapmsg.Limits{}, nil)
		if err != nil || resp.Fault == nil {
			t.Fatalf("decode fault: %v %+v\n%s", err, resp, env)
		}
		if *resp.Fault != *f {
			t.Errorf("fault round trip = %+v, want %+v", resp.Fault, f)
		}
		// The detail element is a global element of the SML types schema.
		doc := soaptest.BodyElement(t, env)
		detail := detailOf(t, doc)
		soaptest.Validate(t, detail, "peppol-sml-types-v1.xsd")
	}
}

// detailOf extracts the typed detail element from a soap:Fault document.
func detailOf(t *testing.T, fault []byte) []byte {
	t.Helper()
	s := string(fault)
	i := strings.Index(s, "<detail>")
	j := strings.Index(s, "</detail>")
	if i < 0 || j < 0 {
		t.Fatalf("no detail in %s", s)
	}
	return []byte(s[i+len("<detail>") : j])
}

func TestOperationsTable(t *testing.T) {
	seen := map[xml.Name]bool{}
	for _, op := range soapmsg.Operations() {
		if seen[op.Element()] {
			t.Errorf("element %v used twice", op.Element())
		}
		seen[op.Element()] = true
		if soapmsg.OperationFor(op.Element()) != op {
			t.Errorf("OperationFor(%v) != %v", op.Element(), op)
		}
		if soapmsg.ServiceForPath(op.Service().Path()) != op.Service() {
			t.Errorf("path of %v", op)
		}
	}
	if a := soapmsg.OpCreateList.SOAPAction(); !strings.Contains(a, "1.0/         :createListIn") {
		t.Errorf("CreateList SOAPAction %q lacks the nine spaces", a)
	}
}

// What JAX-WS, CXF, .NET and hand-written clients send around the same request: a UTF-8 byte order mark, other
// envelope prefixes or a default namespace, a WS-Addressing Header, whitespace, an US-ASCII declaration.
func TestDecodeClientVariants(t *testing.T) {
	const id = `<ns2:ServiceMetadataPublisherID xmlns:ns2="http://busdox.org/serviceMetadata/locator/1.0/">SMP-A</ns2:ServiceMetadataPublisherID>`
	const env = `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>` + id + `</S:Body></S:Envelope>`
	cases := map[string]string{
		"bom":            "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + env,
		"bom, no decl":   "\xef\xbb\xbf" + env,
		"us-ascii":       `<?xml version="1.0" encoding="US-ASCII"?>` + env,
		"lower-case utf": `<?xml version='1.0' encoding='utf-8'?>` + env,
		"soapenv prefix": `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header/><soapenv:Body>` + id + `</soapenv:Body></soapenv:Envelope>`,
		"default ns":     `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>` + id + `</Body></Envelope>`,
		"ws-addressing": `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header>` +
			`<To xmlns="http://www.w3.org/2005/08/addressing" S:mustUnderstand="1">https://sml/manageservicemetadata</To>` +
			`<Action xmlns="http://www.w3.org/2005/08/addressing">x</Action></S:Header>` + "\n  <S:Body>\n    " + id + "\n  </S:Body>\n</S:Envelope>\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := soapmsg.DecodeRequest(strings.NewReader(doc), soapmsg.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := req.Body.(*soapmsg.SMPID); !ok || req.Op != soapmsg.OpDeleteSMP || b.ID != "SMP-A" {
				t.Fatalf("decoded %v %+v", req.Op, req.Body)
			}
		})
	}
	// A BOM on a response (an SML client decoding an answer) is fine too.
	if _, err := soapmsg.DecodeResponse(strings.NewReader("\xef\xbb\xbf"+env), soapmsg.Limits{}, nil); err != nil {
		t.Errorf("response with a BOM: %v", err)
	}
	// Only UTF-8 and US-ASCII: another declared encoding, or a non-ASCII byte in an US-ASCII document, is refused.
	for _, doc := range []string{`<?xml version="1.0" encoding="ISO-8859-1"?>` + env,
		`<?xml version="1.0" encoding="US-ASCII"?>` + strings.Replace(env, "SMP-A", "SMP-\xc3\xa9", 1)} {
		if _, err := soapmsg.DecodeRequest(strings.NewReader(doc), soapmsg.Limits{}); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
}
