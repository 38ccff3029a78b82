package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/signpost-project/signpost/sml"
)

// CertificateChange is a certificate change the SML knows (PrepareChangeCertificate or ChangeCertificate): from
// At on, New owns every SMP Old owned.
type CertificateChange struct {
	Domain  string    `json:"domain"`
	Old     string    `json:"old"`
	New     string    `json:"new"`
	At      time.Time `json:"at"`
	Created time.Time `json:"created"`
	// Pending is true while At lies in the future.
	Pending bool `json:"pending"`
}

// CertificateChanges implements API.
func (l Local) CertificateChanges(ctx context.Context) ([]CertificateChange, error) {
	cs, err := l.B.CertChanges(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]CertificateChange, len(cs))
	for i, c := range cs {
		out[i] = CertificateChange{Domain: c.Domain, Old: c.Old, New: c.New, At: c.At, Created: c.Created, Pending: c.At.After(now)}
	}
	return out, nil
}

// CertificateChanges implements API.
func (c *Client) CertificateChanges(ctx context.Context) ([]CertificateChange, error) {
	var out struct {
		Changes []CertificateChange `json:"certificate_changes"`
	}
	err := c.getJSON(ctx, "/api/v1/certificate-changes", &out)
	return out.Changes, err
}

func (h *handler) certificateChanges(w http.ResponseWriter, r *http.Request) {
	cs, err := h.api.CertificateChanges(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	if cs == nil {
		cs = []CertificateChange{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificate_changes": cs})
}

// ExpiringCertificate is an SMP whose owner certificate expires soon, or whose expiry the SML has not seen yet.
type ExpiringCertificate struct {
	SMP    string `json:"smp"`
	Domain string `json:"domain"`
	Owner  string `json:"owner"`
	// NotAfter is when the owner's certificate expires; absent when the SML has not seen it yet (the owner's next
	// CreateSMP or UpdateSMP records it).
	NotAfter *time.Time `json:"not_after,omitempty"`
	// Change is the owner's latest certificate change, scheduled or done.
	Change *CertificateChange `json:"certificate_change,omitempty"`
}

// ExpiringCertificates implements API.
func (l Local) ExpiringCertificates(ctx context.Context, within time.Duration) ([]ExpiringCertificate, error) {
	now := time.Now()
	cs, err := l.B.ExpiringCertificates(ctx, now.Add(within))
	if err != nil {
		return nil, err
	}
	out := make([]ExpiringCertificate, len(cs))
	for i, c := range cs {
		e := ExpiringCertificate{SMP: c.SMP.ID, Domain: c.SMP.Domain, Owner: c.SMP.Owner}
		if !c.NotAfter.IsZero() {
			t := c.NotAfter
			e.NotAfter = &t
		}
		if ch := c.Change; ch != nil {
			e.Change = &CertificateChange{Domain: ch.Domain, Old: ch.Old, New: ch.New, At: ch.At, Created: ch.Created, Pending: ch.At.After(now)}
		}
		out[i] = e
	}
	return out, nil
}

// ExpiringCertificates implements API.
func (c *Client) ExpiringCertificates(ctx context.Context, within time.Duration) ([]ExpiringCertificate, error) {
	var out struct {
		SMPs []ExpiringCertificate `json:"smps"`
	}
	err := c.getJSON(ctx, "/api/v1/expiring-certificates?within="+url.QueryEscape(within.String()), &out)
	return out.SMPs, err
}

func (h *handler) expiringCertificates(w http.ResponseWriter, r *http.Request) {
	within := 30 * 24 * time.Hour
	if v := r.URL.Query().Get("within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			h.fail(w, &sml.Error{Kind: sml.KindBadRequest, Msg: fmt.Sprintf("within %q: give a duration such as 720h", v)})
			return
		}
		within = d
	}
	es, err := h.api.ExpiringCertificates(r.Context(), within)
	if err != nil {
		h.fail(w, err)
		return
	}
	if es == nil {
		es = []ExpiringCertificate{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"smps": es})
}
