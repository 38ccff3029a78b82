package soap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

const status500 = http.StatusInternalServerError

func TestSMPLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	if rc, ans := e.dig(t, "smp-a.publisher."+zoneName, "A"); rc != "NOERROR" || len(ans) != 1 || ans[0] != "192.0.2.10" {
		t.Errorf("publisher record: %s %v", rc, ans)
	}

	var smp soapmsg.SMPService
	r := e.send(t, "smp-a", "smp-read.xml", &smp).ok(t)
	soaptest.Validate(t, soaptest.BodyElement(t, r.body), "peppol-sml-types-v1.xsd")
	if r.resp.Element != soapmsg.ElemSMPService || smp.SMPID != "SMP-A" ||
		smp.PublisherEndpoint.LogicalAddress != "http://smp-a.example.org" || smp.PublisherEndpoint.PhysicalAddress != "192.0.2.10" {
		t.Errorf("read = %v %+v", r.resp.Element, smp)
	}

	e.send(t, "smp-a", "smp-create.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The SMP 'SMP-A' already exists")
	e.send(t, "smp-a", "smp-read-missing.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] The SMP 'SMP-NOPE' doesn't exist")
	e.send(t, "smp-a", "smp-update-bad-address.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")

	e.send(t, "smp-a", "smp-update.xml", nil).ok(t)
	e.send(t, "smp-a", "smp-read.xml", &smp).ok(t)
	if smp.PublisherEndpoint.LogicalAddress != "https://smp-a2.example.org/" || smp.PublisherEndpoint.PhysicalAddress != "192.0.2.11" {
		t.Errorf("read after update = %+v", smp)
	}
	if rc, ans := e.dig(t, "SMP-A.publisher."+zoneName, "A"); rc != "NOERROR" || len(ans) != 1 || ans[0] != "192.0.2.11" {
		t.Errorf("publisher record after update: %s %v", rc, ans)
	}

	e.send(t, "smp-a", "smp-delete.xml", nil).ok(t)
	e.send(t, "smp-a", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] The SMP 'SMP-A' doesn't exist")
	e.send(t, "smp-a", "smp-delete.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] The SMP 'SMP-A' doesn't exist")
	if rc, _ := e.dig(t, "smp-a.publisher."+zoneName, "A"); rc != "NXDOMAIN" {
		t.Errorf("publisher record after delete: %s", rc)
	}

	audit := e.log.auditLines(t)
	var ops []string
	for _, a := range audit {
		if a["caller"] != pkiIdentity(e, "smp-a") || a["smp"] != "SMP-A" || a["domain"] != zoneName {
			t.Errorf("audit line %v", a)
		}
		ops = append(ops, a["op"].(string))
	}
	if got := strings.Join(ops, ","); got != "create-smp,update-smp,delete-smp" {
		t.Errorf("audit ops = %s", got)
	}
}

func pkiIdentity(e *env, client string) string {
	c := e.pki.clients[client].Cert
	return c.Subject.String() + ":" + c.SerialNumber.Text(16)
}

