package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/xmldsig"
)

const maxBody = 4 << 20

// fetched is one GET of the SMP.
type fetched struct {
	url    string
	status int
	body   []byte
	err    error
}

func (f fetched) problem() string {
	if f.err != nil {
		return f.err.Error()
	}
	return fmt.Sprintf("HTTP %d", f.status)
}

func (r *run) get(ctx context.Context, u string) fetched {
	out := fetched{url: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		out.err = err
		return out
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	resp, err := r.http.Do(req)
	if err != nil {
		out.err = err
		return out
	}
	defer resp.Body.Close()
	out.status = resp.StatusCode
	out.body, out.err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if out.err == nil && len(out.body) > maxBody {
		out.err = fmt.Errorf("the answer is larger than %d bytes", maxBody)
	}
	return out
}

// encode escapes s as one path segment like identifier.EncodeSegment, except for the bytes in keep, which are
// sent as they are.
func encode(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(identifier.EncodeSegment(string([]byte{c})))
	}
	return b.String()
}

func (r *run) docURL(pid, doc string, pidKeep, docKeep string) string {
	return r.rep.SMPURL + "/" + encode(pid, pidKeep) + "/services/" + encode(doc, docKeep)
}

// loadGroup reads the participant's service group from this SMP and each of its document types (fully encoded).
func (r *run) loadGroup(ctx context.Context) {
	switch {
	case r.cfg.Participant.IsZero():
		r.group = errors.New("no participant to read the service group of")
		return
	case r.rep.SMPURL == "":
		r.group = errors.New("no SMP URL")
		return
	}
	g := r.get(ctx, r.rep.SMPURL+"/"+identifier.EncodeID(r.cfg.Participant))
	if g.err != nil || g.status != http.StatusOK {
		r.group = fmt.Errorf("the service group of %s at %s: %s", r.cfg.Participant, g.url, g.problem())
		return
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = 256
	if err := doc.ReadFromBytes(g.body); err != nil || doc.Root() == nil {
		r.group = fmt.Errorf("the service group at %s is not well-formed XML: %v", g.url, err)
		return
	}
	for _, ref := range doc.Root().FindElements("//ServiceMetadataReference") {
		href := ref.SelectAttrValue("href", "")
		i := strings.LastIndex(href, "/services/")
		if i < 0 {
			continue
		}
		raw, err := identifier.DecodeSegment(href[i+len("/services/"):])
		if err != nil {
			continue
		}
		id, err := r.cfg.Policy.Parse(identifier.DocumentType, raw)
		if err != nil {
			continue
		}
		r.docs = append(r.docs, id)
	}
	for _, d := range r.docs {
		f := r.get(ctx, r.docURL(r.cfg.Participant.String(), d.String(), "", ""))
		r.fetched = append(r.fetched, f)
	}
}

const fixProxy = "make the reverse proxy pass the request path unchanged: nginx proxy_pass with no URI part " +
	"(proxy_pass http://127.0.0.1:8080;), Apache AllowEncodedSlashes NoDecode and ProxyPass ... nocanon (docs/guide-smp.md)"

// checkPathEncoding requests real documents of the SMP with the hard encodings and compares the answers.
func (r *run) checkPathEncoding(ctx context.Context) Result {
	if r.group != nil {
		return skip(CheckPathEncoding, needParticipantIf(r), "cannot request a document: %v", r.group)
	}
	if len(r.docs) == 0 {
		return skip(CheckPathEncoding, "publish a document type for the participant, or name another participant", "participant %s has no document type", r.cfg.Participant)
	}
	// The reference: the first document type without the characters probed below.
	k := 0
	for i, d := range r.docs {
		if !strings.ContainsAny(d.Value, "/+") {
			k = i
			break
		}
	}
	pid, doc := r.cfg.Participant.String(), r.docs[k].String()
	var ok, bad, untested []string
	ref := r.fetched[k]
	refName := "%3A%3A and %23"
	if strings.Contains(doc, "/") {
		refName += ", %2F"
	}
	if strings.Contains(doc, "+") {
		refName += ", %2B"
	}
	if ref.err != nil || ref.status != http.StatusOK {
		bad = append(bad, fmt.Sprintf("%s (%s): %s", refName, ref.url, ref.problem()))
		if refName != "%3A%3A and %23" {
			r.encodingFailed[k] = true
		}
	} else {
		ok = append(ok, "%3A%3A and %23")
		same := func(what, u string) {
			f := r.get(ctx, u)
			switch {
			case f.err != nil || f.status != http.StatusOK:
				bad = append(bad, fmt.Sprintf("%s (%s): %s", what, u, f.problem()))
			case !bytes.Equal(f.body, ref.body):
				bad = append(bad, fmt.Sprintf("%s (%s): another answer than for %s", what, u, ref.url))
			default:
				ok = append(ok, what)
			}
		}
		same("literal :: with %23", r.docURL(pid, doc, ":", ":"))
		if strings.EqualFold(r.cfg.Participant.Scheme, identifier.SchemeISO6523) && strings.ToUpper(pid) != pid {
			up := r.cfg.Participant.Scheme + "::" + strings.ToUpper(r.cfg.Participant.Value)
			same("upper-case participant", r.docURL(up, doc, "", ""))
		}
	}
	// The document types that hold the other hard characters, if the participant has any.
	hard := func(c byte, what string, extra func(d identifier.ID, f fetched)) {
		for i, d := range r.docs {
			if strings.IndexByte(d.Value, c) < 0 {
				continue
			}
			f := r.fetched[i]
			switch {
			case i == k && r.encodingFailed[k]:
				// the reference request, reported above
			case f.err != nil || f.status != http.StatusOK:
				bad = append(bad, fmt.Sprintf("%s (%s): %s", what, f.url, f.problem()))
				r.encodingFailed[i] = true
			case !bytes.Contains(f.body, []byte(xmlText(d.Value))):
				bad = append(bad, fmt.Sprintf("%s (%s): the answer is not about %s", what, f.url, d))
			default:
				ok = append(ok, what)
				if extra != nil {
					extra(d, f)
				}
			}
			return
		}
		untested = append(untested, what)
	}
	hard('/', "%2F", nil)
	hard('+', "%2B", func(d identifier.ID, f fetched) {
		u := r.docURL(pid, d.String(), "", "+")
		g := r.get(ctx, u)
		switch {
		case g.err != nil || g.status != http.StatusOK:
			bad = append(bad, fmt.Sprintf("literal + (%s): %s", u, g.problem()))
		case !bytes.Equal(g.body, f.body):
			bad = append(bad, fmt.Sprintf("literal + (%s): another answer than for %s", u, f.url))
		default:
			ok = append(ok, "literal +")
		}
	})
	note := ""
	if len(untested) > 0 {
		note = fmt.Sprintf("; not tested: %s (no document type of %s contains the character)", strings.Join(untested, ", "), r.cfg.Participant)
	}
	if len(bad) > 0 {
		return fail(CheckPathEncoding, fixProxy, "the SMP does not answer a request with %s%s", strings.Join(bad, "; "), note)
	}
	return pass(CheckPathEncoding, "the same document for %s%s", strings.Join(ok, ", "), note)
}

func needParticipantIf(r *run) string {
	if r.cfg.Participant.IsZero() {
		return needParticipant
	}
	return ""
}

// xmlText is s as XML character data writes it.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// checkSignature verifies every document of the service group with the trust anchors, checks that it is about
// the participant and document type asked for, and how long the signing certificate stays valid.
func (r *run) checkSignature(_ context.Context) Result {
	if r.group != nil {
		return skip(CheckSignature, needParticipantIf(r), "no document to verify: %v", r.group)
	}
	v := &xmldsig.Verifier{Roots: r.cfg.Trust, Now: r.cfg.Now}
	var bad []string
	n := 0
	var first *struct {
		subject string
		until   time.Time
	}
	for i, d := range r.docs {
		f := r.fetched[i]
		if f.err != nil || f.status != http.StatusOK {
			continue // the document-types check reports it
		}
		n++
		el, signer, err := v.Verify(f.body)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		if p := el.FindElement(".//ParticipantIdentifier"); p != nil {
			if err := lookup.MatchIdentifier(r.cfg.Policy, identifier.Participant, p.SelectAttrValue("scheme", ""), strings.TrimSpace(p.Text()), r.cfg.Participant); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", d, err))
				continue
			}
		}
		if p := el.FindElement(".//DocumentIdentifier"); p != nil {
			if err := lookup.MatchIdentifier(r.cfg.Policy, identifier.DocumentType, p.SelectAttrValue("scheme", ""), strings.TrimSpace(p.Text()), d); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", d, err))
				continue
			}
		}
		if first == nil || signer.NotAfter.Before(first.until) {
			first = &struct {
				subject string
				until   time.Time
			}{signer.Subject.String(), signer.NotAfter}
		}
	}
	if len(r.docs) == 0 {
		return skip(CheckSignature, "publish a document type for the participant, or name another participant", "participant %s has no document type", r.cfg.Participant)
	}
	if n == 0 {
		return skip(CheckSignature, "", "no document of %s answered (see the document-types and path-encoding checks)", r.cfg.Participant)
	}
	if len(bad) > 0 {
		return fail(CheckSignature, "the SMP must sign each document with its PEPPOL SMP certificate, issued by the network's SMP CA (--trust), "+
			"and nothing in between may change the bytes (a proxy that rewrites or re-encodes bodies); re-sign with signpost smp rekey if the key changed",
			"%d of %d documents do not verify: %s", len(bad), n, strings.Join(bad, "; "))
	}
	left := first.until.Sub(r.cfg.Now())
	if left < r.cfg.MinValidity {
		return fail(CheckSignature, "order the next SMP certificate from the network's SMP CA and roll the signing key over (signing.cert/key, then "+
			"signpost smp rekey or SIGHUP: docs/guide-smp.md)",
			"the signing certificate %s expires on %s, in %s (less than %s)", first.subject, first.until.UTC().Format(time.DateOnly), days(left), days(r.cfg.MinValidity))
	}
	return pass(CheckSignature, "%d of %d documents verify; signed by %s, valid until %s (%s)", n, n, first.subject, first.until.UTC().Format(time.DateOnly), days(left))
}

