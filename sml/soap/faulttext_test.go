package soap_test

import (
	"bytes"
	"testing"

	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// TestFaultTextsExact pins the whole fault string of every kind of refusal the Service reports, for each subject
// (SMP, one participant, a participant of a list): clients compare these texts (DomiSMP with startsWith), so the
// translation in fault.go must give them byte for byte.
func TestFaultTextsExact(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-a", "bdmsl-create-participant.xml", nil).ok(t)

	req := func(file string, pairs ...string) []byte {
		b := soaptest.Request(t, file)
		for i := 0; i+1 < len(pairs); i += 2 {
			b = bytes.Replace(b, []byte(pairs[i]), []byte(pairs[i+1]), 1)
		}
		return b
	}
	const (
		smpPath = "/manageservicemetadata"
		pPath   = "/manageparticipantidentifier"
		bdPath  = "/bdmslservice"
	)
	cases := []struct {
		name, client, path string
		body               []byte
		kind               soapmsg.FaultKind
		want               string
	}{
		{"smp exists", "smp-a", smpPath, req("smp-create.xml"), soapmsg.FaultBadRequest,
			"[ERR-106] The SMP 'SMP-A' already exists. The SMP 'SMP-A' already exists"},
		{"smp not found", "smp-a", smpPath, req("smp-read-missing.xml"), soapmsg.FaultNotFound,
			"[ERR-100] The SMP 'SMP-NOPE' doesn't exist. The SMP 'SMP-NOPE' does not exist; create it first (CreateServiceMetadataPublisherService)"},
		{"smp of another certificate", "smp-b", smpPath, req("smp-read.xml"), soapmsg.FaultUnauthorized,
			"[ERR-101] The SMP 'SMP-A' belongs to another certificate; call with the certificate that created it"},
		{"smp bad address", "smp-a", smpPath, req("smp-update-bad-address.xml"), soapmsg.FaultBadRequest,
			"[ERR-106] The logical address 'smp-a2.example.org' is not an absolute http or https URL; give the SMP's base URL, e.g. https://smp.example.org"},
		{"smp bad id", "smp-a", smpPath, req("smp-read.xml", "SMP-A", "SMP!A"), soapmsg.FaultBadRequest,
			"[ERR-106] The SMP ID 'SMP!A' has the character '!' at position 4; use letters, digits, '-' and '_' (it must form a DNS label)"},
		{"participant exists", "smp-a", pPath, req("participant-create.xml"), soapmsg.FaultBadRequest,
			"[ERR-106] The participant identifier '9915:test-a1' with scheme: 'iso6523-actorid-upis' already exist. The participant 'iso6523-actorid-upis::9915:test-a1' already exists"},
		{"participant exists, upper-case request", "smp-a", pPath,
			req("participant-create.xml", "iso6523-actorid-upis", "ISO6523-ACTORID-UPIS", "9915:test-a1", "9915:TEST-A1"), soapmsg.FaultBadRequest,
			"[ERR-106] The participant identifier '9915:TEST-A1' with scheme: 'ISO6523-ACTORID-UPIS' already exist. The participant 'iso6523-actorid-upis::9915:test-a1' already exists"},
		{"bdmsl participant exists", "smp-a", bdPath, req("bdmsl-create-participant.xml"), soapmsg.FaultBadRequest,
			"[ERR-106] The participant identifier '9915:test-a2' with scheme: 'iso6523-actorid-upis' already exist. The participant 'iso6523-actorid-upis::9915:test-a2' already exists"},
		{"list: one exists", "smp-a", pPath, req("participant-createlist.xml", "9915:list-2", "9915:test-a1"), soapmsg.FaultBadRequest,
			"[ERR-106] The participant 'iso6523-actorid-upis::9915:test-a1' already exists"},
		{"list: listed twice", "smp-a", pPath, req("participant-createlist.xml", "9915:list-2", "9915:list-1"), soapmsg.FaultBadRequest,
			"[ERR-106] The participant 'iso6523-actorid-upis::9915:list-1' is listed twice; list each participant once"},
		{"list: bad scheme first", "smp-a", pPath, req("participant-createlist.xml", `scheme="iso6523-actorid-upis"`, `scheme="bad scheme"`), soapmsg.FaultBadRequest,
			"[ERR-106] Identifier: participant \"bad scheme::9915:list-1\": scheme contains a space at position 4; scheme must not contain whitespace; correct the participant identifier"},
		{"participant of a missing smp", "smp-a", pPath, req("participant-create.xml", "SMP-A", "SMP-NOPE"), soapmsg.FaultNotFound,
			"[ERR-100] The SMP 'SMP-NOPE' doesn't exist. The SMP 'SMP-NOPE' does not exist; create it first (CreateServiceMetadataPublisherService)"},
		{"list of a missing smp", "smp-a", pPath, req("participant-list.xml", "SMP-A", "SMP-NOPE"), soapmsg.FaultNotFound,
			"[ERR-100] The SMP 'SMP-NOPE' doesn't exist. The SMP 'SMP-NOPE' does not exist; create it first (CreateServiceMetadataPublisherService)"},
		{"delete missing participant", "smp-a", pPath, req("participant-delete.xml", "9915:test-a1", "9915:nope"), soapmsg.FaultNotFound,
			"[ERR-110] At least one of the participants doesn't exist in the list. The participant 'iso6523-actorid-upis::9915:nope' is not registered for the SMP 'SMP-A'"},
		{"delete list, one missing", "smp-a", pPath, req("participant-deletelist.xml", "9915:list-1", "9915:test-a1"), soapmsg.FaultNotFound,
			"[ERR-110] At least one of the participants doesn't exist in the list. The participant 'iso6523-actorid-upis::9915:list-2' is not registered for the SMP 'SMP-A'"},
		{"participant of another certificate's smp", "smp-b", pPath, req("participant-create.xml"), soapmsg.FaultUnauthorized,
			"[ERR-101] The SMP 'SMP-A' belongs to another certificate; call with the certificate that created it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(t, c.client, c.path, c.body, nil, nil)
			f := r.fault(t, status500, c.kind, c.want)
			if f.String != c.want {
				t.Errorf("fault string\n got %q\nwant %q", f.String, c.want)
			}
		})
	}
}
