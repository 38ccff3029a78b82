package console

import (
	"crypto/x509"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/smp"
)

// PageSize is how many service groups a page of the list shows.
const PageSize = 50

// scanPerPage bounds how many groups one page of an owner's list reads, whatever the SMP's size.
const scanPerPage = 20000

// soon is how close an expiry must be for the console to highlight it.
const soon = 30 * 24 * time.Hour

var funcs = template.FuncMap{
	"q": url.QueryEscape,
}

// done messages: a successful form redirects with ?done=KEY; only these texts are shown.
var doneText = map[string]string{
	"created": "The service group was created.", "deleted": "The service group was deleted.",
	"changed": "The service group was saved; the SML hears of the change through the outbox.",
	"saved":   "The document type was saved and signed.", "svcdeleted": "The document type was deleted.",
	"retried": "The registration will be tried again now.", "user": "The user was saved.",
	"revoked": "The token was revoked: the API refuses it from now on.",
}

func (c *Console) flash(r *http.Request) string { return doneText[r.URL.Query().Get("done")] }

// parseParticipant reads a participant as typed: "scheme::value", or a value of the PEPPOL scheme.
func (c *Console) parseParticipant(s string) (identifier.ID, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "::") {
		s = identifier.SchemeISO6523 + "::" + s
	}
	return c.o.SMP.Policy().Parse(identifier.Participant, s)
}

