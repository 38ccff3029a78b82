package admin

import (
	"context"
	"net/http"
	"time"
)

// Migration is a pending participant migration: prepared by its SMP (PrepareToMigrate), not yet completed, not
// expired. The key itself is never stored, so it is not shown.
type Migration struct {
	Domain string `json:"domain"`
	// Participant is scheme::value.
	Participant string `json:"participant"`
	// SMP is the SMP that prepared the migration, the participant's current one.
	SMP      string    `json:"smp"`
	Prepared time.Time `json:"prepared"`
	Expires  time.Time `json:"expires"`
}

// Migrations implements API.
func (l Local) Migrations(ctx context.Context) ([]Migration, error) {
	ms, err := l.B.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Domain: m.Domain, Participant: m.Participant.String(), SMP: m.SMPID, Prepared: m.Prepared,
			Expires: m.Expires}
	}
	return out, nil
}

// Migrations implements API.
func (c *Client) Migrations(ctx context.Context) ([]Migration, error) {
	var out struct {
		Migrations []Migration `json:"migrations"`
	}
	err := c.getJSON(ctx, "/api/v1/migrations", &out)
	return out.Migrations, err
}

func (h *handler) migrations(w http.ResponseWriter, r *http.Request) {
	ms, err := h.api.Migrations(r.Context())
	if err != nil {
		h.fail(w, err)
		return
	}
	if ms == nil {
		ms = []Migration{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"migrations": ms})
}
