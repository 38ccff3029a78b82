package registrar_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/registrar"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestPutAndDeleteReachDNS: a PUT of a new service group gets the participant's NAPTR into the SML's DNS, a
// DELETE takes it out again, and with create-in-sml=false the participant stays out of DNS.
func TestPutAndDeleteReachDNS(t *testing.T) {
	needDig(t)
	s := newStack(t, "")
	a := s.newSMP(smpOptions{})
	const p = "iso6523-actorid-upis::9915:reach-dns"
	a.put(t, p, "")
	a.waitState(t, p, smp.RegRegistered)
	if got := s.naptr(t, p); !strings.Contains(got, `"Meta:SMP"`) || !strings.Contains(got, "http://"+a.app.Addr()) {
		t.Fatalf("dig NAPTR after PUT: %q, want Meta:SMP pointing at %s", got, a.app.Addr())
	}
	a.del(t, p)
	a.waitState(t, p, "")
	if got := s.naptr(t, p); got != "" {
		t.Fatalf("dig NAPTR after DELETE: %q, want none", got)
	}

	const q = "iso6523-actorid-upis::9915:not-in-sml"
	a.put(t, q, "?create-in-sml=false")
	a.put(t, "iso6523-actorid-upis::9915:marker", "") // delivered after q's (absent) intent
	a.waitState(t, "iso6523-actorid-upis::9915:marker", smp.RegRegistered)
	if r := a.registration(t, q); r.State != "" {
		t.Errorf("create-in-sml=false: registration %+v, want none", r)
	}
	if got := s.naptr(t, q); got != "" {
		t.Fatalf("dig NAPTR with create-in-sml=false: %q, want none", got)
	}
	// Turning the flag on registers it; off again deletes it.
	a.put(t, q, "?create-in-sml=true")
	a.waitState(t, q, smp.RegRegistered)
	a.put(t, q, "?create-in-sml=false")
	a.waitState(t, q, "")
	if s.smlHas(t, q) {
		t.Fatal("create-in-sml turned off: the NAPTR is still there")
	}
}

