package console

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/smp"
)

// TransportProfiles are offered in the endpoint form (others may be typed).
var TransportProfiles = []string{"peppol-transport-as4-v2_0", "bdxr-transport-ebms3-as4-v1p0"}

// serviceForm is the form of a group with one document type, process and endpoint.
type serviceForm struct {
	NewGroup    bool // the "new group" form: the participant is editable
	Participant string
	InSML       bool
	DocType     string
	Process     string
	Transport   string
	Address     string
	Cert        string // PEM as pasted, shown again after an error
	CertInfo    string // the stored certificate's subject, when editing
	Description string
	Contact     string
	Replaces    bool // the stored document type has more than this form shows: saving replaces it
	Profiles    []string
	// Errors maps a form field (participant, doctype, process, transport, address, cert) to its message;
	// "" is an error about the whole form.
	Errors map[string]string
}

func (f *serviceForm) setErr(err error) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	var e *smp.Error
	if !errors.As(err, &e) || e.Kind != smp.KindInvalid {
		f.Errors[""] = err.Error()
		return
	}
	field := strings.ToLower(e.Field)
	name := ""
	switch {
	case strings.Contains(field, "certificate"):
		name = "cert"
	case strings.Contains(field, "address"):
		name = "address"
	case strings.Contains(field, "transport"):
		name = "transport"
	case strings.Contains(field, "process"):
		name = "process"
	case strings.Contains(field, "document"):
		name = "doctype"
	case strings.Contains(field, "participant"):
		name = "participant"
	case strings.Contains(field, "contact"):
		name = "contact"
	}
	f.Errors[name] = fieldMsg(e)
}

func (c *Console) newGroupForm(w http.ResponseWriter, r *http.Request, s console.Session) {
	c.render(w, r, http.StatusOK, "service", s, "New service group", "/groups/new",
		&serviceForm{NewGroup: true, InSML: true, Process: "", Transport: TransportProfiles[0], Profiles: TransportProfiles})
}

// readForm parses the (multipart or urlencoded) form under the body limit and fills f; the certificate comes
// from the uploaded file (PEM or DER) or the pasted text (PEM or base64 DER).
func (c *Console) readForm(w http.ResponseWriter, r *http.Request, f *serviceForm) (cert []byte, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, c.o.MaxBodyBytes)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		err = r.ParseMultipartForm(c.o.MaxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, smp.Invalidf("", "the form is larger than %d bytes", c.o.MaxBodyBytes)
		}
		return nil, smp.Invalid("", "the form could not be read: "+err.Error())
	}
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f.Participant, f.DocType, f.Process = v("p"), v("doctype"), v("process")
	f.Transport, f.Address, f.Description, f.Contact = v("transport"), v("address"), v("description"), v("contact")
	f.Cert = v("cert")
	f.InSML = r.PostFormValue("in_sml") != ""
	f.Profiles = TransportProfiles
	var raw []byte
	if file, _, ferr := r.FormFile("certfile"); ferr == nil {
		raw, err = io.ReadAll(io.LimitReader(file, c.o.MaxBodyBytes))
		_ = file.Close()
		if err != nil {
			return nil, smp.Invalid("Endpoint Certificate", "the uploaded file could not be read: "+err.Error())
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 && f.Cert != "" {
		raw = []byte(f.Cert)
	}
	return decodeCert(raw)
}

// decodeCert accepts PEM (the first CERTIFICATE block), base64 DER or DER; nil for nothing. Whether it is an
// X.509 certificate is checked by the API's own rules (smp.CheckPublishable).
func decodeCert(raw []byte) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, nil
	}
	if bytes.Contains(t, []byte("-----BEGIN")) {
		for rest := t; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				return nil, smp.Invalid("Endpoint Certificate", "the PEM text holds no CERTIFICATE block")
			}
			if b.Type == "CERTIFICATE" {
				return b.Bytes, nil
			}
		}
	}
	if t[0] == 0x30 { // DER: an ASN.1 SEQUENCE
		return raw, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(t)), ""))
	if err != nil {
		return nil, smp.Invalid("Endpoint Certificate", "neither PEM, DER nor base64 DER: upload the access point's certificate")
	}
	return der, nil
}

// metadata builds the service metadata of the form and applies the API's checks (the model's and
// smp.CheckPublishable).
func (c *Console) metadata(p identifier.ID, f *serviceForm, cert []byte) (smp.ServiceMetadata, error) {
	pol := c.o.SMP.Policy()
	d, err := pol.Parse(identifier.DocumentType, f.DocType)
	if err != nil {
		return smp.ServiceMetadata{}, smp.Invalid("document type", err.Error())
	}
	procText := f.Process
	if procText == "" {
		return smp.ServiceMetadata{}, smp.Invalid("process", "missing: e.g. cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0")
	}
	proc, err := pol.Parse(identifier.Process, procText)
	if err != nil {
		return smp.ServiceMetadata{}, smp.Invalid("process", err.Error())
	}
	if f.Transport == "" {
		return smp.ServiceMetadata{}, smp.Invalid("transport profile", "missing")
	}
	if f.Address == "" {
		return smp.ServiceMetadata{}, smp.Invalid("Endpoint address", "missing: the access point's URL")
	}
	sm := smp.ServiceMetadata{Participant: p, DocumentType: d, Processes: []smp.Process{{ID: proc, Endpoints: []smp.Endpoint{{
		TransportProfile: f.Transport, Address: f.Address, Certificate: cert, Description: f.Description,
		TechnicalContactURL: f.Contact,
	}}}}}
	if err := sm.Validate(); err != nil {
		return sm, err
	}
	if _, err := smp.CheckPublishable(&sm, c.o.Now(), c.o.ExpiredCertificates); err != nil {
		return sm, err
	}
	return sm, nil
}

