// The BDMSL operations of the full-2018 BDMSLService WSDL beyond IsAlive and CreateParticipantIdentifier:
// PrepareChangeCertificate, ChangeCertificate (the SML authority's), ListParticipants (streamed) and ClearCache
// (a no-op: there is no cache).

package soap

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// BDMSLBackend is what the BDMSL operations need of the SML beyond Backend (*sml.Service has it). A Backend
// without it answers them "not supported".
type BDMSLBackend interface {
	PrepareChangeCertificate(ctx context.Context, c sml.Caller, nu sml.Successor, at time.Time) error
	ChangeCertificate(ctx context.Context, c sml.Caller, smpID string, nu sml.Successor) error
	EachOwnParticipant(ctx context.Context, c sml.Caller, max int, fn func(smpID string, id identifier.ID) error) error
}

var _ BDMSLBackend = (*sml.Service)(nil)

// CertVerifier verifies a certificate that is not the caller's (the successor of PrepareChangeCertificate and
// ChangeCertificate) as a client certificate at a given moment (zero: now). CertAuthenticator implements it.
type CertVerifier interface {
	VerifyAt(leaf *x509.Certificate, at time.Time) (sml.Caller, error)
}

// VerifyAt is Verify at the moment at (now when zero), without intermediates: the chain must end in a trusted
// issuer. The CRLs in force now apply (they are reread, and judged current, at now, not at the moment at).
func (a *CertAuthenticator) VerifyAt(leaf *x509.Certificate, at time.Time) (sml.Caller, error) {
	now := a.now()
	if at.IsZero() {
		at = now
	}
	return a.verify(leaf, nil, at, now)
}

// VerifyAt verifies with the proxy's CertAuthenticator: the successor certificate comes in the SOAP body, not
// in a header, so the proxy plays no part.
func (a *ProxyAuthenticator) VerifyAt(leaf *x509.Certificate, at time.Time) (sml.Caller, error) {
	return a.Cert.VerifyAt(leaf, at)
}

var (
	_ CertVerifier = (*CertAuthenticator)(nil)
	_ CertVerifier = (*ProxyAuthenticator)(nil) // PrepareChangeCertificate works behind a proxy too
)

func (h *Handler) bdmsl(ctx context.Context, c sml.Caller, req *soapmsg.Request) (any, error) {
	bb, ok := h.b.(BDMSLBackend)
	if !ok {
		return nil, notSupported(req.Op)
	}
	switch b := req.Body.(type) {
	case *soapmsg.ClearCache:
		return nil, nil
	case *soapmsg.PrepareChangeCertificate:
		cert, err := parseCertificate(b.NewCertificate)
		if err != nil {
			return nil, badRequest("The newCertificatePublicKey is not a certificate (PEM or base64 DER): " + err.Error())
		}
		at, dated := cert.NotBefore.UTC(), false
		if d := strings.TrimSpace(b.MigrationDate); d != "" {
			dated = true
			if at, err = parseXSDate(d); err != nil {
				return nil, badRequest("The migrationDate '" + shortText(d) + "' is not an xs:date (YYYY-MM-DD)")
			}
		}
		v, ok := h.auth.(CertVerifier)
		if !ok {
			return nil, notSupported(req.Op)
		}
		nc, err := v.VerifyAt(cert, at)
		if err != nil {
			return nil, badRequest("The new certificate is refused at " + at.Format(time.RFC3339) + ": " + err.Error())
		}
		return nil, bb.PrepareChangeCertificate(ctx, c, sml.Successor{Identity: nc.Identity, Domain: nc.Domain,
			NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Dated: dated}, at)
	case *soapmsg.ChangeCertificate:
		cert, err := parseCertificate(b.NewCertificate)
		if err != nil {
			return nil, badRequest("The newCertificatePublicKey is not a certificate (base64 DER): " + err.Error())
		}
		v, ok := h.auth.(CertVerifier)
		if !ok {
			return nil, notSupported(req.Op)
		}
		nc, err := v.VerifyAt(cert, time.Time{})
		if err != nil {
			return nil, badRequest("The new certificate is refused: " + err.Error())
		}
		return nil, bb.ChangeCertificate(ctx, c, strings.TrimSpace(b.SMPID), sml.Successor{Identity: nc.Identity, Domain: nc.Domain,
			NotBefore: cert.NotBefore, NotAfter: cert.NotAfter})
	}
	return nil, notSupported(req.Op)
}

