package soap_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

var reParticipants = regexp.MustCompile(`(<ns2:ParticipantIdentifier [^>]*>[^<]*</ns2:ParticipantIdentifier>)+`)

// listBody returns the testdata request file (CreateList or DeleteList of SMP-A) with its participants replaced
// by values (scheme iso6523-actorid-upis).
func listBody(t testing.TB, file string, values []string) []byte {
	t.Helper()
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, `<ns2:ParticipantIdentifier scheme="iso6523-actorid-upis">%s</ns2:ParticipantIdentifier>`, v)
	}
	src := soaptest.Request(t, file)
	if !reParticipants.Match(src) {
		t.Fatalf("%s has no participants to replace", file)
	}
	return reParticipants.ReplaceAll(src, []byte(b.String()))
}

// List pages over more than 1,000 participants, while others write, add up to every participant that existed
// throughout, each once; what else they hold was written meanwhile.
func TestListWhileWriting(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	initial := map[string]bool{}
	for call := 0; call < 11; call++ {
		values := make([]string, 100)
		for i := range values {
			values[i] = fmt.Sprintf("9915:p%02d-%03d", call, i)
			initial[values[i]] = true
		}
		e.post(t, "smp-a", "/manageparticipantidentifier", listBody(t, "participant-createlist.xml", values), nil, nil).ok(t)
	}

	files := map[string][]byte{}
	for _, f := range []string{"participant-create.xml", "participant-create-b.xml", "participant-delete.xml"} {
		files[f] = soaptest.Request(t, f)
	}
	var stop atomic.Bool
	var wg, started sync.WaitGroup
	var writes atomic.Int64
	written := sync.Map{}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			first := true
			defer func() {
				if first {
					started.Done()
				}
			}()
			for i := 0; !stop.Load() && i < 400; i++ {
				v := fmt.Sprintf("9915:w%d-%03d", w, i)
				written.Store(v, true)
				reqs := []struct{ client, file, from, to string }{
					{"smp-a", "participant-create.xml", "9915:test-a1", v},
					// SMP-B writes too; its participants never show up in SMP-A's list.
					{"smp-b", "participant-create-b.xml", "9915:test-b1", fmt.Sprintf("9915:b%d-%03d", w, i)},
				}
				if i%3 == 0 { // and some deletes of what this writer created
					reqs = append(reqs, struct{ client, file, from, to string }{"smp-a", "participant-delete.xml", "9915:test-a1", v})
				}
				for _, q := range reqs {
					body := bytes.Replace(files[q.file], []byte(q.from), []byte(q.to), 1)
					if r, err := e.try(q.client, "/manageparticipantidentifier", body, nil, nil); err != nil || !r.succeeded() {
						t.Errorf("concurrent write %s %s: %v %s", q.file, q.to, err, r.body)
						return
					}
					writes.Add(1)
				}
				if first {
					first = false
					started.Done()
				}
			}
		}()
	}

	started.Wait() // the writers are writing
	before := writes.Load()
	seen := map[string]int{}
	pages := 0
	next := ""
	for {
		body := soaptest.Request(t, "participant-list.xml")
		if next != "" {
			body = bytes.Replace(soaptest.Request(t, "participant-list-next.xml"), []byte("NEXT_PAGE_TOKEN"), []byte(next), 1)
		}
		var page soapmsg.ParticipantPage
		r := e.post(t, "smp-a", "/manageparticipantidentifier", body, nil, &page).ok(t)
		if pages == 0 {
			soaptest.Validate(t, soaptest.BodyElement(t, r.body), "peppol-sml-types-v1.xsd")
		}
		pages++
		for _, p := range page.Participants {
			if p.Scheme != "iso6523-actorid-upis" {
				t.Errorf("scheme %q", p.Scheme)
			}
			seen[p.Value]++
		}
		if page.NextPage == "" {
			break
		}
		next = page.NextPage
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	during := writes.Load() - before
	stop.Store(true)
	wg.Wait()
	t.Logf("%d pages; %d writes while paging", pages, during)
	if during == 0 {
		t.Error("no write happened while paging; the test did not test concurrency")
	}

	if pages < 11 {
		t.Errorf("%d pages for over 1,100 participants", pages)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("participant %s listed %d times", v, n)
		}
		if _, ok := written.Load(v); !initial[v] && !ok {
			t.Errorf("participant %s listed but never written to SMP-A", v)
		}
	}
	missing := 0
	for v := range initial {
		if seen[v] == 0 {
			missing++
		}
	}
	if missing != 0 {
		t.Errorf("%d of %d participants missing from the pages", missing, len(initial))
	}
}

func TestBatchLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	values := make([]string, 101)
	for i := range values {
		values[i] = fmt.Sprintf("9915:over-%03d", i)
	}
	// 101 identifiers are refused as a whole; 100 (the largest batch) fit into the default body limit.
	e.post(t, "smp-a", "/manageparticipantidentifier", listBody(t, "participant-createlist.xml", values), nil, nil).
		fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The CreateList request has 101 participants; give 1 to 100")
	e.wantNAPTR(t, "9915:over-000", "", "")
	e.post(t, "smp-a", "/manageparticipantidentifier", listBody(t, "participant-createlist.xml", values[:100]), nil, nil).ok(t)
	e.wantNAPTR(t, "9915:over-099", "Meta:SMP", "http://smp-a.example.org")
	e.post(t, "smp-a", "/manageparticipantidentifier", listBody(t, "participant-deletelist.xml", values[:100]), nil, nil).ok(t)
	e.wantNAPTR(t, "9915:over-099", "", "")
}
