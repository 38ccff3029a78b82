package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/lookup/lookuptest"
)

const (
	cliZone = "sml.test"
	cliDoc  = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	cliProc = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
)

// runCLI runs `signpost args...` in-process as main does and returns its exit code with stdout (and, when it
// failed, stderr).
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	if code == 0 {
		return out.String(), 0
	}
	return out.String() + errOut.String(), code
}

func cliID(t *testing.T, k identifier.Kind, s string) identifier.ID {
	t.Helper()
	id, err := identifier.PEPPOL.Parse(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLookupCLI(t *testing.T) {
	p := lookuptest.NewPKI(t)
	trust := p.WriteRoots(t)
	dns := lookuptest.StartDNS(t, cliZone, "")
	smp := lookuptest.StartSMP(t)
	doc := cliID(t, identifier.DocumentType, cliDoc)
	proc := cliID(t, identifier.Process, cliProc)
	ap := lookuptest.Endpoint{Profile: "peppol-transport-as4-v2_0", Address: "https://ap.example.test/as4", Cert: lookuptest.CertBase64(p.AP)}
	path := func(pid identifier.ID) string {
		return "/" + identifier.EncodeID(pid) + "/services/" + identifier.EncodeID(doc)
	}
	register := func(name, url string) identifier.ID {
		pid := cliID(t, identifier.Participant, "iso6523-actorid-upis::9915:"+name)
		dns.Add(t, lookuptest.NAPTR(identifier.NAPTRName(pid, cliZone, identifier.SchemeLabel), "Meta:SMP", url))
		return pid
	}
	meta := func(pid identifier.ID, eps ...lookuptest.Endpoint) lookuptest.Metadata {
		return lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, DocScheme: doc.Scheme, DocValue: doc.Value,
			Processes: []lookuptest.Process{{Scheme: proc.Scheme, Value: proc.Value, Endpoints: eps}}}
	}
	publish := func(pid identifier.ID, m lookuptest.Metadata, signer string) []byte {
		kp := p.SMP1
		switch signer {
		case "foreign":
			kp = p.Foreign
		case "two":
			kp = p.SMP2
		}
		body := lookuptest.Sign(t, "peppol-metadata.xml", m, kp)
		smp.Put(path(pid), lookuptest.Doc{Body: body})
		return body
	}

	good := register("cli", smp.URL)
	publish(good, meta(good, ap), "")
	smp.Put("/"+identifier.EncodeID(good), lookuptest.Doc{Body: lookuptest.Render(t, "peppol-group.xml",
		lookuptest.Metadata{ParticipantScheme: good.Scheme, ParticipantValue: good.Value, Hrefs: []string{smp.URL + path(good)}})})

	down := register("down", lookuptest.ClosedURL(t))
	servfail := cliID(t, identifier.Participant, "iso6523-actorid-upis::9915:servfail")
	dns.SetServfail(identifier.NAPTRName(servfail, cliZone, identifier.SchemeLabel), true)
	tampered := register("tampered", smp.URL)
	body := lookuptest.Sign(t, "peppol-metadata.xml", meta(tampered, ap), p.SMP1)
	smp.Put(path(tampered), lookuptest.Doc{Body: bytes.Replace(body, []byte("ap.example.test"), []byte("ap.evilxx.test"), 1)})
	foreign := register("foreign", smp.URL)
	publish(foreign, meta(foreign, ap), "foreign")
	expired := register("expired", smp.URL)
	old := ap
	old.Expiration = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	publish(expired, meta(expired, old), "")
	redirected := register("redirected", smp.URL)
	other := lookuptest.StartSMP(t)
	smp.Put(path(redirected), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-redirect.xml",
		lookuptest.Metadata{Href: other.URL + path(redirected), CertificateUID: p.SMP2.Cert.Subject.String()}, p.SMP1)})
	other.Put(path(redirected), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml", meta(redirected, ap), p.SMP1)})
	failing := register("failing", smp.URL)
	smp.Put(path(failing), lookuptest.Doc{Status: http.StatusBadGateway})
	garbage := register("garbage", smp.URL)
	smp.Put(path(garbage), lookuptest.Doc{Body: []byte("<<<")})

	base := []string{"lookup", "--dns", dns.Addr, "--zone", cliZone, "--trust", trust, "--timeout", "20s"}
	args := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }

	t.Run("found", func(t *testing.T) {
		out, code := runCLI(t, args(good.String(), doc.String(), proc.String())...)
		t.Log("\n" + out)
		if code != 0 || !strings.Contains(out, "https://ap.example.test/as4") || !strings.Contains(out, "CN=AP-TEST") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		out, code = runCLI(t, args("--json", "--transport", "peppol-transport-as4-v2_0", good.String(), doc.String())...)
		var j struct {
			Endpoint struct {
				Address     string
				Certificate struct{ Subject, PEM string }
			}
			Trace struct{ Binding, Signer string }
		}
		if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.Endpoint.Address != "https://ap.example.test/as4" ||
			!strings.Contains(j.Endpoint.Certificate.PEM, "BEGIN CERTIFICATE") || j.Trace.Binding != "peppol-smp-1" || !strings.Contains(j.Trace.Signer, "SMP-ONE") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("service group", func(t *testing.T) {
		out, code := runCLI(t, args(good.String())...)
		if code != 0 || !strings.Contains(out, doc.String()) {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	blackhole := lookuptest.Blackhole(t)
	cases := []struct {
		name string
		args []string
		kind lookup.Kind
	}{
		{"unknown participant", args("iso6523-actorid-upis::9915:nobody", doc.String()), lookup.NotRegistered},
		{"DNS server down", []string{"lookup", "--dns", blackhole, "--zone", cliZone, "--trust", trust, "--timeout", "1s", good.String(), doc.String()}, lookup.DNSFailure},
		{"SERVFAIL", args(servfail.String(), doc.String()), lookup.DNSFailure},
		{"SMP down", args(down.String(), doc.String()), lookup.SMPUnreachable},
		{"SMP 502", args(failing.String(), doc.String()), lookup.SMPUnreachable},
		{"unknown document type", args(good.String(), "busdox-docid-qns::urn:example:none::1.0"), lookup.DocumentTypeNotSupported},
		{"tampered signature", args(tampered.String(), doc.String()), lookup.SignatureInvalid},
		{"foreign CA", args(foreign.String(), doc.String()), lookup.CertificateUntrusted},
		{"expired endpoint", args(expired.String(), doc.String()), lookup.NoMatchingEndpoint},
		{"redirect to another certificate", args(redirected.String(), doc.String()), lookup.CertificateUntrusted},
		{"not XML", args(garbage.String(), doc.String()), lookup.BadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != lookupExitCode(tc.kind) {
				t.Fatalf("exit %d, want %d (%s)\n%s", code, lookupExitCode(tc.kind), tc.kind, out)
			}
			jout, jcode := runCLI(t, append([]string{tc.args[0], "--json"}, tc.args[1:]...)...)
			var j struct{ Error struct{ Kind string } }
			if jcode != code || json.Unmarshal([]byte(jout[:strings.LastIndex(jout, "}")+1]), &j) != nil || j.Error.Kind != tc.kind.String() {
				t.Fatalf("--json: exit %d\n%s", jcode, jout)
			}
		})
	}
	for _, bad := range [][]string{
		{"lookup"},
		{"lookup", "--zone", cliZone, good.String()},                  // no --trust
		{"lookup", "--trust", trust, "not-an-identifier"},             // bad identifier
		{"lookup", "--trust", trust, "--hashing", "md5", "a::b"},      // bad flag value
		{"lookup", "--trust", trust, "--no-such-flag", good.String()}, // unknown flag
	} {
		if out, code := runCLI(t, bad...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", bad, code, exitUsage, out)
		}
	}
}

// Each error kind has its own exit code, apart from success, other errors and usage errors.
func TestLookupExitCodesDistinct(t *testing.T) {
	seen := map[int]lookup.Kind{}
	for _, k := range lookup.Kinds() {
		c := lookupExitCode(k)
		if c <= exitUsage || seen[c] != 0 {
			t.Errorf("kind %s: exit code %d is not its own", k, c)
		}
		seen[c] = k
	}
}