// checkDocumentTypes checks that every document type the service group lists answers.
func (r *run) checkDocumentTypes(_ context.Context) Result {
	if r.group != nil {
		if r.cfg.Participant.IsZero() || r.rep.SMPURL == "" {
			return skip(CheckDocumentTypes, needParticipantIf(r), "%v", r.group)
		}
		return fail(CheckDocumentTypes, "publish the participant's service group on this SMP, or check the proxy in front (see the other checks)", "%v", r.group)
	}
	if len(r.docs) == 0 {
		return pass(CheckDocumentTypes, "the service group of %s lists no document type", r.cfg.Participant)
	}
	var bad []string
	elsewhere := 0 // failures the path-encoding check reports
	for i, d := range r.docs {
		f := r.fetched[i]
		switch {
		case r.encodingFailed[i]:
			elsewhere++
		case f.err != nil || f.status != http.StatusOK:
			bad = append(bad, fmt.Sprintf("%s (%s): %s", d, f.url, f.problem()))
		}
	}
	note := ""
	if elsewhere > 0 {
		note = fmt.Sprintf(" (%d more fail because of the path encoding: see the path-encoding check)", elsewhere)
	}
	if len(bad) > 0 {
		return fail(CheckDocumentTypes, "publish the service metadata of each document type the service group lists, or remove the reference",
			"%d of %d document types do not answer%s: %s", len(bad), len(r.docs), note, strings.Join(bad, "; "))
	}
	return pass(CheckDocumentTypes, "%d of %d document types of %s answer%s", len(r.docs)-elsewhere, len(r.docs), r.cfg.Participant, note)
}