func TestParticipants(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	const urlA = "http://smp-a.example.org"

	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", urlA)
	if rc, ans := e.dig(t, identifier.CNAMEName(identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:test-a1"}, zoneName, identifier.SchemeLabel), "CNAME"); rc != "NOERROR" || len(ans) != 1 || !strings.EqualFold(ans[0], "smp-a.publisher."+zoneName) {
		t.Errorf("CNAME: %s %v", rc, ans)
	}
	// DomiSMP compares with this exact beginning and then treats the fault as success.
	e.send(t, "smp-a", "participant-create.xml", nil).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The participant identifier '9915:test-a1' with scheme: 'iso6523-actorid-upis' already exist")

	e.send(t, "smp-a", "participant-createlist.xml", nil).ok(t)
	for _, v := range []string{"9915:list-1", "9915:list-2", "0088:5798000000001"} {
		e.wantNAPTR(t, v, "Meta:SMP", urlA)
	}
	// All or nothing: a CreateList with one existing participant creates none.
	body := bytes.Replace(soaptest.Request(t, "participant-createlist.xml"), []byte("9915:list-1"), []byte("9915:list-new"), 1)
	body = bytes.Replace(body, []byte("9915:list-2"), []byte("9915:test-a1"), 1)
	e.post(t, "smp-a", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")
	e.wantNAPTR(t, "9915:list-new", "", "")

	e.send(t, "smp-a", "bdmsl-create-participant.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a2", "oasis-bdxr-smp-2", urlA)

	var page soapmsg.ParticipantPage
	r := e.send(t, "smp-a", "participant-list.xml", &page).ok(t)
	soaptest.Validate(t, soaptest.BodyElement(t, r.body), "peppol-sml-types-v1.xsd")
	if len(page.Participants) != 5 || page.NextPage != "" || page.SMPID != "SMP-A" {
		t.Errorf("list = %+v", page)
	}

	// A new logical address changes the NAPTR of every participant.
	e.send(t, "smp-a", "smp-update.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-a2.example.org/")
	e.wantNAPTR(t, "9915:test-a2", "oasis-bdxr-smp-2", "https://smp-a2.example.org/")

	e.send(t, "smp-a", "participant-deletelist.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:list-1", "", "")
	e.wantNAPTR(t, "9915:list-2", "", "")
	e.send(t, "smp-a", "participant-deletelist.xml", nil).fault(t, status500, soapmsg.FaultNotFound,
		"[ERR-110] At least one of the participants doesn't exist in the list")
	e.send(t, "smp-a", "participant-delete.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "", "")
	e.send(t, "smp-a", "participant-delete.xml", nil).fault(t, status500, soapmsg.FaultNotFound,
		"[ERR-110] At least one of the participants doesn't exist in the list")

	e.send(t, "smp-a", "participant-create-bad-scheme.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")
	e.send(t, "smp-a", "participant-create-bad-value.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")
	e.send(t, "smp-a", "participant-prepare-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound,
		"[ERR-110] At least one of the participants doesn't exist in the list")
	e.send(t, "smp-a", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] The SMP 'SMP-B' doesn't exist")
	e.send(t, "smp-a", "bdmsl-prepare-change-certificate.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The newCertificatePublicKey is not a certificate")

	// Delete of the SMP removes its remaining participants (as BDMSL does), one audit line each.
	before := len(e.log.auditLines(t))
	e.send(t, "smp-a", "smp-delete.xml", nil).ok(t)
	e.wantNAPTR(t, "0088:5798000000001", "", "")
	e.wantNAPTR(t, "9915:test-a2", "", "")
	var cascade []string
	for _, a := range e.log.auditLines(t)[before:] {
		if a["op"] == "delete-participant" && a["cause"] == "delete-smp" {
			cascade = append(cascade, a["participant"].(string))
		}
	}
	if len(cascade) != 2 {
		t.Errorf("cascade audit lines: %v", cascade)
	}
}

// Dispatch depends on the body element only: the SOAPAction with and without the nine spaces, missing, or wrong.
func TestSOAPActionForms(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	const nine = "http://busdox.org/serviceMetadata/ManageBusinessIdentifierService/1.0/         "
	const none = "http://busdox.org/serviceMetadata/ManageBusinessIdentifierService/1.0/"
	for i, action := range []*string{ptr(nine + ":createIn"), ptr(none + ":createIn"), nil, ptr("urn:wrong:deleteIn"), ptr("")} {
		body := bytes.Replace(soaptest.Request(t, "participant-create.xml"), []byte("9915:test-a1"), fmt.Appendf(nil, "9915:action-%d", i), 1)
		e.post(t, "smp-a", "/manageparticipantidentifier", body, action, nil).ok(t)
		e.wantNAPTR(t, fmt.Sprintf("9915:action-%d", i), "Meta:SMP", "http://smp-a.example.org")
	}
}

func TestRefusedRequests(t *testing.T) {
	e := newEnv(t, envOptions{maxBodyBytes: 64 << 10})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	big := bytes.Replace(soaptest.Request(t, "participant-list.xml"), []byte("<S:Body>"),
		append([]byte("<S:Body><!--"), append(bytes.Repeat([]byte("x"), 70<<10), []byte("-->")...)...), 1)
	cases := []struct {
		name, client, path string
		body               []byte
		kind               soapmsg.FaultKind
		prefix             string
	}{
		{"unknown element", "smp-a", "/manageparticipantidentifier", soaptest.Request(t, "bad-unknown-element.xml"), soapmsg.FaultBadRequest, "[ERR-106] The Body element {http://busdox.org/serviceMetadata/locator/1.0/}ExistsParticipantIdentifier is not a request"},
		{"malformed", "smp-a", "/manageparticipantidentifier", soaptest.Request(t, "bad-malformed.xml"), soapmsg.FaultBadRequest, "[ERR-106] The request is not well-formed XML"},
		{"doctype", "smp-a", "/manageservicemetadata", soaptest.Request(t, "bad-doctype.xml"), soapmsg.FaultBadRequest, "[ERR-106] DTDs"},
		{"soap 1.2", "smp-a", "/manageservicemetadata", soaptest.Request(t, "bad-soap12.xml"), soapmsg.FaultBadRequest, "[ERR-106] SOAP 1.2 is not supported"},
		{"no body", "smp-a", "/manageservicemetadata", soaptest.Request(t, "bad-no-body.xml"), soapmsg.FaultBadRequest, "[ERR-106] The Envelope has no Body"},
		{"two elements", "smp-a", "/manageservicemetadata", soaptest.Request(t, "bad-two-elements.xml"), soapmsg.FaultBadRequest, "[ERR-106] The Body holds more than one element"},
		{"over the limit", "smp-a", "/manageparticipantidentifier", big, soapmsg.FaultBadRequest, "[ERR-106] The request body is larger than 65536 bytes"},
		{"wrong endpoint", "smp-a", "/manageservicemetadata", soaptest.Request(t, "participant-list.xml"), soapmsg.FaultBadRequest, "[ERR-106] The operation ManageBusinessIdentifierService.List is served at /manageparticipantidentifier"},
		{"no certificate", "none", "/manageparticipantidentifier", soaptest.Request(t, "participant-list.xml"), soapmsg.FaultUnauthorized, "[ERR-101] No client certificate"},
		{"foreign CA", "foreign", "/manageparticipantidentifier", soaptest.Request(t, "participant-list.xml"), soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=SMP A"},
		{"expired", "expired", "/manageservicemetadata", soaptest.Request(t, "smp-create.xml"), soapmsg.FaultUnauthorized, "[ERR-101] The client certificate CN=SMP Expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := e.post(t, c.client, c.path, c.body, nil, nil).fault(t, status500, c.kind, c.prefix)
			if c.name == "expired" && !strings.Contains(f.String, "expired at") {
				t.Errorf("expired: %q", f.String)
			}
		})
	}
	// Nothing the refused requests named was created.
	e.wantNAPTR(t, "9915:test-a1", "", "")

	// IsAlive needs no certificate.
	e.send(t, "none", "bdmsl-isalive.xml", nil).ok(t)
	// Not SOAP at all.
	for _, c := range []struct {
		method, path string
		want         int
	}{{http.MethodGet, "/manageservicemetadata", http.StatusMethodNotAllowed}, {http.MethodPost, "/other", http.StatusNotFound}} {
		req, _ := http.NewRequest(c.method, e.base+c.path, strings.NewReader("x"))
		resp, err := e.clients["smp-a"].Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

// A second SMP's certificate cannot touch the first SMP or its participants, and its refused calls change nothing.
func TestOtherOwner(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	e.send(t, "smp-b", "participant-create-b.xml", nil).ok(t)

	for _, file := range []string{"smp-read.xml", "smp-update.xml", "smp-delete.xml", "participant-delete.xml",
		"participant-deletelist.xml", "participant-createlist.xml", "participant-list.xml", "bdmsl-create-participant.xml"} {
		t.Run(file, func(t *testing.T) {
			e.send(t, "smp-b", file, nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
		})
	}
	// Creating a participant for SMP-A with SMP-B's certificate (the request names SMP-A).
	body := bytes.Replace(soaptest.Request(t, "participant-create.xml"), []byte("9915:test-a1"), []byte("9915:stolen"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	// SMP-A owns a participant SMP-B tries to register for itself: "already exists", never a takeover.
	body = bytes.Replace(soaptest.Request(t, "participant-create-b.xml"), []byte("9915:test-b1"), []byte("9915:test-a1"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")

	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")
	e.wantNAPTR(t, "9915:stolen", "", "")
	e.wantNAPTR(t, "9915:test-b1", "Meta:SMP", "https://smp-b.example.org/smp")
	var smp soapmsg.SMPService
	e.send(t, "smp-a", "smp-read.xml", &smp).ok(t)
	if smp.PublisherEndpoint.LogicalAddress != "http://smp-a.example.org" {
		t.Errorf("SMP-A changed: %+v", smp)
	}
}

func TestBDMSLFaultStatus(t *testing.T) {
	e := newEnv(t, envOptions{faultStatus: soap.StatusBDMSL})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "smp-create.xml", nil).fault(t, http.StatusBadRequest, soapmsg.FaultBadRequest, "[ERR-106] The SMP 'SMP-A' already exists")
	e.send(t, "smp-a", "smp-read-missing.xml", nil).fault(t, http.StatusNotFound, soapmsg.FaultNotFound, "[ERR-100] ")
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, http.StatusUnauthorized, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.post(t, "none", "/manageservicemetadata", soaptest.Request(t, "smp-read.xml"), nil, nil).fault(t, http.StatusUnauthorized, soapmsg.FaultUnauthorized, "[ERR-101] ")
}

// failing is a Backend whose every call fails with an internal cause.
type failing struct{ soap.Backend }

var errDisk = errors.New("disk on fire at /var/lib/secret/sml.db")

func (failing) CreateSMP(context.Context, sml.Caller, sml.SMP) error { return errDisk }
func (failing) ListParticipants(context.Context, sml.Caller, string, string, int) ([]identifier.ID, string, error) {
	return nil, "", &sml.Error{Kind: sml.KindInternal, Msg: "internal error of the SML (list); try again later", Err: errDisk}
}

func TestInternalErrorHidesDetail(t *testing.T) {
	e := newEnv(t, envOptions{backend: failing{}})
	for _, file := range []string{"smp-create.xml", "participant-list.xml"} {
		r := e.send(t, "smp-a", file, nil)
		r.fault(t, status500, soapmsg.FaultInternal, "[ERR-105] Internal error of the SML")
		if bytes.Contains(r.body, []byte("disk on fire")) || bytes.Contains(r.body, []byte("/var/lib")) {
			t.Errorf("fault leaks the cause:\n%s", r.body)
		}
	}
	if !strings.Contains(e.log.String(), "disk on fire") {
		t.Error("the internal cause was not logged")
	}
}

func TestHugeNamesAreNotEchoed(t *testing.T) {
	e := newEnv(t, envOptions{})
	name := strings.Repeat("x", 200000)
	body := []byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><` + name + `/></S:Body></S:Envelope>`)
	r := e.post(t, "smp-a", "/manageservicemetadata", body, nil, nil)
	r.fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The Body element {}xxx")
	if len(r.body) > 4096 {
		t.Errorf("fault of %d bytes echoes the request", len(r.body))
	}
}

// Refused requests are not logged as internal errors (which alert operators).
func TestRefusalsAreNotErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	for _, f := range []string{"participant-migrate.xml", "smp-read-missing.xml", "participant-create-bad-value.xml", "smp-create.xml"} {
		e.send(t, "smp-a", f, nil)
	}
	e.send(t, "smp-b", "smp-read.xml", nil)
	if strings.Contains(e.log.String(), `"level":"ERROR"`) {
		t.Errorf("a refused request was logged as an error:\n%s", e.log.String())
	}
}

// Exactly one audit line per change, with the caller's identity, its domain, the SMP, the operation and the
// (canonical) identifier; a DeleteSMP logs one line per removed participant and one for the SMP.
func TestAuditOneLinePerChange(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	body := bytes.Replace(soaptest.Request(t, "participant-createlist.xml"), []byte("9915:list-1"), []byte("9915:LIST-1"), 1)
	e.post(t, "smp-a", "/manageparticipantidentifier", body, nil, nil).ok(t)
	e.send(t, "smp-a", "participant-deletelist.xml", nil).ok(t)
	e.send(t, "smp-a", "smp-delete.xml", nil).ok(t)
	// Refused calls log no audit line.
	e.send(t, "smp-a", "smp-delete.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] ")

	var got []string
	for _, a := range e.log.auditLines(t) {
		if a["msg"] != "sml change" || a["caller"] != pkiIdentity(e, "smp-a") || a["domain"] != zoneName || a["smp"] != "SMP-A" {
			t.Errorf("audit line %v", a)
		}
		line := fmt.Sprint(a["op"])
		if p, ok := a["participant"]; ok {
			line += " " + fmt.Sprint(p)
		}
		if c, ok := a["cause"]; ok {
			line += " (" + fmt.Sprint(c) + ")"
		}
		got = append(got, line)
	}
	want := []string{
		"create-smp",
		"create-participant iso6523-actorid-upis::9915:list-1",
		"create-participant iso6523-actorid-upis::9915:list-2",
		"create-participant iso6523-actorid-upis::0088:5798000000001",
		"delete-participant iso6523-actorid-upis::9915:list-1",
		"delete-participant iso6523-actorid-upis::9915:list-2",
		"delete-participant iso6523-actorid-upis::0088:5798000000001 (delete-smp)",
		"delete-smp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
