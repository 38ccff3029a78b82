package lookup

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
)

type etreeElement = etree.Element

// isNoProcess reports whether id is a "no process" identifier (PEPPOL busdox:noprocess, OASIS bdx:noprocess).
func isNoProcess(id rawID) bool {
	return strings.EqualFold(id.value, identifier.ValueNoProcess) || strings.EqualFold(id.value, "bdx:noprocess")
}

func sameProcess(a rawID, b identifier.ID) bool {
	return strings.EqualFold(a.scheme, b.Scheme) && a.value == b.Value
}

// active reports whether ep is active at now: activation inclusive; expiration inclusive for xs:dateTime
// (PEPPOL, OASIS 1.0), exclusive for SMP 2.0's xs:date.
func (ep *endpointData) active(now time.Time) bool {
	if !ep.activation.IsZero() && now.Before(ep.activation) {
		return false
	}
	if !ep.expiration.IsZero() {
		if ep.dateOnly && !now.Before(ep.expiration) {
			return false
		}
		if !ep.dateOnly && now.After(ep.expiration) {
			return false
		}
	}
	return true
}

type candidate struct {
	proc rawID
	ep   *endpointData
}

// selectEndpoint picks the endpoint: processes matching the request (exact first, then "no process"), then
// the first transport profile of the preference list that has an active endpoint.
func (c *Client) selectEndpoint(md *metadata, req Request, tr Trace) (*Result, error) {
	var exact, noProc []candidate
	for i := range md.processes {
		p := &md.processes[i]
		ids := p.ids
		if len(ids) == 0 {
			ids = []rawID{{}}
		}
		for _, id := range ids {
			np := len(p.ids) == 0 || isNoProcess(id)
			for j := range p.endpoints {
				cd := candidate{proc: id, ep: &p.endpoints[j]}
				switch {
				case np:
					noProc = append(noProc, cd)
				case req.Process.IsZero() || sameProcess(id, req.Process):
					exact = append(exact, cd)
				}
			}
		}
	}
	if len(exact) == 0 && !req.Process.IsZero() {
		if err := caseVariantProcess(md, req.Process); err != nil {
			return nil, err
		}
	}
	cands := append(exact, noProc...)
	if len(cands) == 0 {
		return nil, errorf(NoMatchingEndpoint, nil, "participant %s has no endpoint for document type %s and process %s",
			req.Participant, req.DocumentType, orAny(req.Process))
	}
	now := c.now()
	prefs := req.TransportProfiles
	if len(prefs) == 0 {
		prefs = c.cfg.TransportProfiles
	}
	var chosen *candidate
	if len(prefs) == 0 {
		for i := range cands {
			if cands[i].ep.active(now) {
				chosen = &cands[i]
				break
			}
		}
	} else {
	pref:
		for _, tp := range prefs {
			for i := range cands {
				if strings.TrimSpace(cands[i].ep.transportProfile) == strings.TrimSpace(tp) && cands[i].ep.active(now) {
					chosen = &cands[i]
					break pref
				}
			}
		}
	}
	if chosen == nil {
		var seen []string
		for _, cd := range cands {
			s := cd.ep.transportProfile
			if !cd.ep.active(now) {
				s += fmt.Sprintf(" (inactive at %s: %s)", now.UTC().Format(time.RFC3339), window(cd.ep))
			}
			seen = append(seen, s)
		}
		want := "any transport profile"
		if len(prefs) > 0 {
			want = "transport profile " + strings.Join(prefs, " or ")
		}
		return nil, errorf(NoMatchingEndpoint, nil, "participant %s has no active endpoint with %s for document type %s and process %s; endpoints: %s",
			req.Participant, want, req.DocumentType, orAny(req.Process), strings.Join(seen, ", "))
	}
	ep := chosen.ep
	res := &Result{
		Participant:  req.Participant,
		DocumentType: req.DocumentType,
		Process:      identifier.ID{Scheme: chosen.proc.scheme, Value: chosen.proc.value},
		Endpoint: Endpoint{
			Address:                       ep.address,
			TransportProfile:              ep.transportProfile,
			ActivationDate:                ep.activation,
			ExpirationDate:                ep.expiration,
			Description:                   ep.description,
			TechnicalContact:              ep.contact,
			TechnicalInformationURL:       ep.infoURL,
			RequireBusinessLevelSignature: ep.requireBLS,
		},
		Trace: tr,
	}
	if ep.address == "" {
		return nil, errorf(BadResponse, nil, "the endpoint %s of participant %s has no address", ep.transportProfile, req.Participant)
	}
	if ep.certDER != nil {
		cert, err := x509.ParseCertificate(ep.certDER) // a copy per result
		if err != nil {
			return nil, errorf(BadResponse, err, "the endpoint certificate does not parse")
		}
		res.Endpoint.Certificate = cert
	} else if md.binding != BindingOASIS2 {
		return nil, errorf(BadResponse, nil, "the endpoint %s of participant %s has no usable certificate (%s)", ep.transportProfile, req.Participant, ep.certErr)
	}
	if tr.Signer != nil {
		if s, err := x509.ParseCertificate(tr.Signer.Raw); err == nil {
			res.Trace.Signer = s
		}
	}
	return res, nil
}

// caseVariantProcess reports a process the SMP names like the one asked for but in another case: process
// values are case-sensitive, so the answer names another process, which is a BadResponse (FieldProcess), not
// a missing endpoint.
func caseVariantProcess(md *metadata, want identifier.ID) error {
	for _, p := range md.processes {
		for _, id := range p.ids {
			if isNoProcess(id) || !strings.EqualFold(id.value, want.Value) {
				continue
			}
			if err := MatchIdentifier(identifier.OASIS, identifier.Process, id.scheme, id.value, want); err != nil {
				return err
			}
		}
	}
	return nil
}

func orAny(id identifier.ID) string {
	if id.IsZero() {
		return "(any)"
	}
	return id.String()
}

func window(ep *endpointData) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return f(ep.activation) + " .. " + f(ep.expiration)
}