// listParticipants answers BDMSL ListParticipants: the caller's participants, written as they are read.
func (h *Handler) listParticipants(w http.ResponseWriter, r *http.Request, c sml.Caller) {
	bb, ok := h.b.(BDMSLBackend)
	if !ok {
		h.writeFault(w, r, soapmsg.OpListParticipants, notSupported(soapmsg.OpListParticipants).(*soapmsg.Fault))
		return
	}
	max := h.o.ListParticipantsMax
	if max <= 0 {
		max = sml.DefaultListParticipantsMax
	}
	started := false
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	flush := func() error {
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err
	}
	start := func() {
		started = true
		w.Header().Set("Content-Type", soapmsg.ContentType)
		w.WriteHeader(http.StatusOK)
		head, _ := soapmsg.Marshal(nil) // the envelope around an empty Body: split it at the Body's end
		i := bytes.Index(head, []byte("</soap:Body>"))
		buf.Write(head[:i])
		buf.WriteString(`<ListParticipantsOut xmlns="` + soapmsg.NSBDMSL + `">`)
	}
	err := bb.EachOwnParticipant(r.Context(), c, max, func(smpID string, id identifier.ID) error {
		if !started {
			start()
		}
		err := enc.Encode(soapmsg.ListedParticipant{Participant: soapmsg.ParticipantIdentifier{Scheme: id.Scheme, Value: id.Value}, SMPID: smpID})
		if err == nil && buf.Len() > 32<<10 {
			err = flush()
		}
		return err
	})
	if err != nil && !started {
		var f *soapmsg.Fault
		if !errors.As(err, &f) {
			f = faultFor(soapmsg.OpListParticipants, err)
		}
		h.o.Log.Debug("soap: request refused", "op", soapmsg.OpListParticipants.String(), "caller", c.Identity, "err", err)
		h.writeFault(w, r, soapmsg.OpListParticipants, f)
		return
	}
	if err != nil { // the answer has begun: end the connection so the client sees a broken response
		h.o.Log.Error("soap: ListParticipants failed while answering", "caller", c.Identity, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	buf.WriteString(`</ListParticipantsOut></soap:Body></soap:Envelope>`)
	_ = flush() // a failed write means the client is gone
}

// parseCertificate reads a certificate sent as PEM (with or without line breaks) or as base64 DER.
func parseCertificate(s string) (*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		if blk, _ := pem.Decode([]byte(s)); blk != nil {
			return x509.ParseCertificate(blk.Bytes)
		}
		// PEM flattened to one line: drop the armour.
		s = strings.TrimPrefix(s, "-----BEGIN CERTIFICATE-----")
		s, _, _ = strings.Cut(s, "-----END CERTIFICATE-----")
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return x509.ParseCertificate(der)
}

// parseXSDate returns 00:00 UTC of an xs:date (YYYY-MM-DD, with an optional time zone, which does not move the
// day: the change takes effect at 00:00 UTC of the date).
func parseXSDate(s string) (time.Time, error) {
	if len(s) < 10 {
		return time.Time{}, errors.New("short")
	}
	day, tz := s[:10], s[10:]
	if tz != "" && tz != "Z" {
		if _, err := time.Parse("-07:00", tz); err != nil {
			return time.Time{}, err
		}
	}
	return time.Parse(time.DateOnly, day)
}

func shortText(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "..."
	}
	return s
}
