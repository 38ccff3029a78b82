package admin

import (
	"context"
	"net/http"
	"time"
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
