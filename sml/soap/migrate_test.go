package soap_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// A participant moves from SMP-A to SMP-B (two certificates of the test CA): only SMP-A's certificate may
// prepare, only SMP-B's may complete, a wrong key changes nothing, the NAPTR answer moves, and the key cannot be
// used twice.
func TestMigration(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")

	// Nothing prepared yet.
	e.send(t, "smp-b", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] No migration of the participant")
	// Only the owner of SMP-A prepares.
	e.send(t, "smp-b", "participant-prepare-migrate.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "smp-a", "participant-prepare-migrate.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")

	// A well-formed but wrong key, and the right key from a certificate that does not own SMP-B.
	e.send(t, "smp-b", "participant-migrate-wrong-key.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] No migration of the participant")
	e.send(t, "smp-a", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")

	e.send(t, "smp-b", "participant-migrate.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-b.example.org/smp")
	cnameOwner := identifier.CNAMEName(identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:test-a1"}, zoneName, identifier.SchemeLabel)
	if rcode, ans := e.dig(t, cnameOwner, "CNAME"); rcode != "NOERROR" || len(ans) != 1 || ans[0] != sml.PublisherName("SMP-B", zoneName) {
		t.Errorf("CNAME of the migrated participant: %s %v, want %s", rcode, ans, sml.PublisherName("SMP-B", zoneName))
	}

	// The participant is SMP-B's now: SMP-A can no longer delete it, SMP-B can list it.
	e.send(t, "smp-a", "participant-delete.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] ")
	var page soapmsg.ParticipantPage
	body := bytes.ReplaceAll(soaptest.Request(t, "participant-list.xml"), []byte("SMP-A"), []byte("SMP-B"))
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, &page).ok(t)
	if len(page.Participants) != 1 || page.Participants[0].Value != "9915:test-a1" {
		t.Errorf("SMP-B's participants: %+v", page.Participants)
	}

	// Replayed key: used once.
	e.send(t, "smp-b", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] No migration of the participant")
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-b.example.org/smp")

	audits := e.log.auditLines(t)
	var prepared, migrated int
	for _, a := range audits {
		switch a["op"] {
		case "prepare-migrate":
			prepared++
		case "migrate":
			migrated++
			if a["smp"] != "SMP-B" || a["from_smp"] != "SMP-A" || a["participant"] != "iso6523-actorid-upis::9915:test-a1" {
				t.Errorf("migrate audit line %v", a)
			}
		}
	}
	if strings.Contains(e.log.String(), "Ab12@#cdEF34") {
		t.Error("the migration key was logged")
	}
	if prepared != 1 || migrated != 1 {
		t.Errorf("audit lines: %d prepare-migrate, %d migrate; want 1 and 1", prepared, migrated)
	}
}

// A key that breaks a rule of DIGEST 1.4 is a BadRequestFault naming the rule, and prepares nothing.
func TestPrepareToMigrateKeyRules(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-prepare-migrate-bad-key.xml", nil).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The migration key has 0 upper-case letters; it must have at least 2")
	for key, want := range map[string]string{
		"Ab1@#cD":                   "has 7 characters; it must have 8 to 24",
		"Ab12@#cdEF34Ab12@#cdEF34X": "has 25 characters; it must have 8 to 24",
		"Ab12@# cdEF34":             "contains white space",
		"ab12@#cdef34":              "0 upper-case letters",
		"AB12@#CDEF34":              "0 lower-case letters",
		"Ab1x@#cdEF":                "1 digits",
		"Ab12@.cdEF34":              "1 special characters",
	} {
		body := bytes.Replace(soaptest.Request(t, "participant-prepare-migrate.xml"), []byte("Ab12@#cdEF34"), []byte(key), 1)
		f := e.post(t, "smp-a", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The migration key ")
		if !strings.Contains(f.String, want) {
			t.Errorf("key %q: fault %q, want it to say %q", key, f.String, want)
		}
	}
	// No key was stored by the refused calls: the valid key of the envelope does not migrate.
	e.send(t, "smp-b", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] ")
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")
}

// testClock is an adjustable clock for the Service.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// A key expires after migration.key_ttl (default 30 days): after it Migrate is a NotFoundFault; a key prepared
// again works inside its period.
func TestMigrationKeyExpires(t *testing.T) {
	clock := &testClock{t: time.Now()}
	e := newEnv(t, envOptions{now: clock.now})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)

	e.send(t, "smp-a", "participant-prepare-migrate.xml", nil).ok(t)
	clock.advance(30*24*time.Hour + time.Second)
	e.send(t, "smp-b", "participant-migrate.xml", nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-110] No migration of the participant")
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "http://smp-a.example.org")

	e.send(t, "smp-a", "participant-prepare-migrate.xml", nil).ok(t)
	clock.advance(30*24*time.Hour - time.Minute)
	e.send(t, "smp-b", "participant-migrate.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-b.example.org/smp")
}

// domains[].require_https refuses an SMP whose logical address is http, on create and on update, and accepts an
// https one.
func TestRequireHTTPS(t *testing.T) {
	e := newEnv(t, envOptions{requireHTTPS: true})
	e.send(t, "smp-a", "smp-create.xml", nil).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The logical address 'http://smp-a.example.org' is not https and the domain sml.test. requires https")
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t) // https://smp-b.example.org/smp

	body := bytes.Replace(soaptest.Request(t, "smp-create.xml"), []byte("http://smp-a"), []byte("https://smp-a"), 1)
	e.post(t, "smp-a", "/manageservicemetadata", body, nil, nil).ok(t)
	e.send(t, "smp-a", "smp-update.xml", nil).ok(t) // https://smp-a2.example.org/
	body = bytes.Replace(soaptest.Request(t, "smp-update.xml"), []byte("https://smp-a2"), []byte("http://smp-a3"), 1)
	e.post(t, "smp-a", "/manageservicemetadata", body, nil, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The logical address 'http://smp-a3.example.org/' is not https")

	var smp soapmsg.SMPService
	e.send(t, "smp-a", "smp-read.xml", &smp).ok(t)
	if smp.PublisherEndpoint.LogicalAddress != "https://smp-a2.example.org/" {
		t.Errorf("SMP-A after the refused update: %+v", smp.PublisherEndpoint)
	}

	// Without the setting, http stays accepted.
	e2 := newEnv(t, envOptions{})
	e2.send(t, "smp-a", "smp-create.xml", nil).ok(t)
}