type dashboard struct {
	Status   smp.Status
	Counts   smp.RegistrationCounts
	Outbox   int
	Expiring []smp.ExpiringCertificate
	KeySoon  bool
	Now      time.Time
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s console.Session) {
	st, err := c.o.SMP.Status(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := dashboard{Status: st, Now: c.o.Now()}
	if st.SML != nil {
		d.Counts = st.SML.Participants
	} else if d.Counts, err = c.o.SMP.RegistrationCounts(r.Context()); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Outbox = d.Counts.Pending + d.Counts.Failed
	d.KeySoon = !st.NotAfter.IsZero() && st.NotAfter.Sub(d.Now) < soon
	exp, err := c.expiring(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Expiring = exp
	c.render(w, r, http.StatusOK, "dashboard", s, "Dashboard", "/", d)
}

// expiringTTL is how long the dashboard reuses its list of expiring endpoint certificates: finding them reads
// every service metadata.
const expiringTTL = 5 * time.Minute

func (c *Console) expiring(r *http.Request, s console.Session) ([]smp.ExpiringCertificate, error) {
	now := c.o.Now()
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.expList == nil || now.Sub(c.expAt) > expiringTTL || now.Before(c.expAt) {
		l, err := c.o.SMP.ExpiringEndpoints(r.Context(), now.Add(soon), 1000, nil)
		if err != nil {
			return nil, err
		}
		c.expList, c.expAt = l, now
		if c.expList == nil {
			c.expList = []smp.ExpiringCertificate{}
		}
	}
	var out []smp.ExpiringCertificate
	for _, e := range c.expList {
		if sees(s, e.Owner) && len(out) < 100 {
			out = append(out, e)
		}
	}
	return out, nil
}

type groupList struct {
	Query  string
	Groups []smp.GroupSummary
	Next   string
	First  bool
	State  map[string]string
}

func (c *Console) groups(w http.ResponseWriter, r *http.Request, s console.Session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	after := r.URL.Query().Get("after")
	prefix := ""
	if q != "" {
		if id, err := c.parseParticipant(q); err == nil {
			prefix = id.String()
		} else if strings.Contains(q, "::") {
			prefix = strings.ToLower(q)
		} else {
			prefix = identifier.SchemeISO6523 + "::" + strings.ToLower(q)
		}
	}
	var keep func(smp.GroupSummary) bool
	if !s.Admin {
		keep = func(g smp.GroupSummary) bool { return g.Owner == s.User }
	}
	gs, next, err := c.o.SMP.FindServiceGroups(r.Context(), prefix, after, PageSize, scanPerPage, keep)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := groupList{Query: q, Groups: gs, Next: next, First: after == "", State: map[string]string{}}
	for _, g := range gs {
		if id, err := c.o.SMP.Policy().Parse(identifier.Participant, g.Participant); err == nil {
			if reg, ok, err := c.o.SMP.Registration(r.Context(), id); err == nil && ok {
				d.State[g.Participant] = string(reg.State)
			}
		}
	}
	c.render(w, r, http.StatusOK, "groups", s, "Service groups", "/groups", d)
}

type endpointView struct {
	smp.Endpoint
	Subject, Issuer string
	NotAfter        time.Time
	Soon, CertErr   bool
}

type processView struct {
	ID        string
	Endpoints []endpointView
}

type serviceView struct {
	DocumentType string
	Processes    []processView
	Redirect     *smp.Redirect
}

type groupPage struct {
	Group        smp.ServiceGroup
	Participant  string
	Services     []serviceView
	Registration *smp.Registration
	SMLEnabled   bool
}

// loadGroup reads the group named by the form or query value "p", answering 404 for one the session may not
// see (an owner learns nothing of other owners' groups). ok false: answered already.
func (c *Console) loadGroup(w http.ResponseWriter, r *http.Request, s console.Session, value string) (smp.ServiceGroup, bool) {
	id, err := c.parseParticipant(value)
	if err != nil {
		c.fail(w, r, s, smp.Invalid("participant", err.Error()))
		return smp.ServiceGroup{}, false
	}
	sg, err := c.o.SMP.GetServiceGroup(r.Context(), id)
	if err == nil && !sees(s, sg.Owner) {
		err = smp.NotFound("service group " + id.String())
	}
	if err != nil {
		c.fail(w, r, s, err)
		return smp.ServiceGroup{}, false
	}
	return sg, true
}

func (c *Console) group(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.URL.Query().Get("p"))
	if !ok {
		return
	}
	ms, err := c.o.SMP.GroupMetadata(r.Context(), sg.Participant)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	now := c.o.Now()
	d := groupPage{Group: sg, Participant: sg.Participant.String(), SMLEnabled: c.o.SMP.SMLEnabled()}
	for _, sm := range ms {
		sv := serviceView{DocumentType: sm.DocumentType.String(), Redirect: sm.Redirect}
		for _, p := range sm.Processes {
			pv := processView{ID: p.ID.String()}
			for _, e := range p.Endpoints {
				ev := endpointView{Endpoint: e}
				if cert, err := x509.ParseCertificate(e.Certificate); err == nil {
					ev.Subject, ev.Issuer, ev.NotAfter = cert.Subject.String(), cert.Issuer.String(), cert.NotAfter
					ev.Soon = cert.NotAfter.Sub(now) < soon
				} else if len(e.Certificate) > 0 {
					ev.CertErr = true
				}
				pv.Endpoints = append(pv.Endpoints, ev)
			}
			sv.Processes = append(sv.Processes, pv)
		}
		d.Services = append(d.Services, sv)
	}
	if reg, ok, err := c.o.SMP.Registration(r.Context(), sg.Participant); err != nil {
		c.fail(w, r, s, err)
		return
	} else if ok {
		d.Registration = &reg
	}
	c.render(w, r, http.StatusOK, "group", s, d.Participant, "", d)
}

func groupURL(p identifier.ID, done string) string {
	u := "/group?p=" + url.QueryEscape(p.String())
	if done != "" {
		u += "&done=" + done
	}
	return u
}

func (c *Console) deleteGroup(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.PostFormValue("p"))
	if !ok {
		return
	}
	if err := c.o.SMP.DeleteServiceGroup(r.Context(), principal(s), sg.Participant); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.o.Log.Info("smp console: service group deleted", "audit", true, "user", s.User, "participant", sg.Participant.String())
	redirect(w, r, "/groups?done=deleted")
}

// editGroup changes whether the participant is meant to be in the SML (the group's one setting a form changes;
// its extensions and owner stay).
func (c *Console) editGroup(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.PostFormValue("p"))
	if !ok {
		return
	}
	inSML := r.PostFormValue("in_sml") != ""
	sg.InSML = inSML
	if _, err := c.o.SMP.PutServiceGroup(r.Context(), principal(s), sg, smp.GroupWrite{InSML: &inSML}); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.o.Log.Info("smp console: service group changed", "audit", true, "user", s.User, "participant", sg.Participant.String(), "in_sml", inSML)
	redirect(w, r, groupURL(sg.Participant, "changed"))
}

func (c *Console) retry(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.PostFormValue("p"))
	if !ok {
		return
	}
	if _, err := c.o.SMP.RetryRegistrations(r.Context(), sg.Participant); err != nil {
		c.fail(w, r, s, err)
		return
	}
	redirect(w, r, groupURL(sg.Participant, "retried"))
}
