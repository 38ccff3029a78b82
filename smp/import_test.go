package smp_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/smp/golden")

// unsignedSamples are the sample documents of testdata/smp/samples that are unsigned PUT bodies.
var unsignedSamples = []string{
	"peppol-smp1_peppol-service-group.xml",
	"bdxr-smp1_bdxr1-service-metadata.xml",
	"bdxr-smp2_simpleGroupExample.xml",
}

func TestSamplesLoadAndRenderGolden(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	dir := t.TempDir()
	for _, n := range unsignedSamples {
		b, err := os.ReadFile(filepath.Join("../testdata/smp/samples", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := xmlbind.ImportDir(ctx, f.svc, dir, xmlbind.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups != 2 || st.Metadata != 1 || st.Created != 3 {
		t.Fatalf("import stats %+v", st)
	}
	st, err = xmlbind.ImportDir(ctx, f.svc, dir, xmlbind.Limits{})
	if err != nil || st.Unchanged != 3 {
		t.Fatalf("second import: %+v %v", st, err)
	}
	// Every stored model renders per flavour exactly as the golden files say, and validates.
	const base = "http://smp.example.org/smp"
	type item struct {
		name  string
		group bool
		p, d  identifier.ID
	}
	items := []item{
		{"group-9915-xxx", true, identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:xxx"}, identifier.ID{}},
		{"group-9908-810418052", true, identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9908:810418052"}, identifier.ID{}},
		{"metadata-9915-xxx", false, identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:xxx"},
			identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"}},
	}
	for _, it := range items {
		for _, fl := range []smp.Flavour{smp.PEPPOL, smp.OASIS1, smp.SMP2} {
			var out []byte
			if it.group {
				sg, err := f.svc.GetServiceGroup(ctx, it.p)
				if err != nil {
					t.Fatal(err)
				}
				var refs []smp.Reference
				if it.p.Value == "9915:xxx" {
					sm, err := f.svc.GetServiceMetadata(ctx, it.p, items[2].d)
					if err != nil {
						t.Fatal(err)
					}
					refs = append(refs, sm.Reference())
				}
				doc, err := xmlbind.RenderGroup(fl, &sg, refs, base)
				if err != nil {
					t.Fatal(err)
				}
				out, _ = doc.WriteToBytes()
			} else {
				sm, err := f.svc.GetServiceMetadata(ctx, it.p, it.d)
				if err != nil {
					t.Fatal(err)
				}
				doc, err := xmlbind.RenderMetadata(fl, &sm)
				if err != nil {
					t.Fatal(err)
				}
				out, _ = doc.WriteToBytes()
			}
			golden := filepath.Join("../testdata/smp/golden", it.name+"."+fl.String()+".xml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./smp -run Golden -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs from the golden file:\n got %s\nwant %s", golden, out, want)
			}
			// Unsigned renderings of ServiceGroups validate as they are; metadata validate once signed (served).
			if it.group && fl != smp.SMP2 {
				if err := xmllint(t, schemaFor(fl, true), out); err != nil {
					t.Errorf("%s: %v", golden, err)
				}
			}
		}
	}
	// And the served, signed versions validate and verify.
	for _, p := range []string{
		"/" + seg(items[0].p), "/" + seg(items[1].p), "/" + seg(items[2].p) + "/services/" + seg(items[2].d),
		"/bdxr-smp-2/" + seg(items[0].p), "/bdxr-smp-2/" + seg(items[2].p) + "/services/" + seg(items[2].d),
	} {
		resp, body := f.get(p)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		fl := smp.PEPPOL
		if strings.HasPrefix(p, "/bdxr-smp-2") {
			fl = smp.SMP2
		}
		if err := xmllint(t, schemaFor(fl, !strings.Contains(p, "/services/")), body); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if bytes.Contains(body, []byte("<ds:Signature")) {
			if ok, msg := xmlsecVerify(t, f.caFile, body); !ok {
				t.Errorf("%s: %s", p, msg)
			}
		}
	}
}

// TestSignedSamplesDecode: the signed samples are read as input too (their signatures ignored), with the lax
// policy where their identifiers are not PEPPOL ones.
func TestSignedSamplesDecode(t *testing.T) {
	for _, n := range []string{"peppol-smp1_signed-service-metadata1.xml", "bdxr-smp1_SignedServiceMetadataPoland.xml", "bdxr-smp2_servicemetadata1.xml"} {
		b, err := os.ReadFile(filepath.Join("../testdata/smp/samples", n))
		if err != nil {
			t.Fatal(err)
		}
		sm, err := xmlbind.DecodeServiceMetadata(b, identifier.OASIS, xmlbind.Limits{})
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if len(sm.Processes) == 0 || len(sm.Processes[0].Endpoints) == 0 || sm.Processes[0].Endpoints[0].Address == "" {
			t.Errorf("%s: decoded without endpoints: %+v", n, sm)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"not xml":           "hello",
		"unknown namespace": `<ServiceGroup xmlns="urn:other"/>`,
		"no namespace":      `<ServiceGroup/>`,
		"doctype":           `<!DOCTYPE x [<!ENTITY a "b">]><ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/"/>`,
		"no participant":    `<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/"/>`,
		"bad participant":   `<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/"><ids:ParticipantIdentifier scheme="iso6523-actorid-upis">99:x</ids:ParticipantIdentifier></ServiceGroup>`,
	} {
		if _, err := xmlbind.DecodeServiceGroup([]byte(body), identifier.PEPPOL, xmlbind.Limits{}); smp.KindOf(err) != smp.KindInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestImportJSONLinesIdempotentAndExport(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	var in bytes.Buffer
	in.WriteString("# a comment line\n")
	in.WriteString(`{"owner":{"name":"alice"}}` + "\n")
	for _, p := range []string{"9915:a", "9915:b"} {
		in.WriteString(`{"service_group":{"participant":"iso6523-actorid-upis::` + p + `","owner":"alice"}}` + "\n")
		in.WriteString(`{"service_metadata":{"participant":"iso6523-actorid-upis::` + p + `","document_type":"` + demoDocType.String() +
			`","processes":[{"id":"` + demoProcess.String() + `","endpoints":[{"transport_profile":"peppol-transport-as4-v2_0","address":"https://ap.example/as4","certificate":"` +
			b64(f.leaf.Cert.Raw) + `","description":"tab\there & <x>"}]}]}}` + "\n")
	}
	st, err := f.svc.Import(ctx, "in.jsonl", bytes.NewReader(in.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups != 2 || st.Metadata != 2 || st.Owners != 1 || st.Created != 4 {
		t.Fatalf("stats %+v", st)
	}
	resp, _ := f.get("/iso6523-actorid-upis::9915:a/services/" + seg(demoDocType))
	etag := resp.Header.Get("ETag")
	before := counter(t, f, "signpost_smp_documents_stored_total")
	st, err = f.svc.Import(ctx, "in.jsonl", bytes.NewReader(in.Bytes()), nil)
	if err != nil || st.Unchanged != 4 || st.Created+st.Replaced != 0 {
		t.Fatalf("second import %+v %v", st, err)
	}
	if after := counter(t, f, "signpost_smp_documents_stored_total"); after != before {
		t.Errorf("idempotent import stored %v documents", after-before)
	}
	if r, _ := f.get("/iso6523-actorid-upis::9915:a/services/"+seg(demoDocType), "If-None-Match", etag); r.StatusCode != 304 {
		t.Errorf("ETag changed by an idempotent import: %d", r.StatusCode)
	}
	// export -> import into an empty SMP -> export gives the same file.
	var out1 bytes.Buffer
	if _, err := f.svc.WriteExport(ctx, &out1); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, fixtureOpts{})
	if _, err := g.svc.Import(ctx, "export", bytes.NewReader(out1.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	var out2 bytes.Buffer
	if _, err := g.svc.WriteExport(ctx, &out2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out1.Bytes(), out2.Bytes()) || out1.Len() == 0 {
		t.Errorf("export round trip differs:\n%s\n%s", out1.Bytes(), out2.Bytes())
	}
	// A refused record names its line.
	_, err = f.svc.Import(ctx, "bad.jsonl", strings.NewReader(`{"service_group":{"participant":"iso6523-actorid-upis::99:x"}}`+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:1") {
		t.Errorf("bad record: %v", err)
	}
	_, err = f.svc.Import(ctx, "orphan.jsonl", strings.NewReader(`{"service_metadata":{"participant":"iso6523-actorid-upis::9915:zzz","document_type":"`+demoDocType.String()+
		`","processes":[{"id":"`+demoProcess.String()+`","endpoints":[{"transport_profile":"p","address":"https://x"}]}]}}`+"\n"), nil)
	if smp.KindOf(err) != smp.KindNotFound {
		t.Errorf("metadata without group: %v", err)
	}
}

// TestImportTwoRecordsOnALine: a second record on the same line is refused, not silently dropped.
func TestImportTwoRecordsOnALine(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rec := func(v string) string {
		return `{"service_group":{"participant":"iso6523-actorid-upis::9915:` + v + `"}}`
	}
	_, err := f.svc.Import(context.Background(), "two.jsonl", strings.NewReader(rec("one")+rec("two")+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "two.jsonl:1") {
		t.Errorf("two records on one line: %v", err)
	}
}

func TestDecodeRefusesExcessiveMarkup(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/">`)
	for i := 0; i < 60_000; i++ {
		b.WriteString("<a/><b/>")
	}
	b.WriteString(`</ServiceGroup>`)
	_, err := xmlbind.DecodeServiceGroup([]byte(b.String()), identifier.PEPPOL, xmlbind.Limits{})
	if err == nil || !strings.Contains(err.Error(), "tags") || smp.KindOf(err) != smp.KindInvalid {
		t.Fatalf("decode of 120,000 elements = %v, want an invalid-body error about tags", err)
	}
}