func (c *Console) newGroup(w http.ResponseWriter, r *http.Request, s console.Session) {
	f := &serviceForm{NewGroup: true}
	again := func(err error) {
		f.setErr(err)
		c.render(w, r, http.StatusBadRequest, "service", s, "New service group", "/groups/new", f)
	}
	cert, err := c.readForm(w, r, f)
	if err != nil {
		again(err)
		return
	}
	p, err := c.parseParticipant(f.Participant)
	if err != nil {
		again(smp.Invalid("participant", err.Error()))
		return
	}
	if _, err := c.o.SMP.GetServiceGroup(r.Context(), p); err == nil {
		again(smp.Invalid("participant", p.String()+" exists already"))
		return
	} else if !errors.Is(err, smp.ErrNotFound) {
		again(err)
		return
	}
	var sm smp.ServiceMetadata
	withService := f.DocType != "" || f.Address != "" || len(cert) > 0
	if withService {
		if sm, err = c.metadata(p, f, cert); err != nil {
			again(err)
			return
		}
	}
	inSML := f.InSML
	if _, err := c.o.SMP.PutServiceGroup(r.Context(), principal(s), smp.ServiceGroup{Participant: p, InSML: inSML},
		smp.GroupWrite{InSML: &inSML}); err != nil {
		again(err)
		return
	}
	c.o.Log.Info("smp console: service group created", "audit", true, "user", s.User, "participant", p.String())
	if withService {
		if _, err := c.o.SMP.PutServiceMetadata(r.Context(), principal(s), sm); err != nil {
			again(err)
			return
		}
	}
	redirect(w, r, groupURL(p, "created"))
}

func (c *Console) serviceForm(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.URL.Query().Get("p"))
	if !ok {
		return
	}
	f := &serviceForm{Participant: sg.Participant.String(), Transport: TransportProfiles[0], Profiles: TransportProfiles}
	if dv := r.URL.Query().Get("d"); dv != "" {
		d, err := c.o.SMP.Policy().Parse(identifier.DocumentType, dv)
		if err != nil {
			c.fail(w, r, s, smp.Invalid("document type", err.Error()))
			return
		}
		sm, err := c.o.SMP.GetServiceMetadata(r.Context(), sg.Participant, d)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		f.DocType = d.String()
		f.Replaces = sm.Redirect != nil || len(sm.Processes) > 1
		if len(sm.Processes) > 0 {
			pr := sm.Processes[0]
			f.Process = pr.ID.String()
			f.Replaces = f.Replaces || len(pr.Endpoints) > 1
			if len(pr.Endpoints) > 0 {
				e := pr.Endpoints[0]
				f.Transport, f.Address, f.Description, f.Contact = e.TransportProfile, e.Address, e.Description, e.TechnicalContactURL
				if len(e.Certificate) > 0 {
					f.Cert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Certificate}))
				}
			}
		}
	}
	c.render(w, r, http.StatusOK, "service", s, "Document type of "+f.Participant, "", f)
}

func (c *Console) saveService(w http.ResponseWriter, r *http.Request, s console.Session) {
	f := &serviceForm{}
	cert, err := c.readForm(w, r, f)
	again := func(err error) {
		f.setErr(err)
		c.render(w, r, http.StatusBadRequest, "service", s, "Document type of "+f.Participant, "", f)
	}
	if err != nil {
		again(err)
		return
	}
	sg, ok := c.loadGroup(w, r, s, f.Participant)
	if !ok {
		return
	}
	f.Participant = sg.Participant.String()
	sm, err := c.metadata(sg.Participant, f, cert)
	if err != nil {
		again(err)
		return
	}
	if _, err := c.o.SMP.PutServiceMetadata(r.Context(), principal(s), sm); err != nil {
		again(err)
		return
	}
	c.o.Log.Info("smp console: service metadata saved", "audit", true, "user", s.User, "participant", f.Participant, "doctype", sm.DocumentType.String())
	redirect(w, r, groupURL(sg.Participant, "saved"))
}

func (c *Console) deleteService(w http.ResponseWriter, r *http.Request, s console.Session) {
	sg, ok := c.loadGroup(w, r, s, r.PostFormValue("p"))
	if !ok {
		return
	}
	d, err := c.o.SMP.Policy().Parse(identifier.DocumentType, r.PostFormValue("d"))
	if err != nil {
		c.fail(w, r, s, smp.Invalid("document type", err.Error()))
		return
	}
	if _, err := c.o.SMP.DeleteServiceMetadata(r.Context(), principal(s), sg.Participant, d); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.o.Log.Info("smp console: service metadata deleted", "audit", true, "user", s.User, "participant", sg.Participant.String(), "doctype", d.String())
	redirect(w, r, groupURL(sg.Participant, "svcdeleted"))
}