// TestSMLDownThenBack: with the SML stopped a PUT succeeds and is pending with the reason; when the SML comes
// back, the participant is registered with no one acting.
func TestSMLDownThenBack(t *testing.T) {
	s := newStack(t, "")
	a := s.newSMP(smpOptions{})
	a.waitDrained(t)
	s.stopSML()
	const p = "iso6523-actorid-upis::9915:while-down"
	a.put(t, p, "")
	var r smp.Registration
	for range 500 {
		if r = a.registration(t, p); r.LastError != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.State != smp.RegPending || r.LastError == "" || r.Attempts == 0 {
		t.Fatalf("with the SML down: %+v, want pending with an error", r)
	}
	// The worker records its own last error just after the intent's (when the delivery round returns).
	var st registrar.Status
	for range 500 {
		if st, _ = a.app.Registrar().Status(t.Context()); st.LastError != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Count.Pending != 1 || st.LastError == "" {
		t.Errorf("status with the SML down: %+v", st)
	}
	s.startSML()
	a.waitState(t, p, smp.RegRegistered)
	if !s.smlHas(t, p) {
		t.Fatal("registered, but not in the SML's DNS")
	}
}

// TestRefusedFailsOnce: a participant whose scheme the SML's domain does not allow ends failed with the SML's
// message and is not tried again until an operator retries it.
func TestRefusedFailsOnce(t *testing.T) {
	s := newStack(t, "^iso6523-actorid-upis$")
	a := s.newSMP(smpOptions{identifiers: "oasis"})
	const p = "urn:oasis:names:tc:ebcore:partyid-type:unregistered::refused-1"
	a.put(t, p, "")
	r := a.waitState(t, p, smp.RegFailed)
	if !strings.Contains(r.LastError, "scheme") {
		t.Errorf("failed with %q, want the SML's message about the scheme", r.LastError)
	}
	calls := a.calls(t, "create", "bad request")
	// Other traffic goes on meanwhile; the failed one is not sent again.
	for i := range 3 {
		q := fmt.Sprintf("iso6523-actorid-upis::9915:after-refused-%d", i)
		a.put(t, q, "")
		a.waitState(t, q, smp.RegRegistered)
	}
	time.Sleep(500 * time.Millisecond) // longer than sml.retry_max
	if got := a.calls(t, "create", "bad request"); got != calls {
		t.Errorf("refused create sent %v more times without a retry", got-calls)
	}
	if r := a.registration(t, p); r.State != smp.RegFailed {
		t.Errorf("after a while: %+v, want still failed", r)
	}
	// The operator retries: it is sent once more and fails again.
	if n, err := a.app.Service().RetryRegistrations(t.Context(), participant(t, p)); err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	for range 500 {
		if a.calls(t, "create", "bad request") == calls+1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.waitState(t, p, smp.RegFailed)
	if got := a.calls(t, "create", "bad request"); got != calls+1 {
		t.Errorf("after retry: %v refused creates, want %v", got, calls+1)
	}
}

// TestBatchWithOneRefused: 100 participants imported at once go in CreateList batches; the one the SML refuses
// makes its batch fail, and the batch is sent one by one: that one fails, the 99 others are registered.
func TestBatchWithOneRefused(t *testing.T) {
	s := newStack(t, "^iso6523-actorid-upis$")
	a := s.newSMP(smpOptions{identifiers: "oasis"})
	a.waitDrained(t)
	var ps []string
	for i := range 99 {
		ps = append(ps, fmt.Sprintf("iso6523-actorid-upis::9915:batch-%03d", i))
	}
	const bad = "urn:oasis:names:tc:ebcore:partyid-type:unregistered::batch-bad"
	ps = append(ps[:50], append([]string{bad}, ps[50:]...)...)
	a.importGroups(t, ps)
	a.waitState(t, bad, smp.RegFailed)
	a.waitDrained(t)
	for _, p := range ps {
		if p == bad {
			continue
		}
		if r := a.registration(t, p); r.State != smp.RegRegistered {
			t.Fatalf("%s: %+v, want registered", p, r)
		}
	}
	if !s.smlHas(t, ps[0]) || !s.smlHas(t, ps[99]) {
		t.Error("registered participants are not in the SML's DNS")
	}
	if a.calls(t, "create-list", "bad request") < 1 {
		t.Error("no CreateList was refused: the participants did not go in a batch")
	}
	if st, _ := a.app.Registrar().Status(t.Context()); st.Count.Failed != 1 || st.Count.Registered != 99 {
		t.Errorf("status: %+v, want 99 registered and 1 failed", st.Count)
	}
}

// TestImportGoesInBatches: 1,000 imported service groups reach the SML in CreateList batches.
func TestImportGoesInBatches(t *testing.T) {
	s := newStack(t, "")
	a := s.newSMP(smpOptions{})
	a.waitDrained(t)
	var ps []string
	for i := range 1000 {
		ps = append(ps, fmt.Sprintf("iso6523-actorid-upis::9915:import-%04d", i))
	}
	a.importGroups(t, ps)
	a.waitDrained(t)
	lists, singles := a.calls(t, "create-list", "ok"), a.calls(t, "create", "ok")
	if lists < 10 || singles > 10 {
		t.Errorf("%v CreateList and %v Create calls for 1,000 participants, want batches of at most 100", lists, singles)
	}
	for _, p := range []string{ps[0], ps[500], ps[999]} {
		if !s.smlHas(t, p) {
			t.Errorf("%s is not in the SML's DNS", p)
		}
	}
	st, err := a.app.Registrar().Status(t.Context())
	if err != nil || st.Count.Registered != 1000 {
		t.Errorf("status: %+v %v", st, err)
	}
}

// TestRegisteredByAnotherSMP: the SML answers "already exists" for a participant another SMP has; that is not
// success but a failure that says to migrate.
func TestRegisteredByAnotherSMP(t *testing.T) {
	s := newStack(t, "")
	cert, key := s.issueSMP(t, "SMP-OTHER")
	b := s.newSMP(smpOptions{id: "SMP-OTHER", cert: cert, key: key})
	a := s.newSMP(smpOptions{})
	const p = "iso6523-actorid-upis::9915:taken"
	b.put(t, p, "")
	b.waitState(t, p, smp.RegRegistered)
	a.put(t, p, "")
	r := a.waitState(t, p, smp.RegFailed)
	if !strings.Contains(r.LastError, "registered by another SMP: migrate it") {
		t.Errorf("failed with %q, want the migration hint", r.LastError)
	}
	// A participant this SMP has already (registered before the SMP forgot it) is confirmed and registered.
	const q = "iso6523-actorid-upis::9915:ours"
	a.put(t, q, "")
	a.waitState(t, q, smp.RegRegistered)
	if _, err := a.app.Service().ForgetRegistrations(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.app.Service().Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.waitState(t, q, smp.RegRegistered)
	if got := a.calls(t, "list", "ok"); got < 1 {
		t.Errorf("already-exists was not checked against the SML's List (%v calls)", got)
	}
}

// TestImportedPeerFilesRegister: documents exported from another SMP (phoss-SMP's PUT body and a real PEPPOL
// SignedServiceMetadata, testdata/smp/samples) imported as a directory get their participants registered through
// the same outbox.
func TestImportedPeerFilesRegister(t *testing.T) {
	s := newStack(t, "")
	a := s.newSMP(smpOptions{})
	a.waitDrained(t)
	dir := t.TempDir()
	for _, f := range []string{"peppol-smp1_peppol-service-group.xml", "peppol-smp1_signed-service-metadata1.xml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "smp", "samples", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := xmlbind.ImportDir(t.Context(), a.app.Service(), dir, xmlbind.Limits{}); err != nil {
		t.Fatal(err)
	}
	a.waitDrained(t)
	for _, p := range []string{"iso6523-actorid-upis::9915:xxx", "iso6523-actorid-upis::0088:5026744000002"} {
		if r := a.registration(t, p); r.State != smp.RegRegistered {
			t.Errorf("%s: %+v, want registered", p, r)
		}
		if !s.smlHas(t, p) {
			t.Errorf("%s is not in the SML's DNS", p)
		}
	}
}
