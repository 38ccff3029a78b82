package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/smlclient"
)

// Rollover is what the admin API calls for a signing key rollover and for participant migrations (implemented
// by *app.App).
type Rollover interface {
	Rekey(ctx context.Context, r RekeyRequest) (RekeyResult, error)
	MigrateOut(ctx context.Context, p identifier.ID, cancel bool) (MigrationResult, error)
	MigrateIn(ctx context.Context, p identifier.ID, key string) (MigrationResult, error)
}

// RekeyRequest is the body of POST /api/v1/signing-key: the new key, switched to at once (At empty) or at 00:00
// UTC of At (YYYY-MM-DD) after the SML was told (PrepareChangeCertificate).
type RekeyRequest struct {
	// CertificatePEM is the new certificate followed by its chain (PEM).
	CertificatePEM string `json:"certificate_pem"`
	// KeyPEM is its private key (PEM, unencrypted).
	KeyPEM string `json:"key_pem"`
	At     string `json:"at,omitempty"`
	// Force switches at once although the SMP is registered in an SML.
	Force bool `json:"force,omitempty"`
}

// RekeyResult is the answer of POST /api/v1/signing-key.
type RekeyResult struct {
	Subject     string `json:"subject"`
	Issuer      string `json:"issuer"`
	Fingerprint string `json:"certificate_sha256"`
	// Files are where the SMP keeps the new key (in its data directory).
	Files []string `json:"files"`
	// At is the scheduled switch (zero: switched at once).
	At time.Time `json:"at,omitzero"`
	// Generation is the key generation now signing (after a switch at once).
	Generation uint32 `json:"generation,omitempty"`
	// SMLAnnounced: the SML was told of the new certificate (PrepareChangeCertificate).
	SMLAnnounced bool `json:"sml_announced,omitempty"`
	// Warnings say what the operator must know or do.
	Warnings []string `json:"warnings,omitempty"`
}

// MigrationRequest is the body of POST /api/v1/migrations/out and /api/v1/migrations/in.
type MigrationRequest struct {
	Participant string `json:"participant"`
	// Key is the migration key received from the SMP that gives the participant up (in).
	Key string `json:"key,omitempty"`
	// Cancel invalidates the key of an outbound migration (out).
	Cancel bool `json:"cancel,omitempty"`
}

// MigrationResult is the answer of the migration routes.
type MigrationResult struct {
	Participant string `json:"participant"`
	// Key is the migration key of an outbound migration, for the new SMP (never for a cancel).
	Key string `json:"key,omitempty"`
	// Note says what happened and what to do next.
	Note string `json:"note"`
}

// rolloverRoutes mounts the key rollover and migration routes when the API has a Rollover.
func (a *api) rolloverRoutes(g *gin.RouterGroup) {
	if a.o.Rollover == nil {
		return
	}
	g.POST("/signing-key", a.rekey)
	g.POST("/migrations/out", a.migrate(false))
	g.POST("/migrations/in", a.migrate(true))
}

func (a *api) rekey(c *gin.Context) {
	var req RekeyRequest
	if !a.rolloverBody(c, &req) {
		return
	}
	res, err := a.o.Rollover.Rekey(c.Request.Context(), req)
	if err != nil {
		a.rolloverFail(c, err)
		return
	}
	a.log.Info("smp rekey", logging.Audit, "by", principal(c).User, "certificate_sha256", res.Fingerprint, "at", req.At, "force", req.Force)
	a.json(c, http.StatusOK, res)
}

func (a *api) migrate(in bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req MigrationRequest
		if !a.rolloverBody(c, &req) {
			return
		}
		p, err := a.svc.Policy().Parse(identifier.Participant, req.Participant)
		if err != nil {
			a.jsonFail(c, smp.Invalidf("participant", "%q: %v", req.Participant, err))
			return
		}
		var res MigrationResult
		if in {
			if req.Key == "" {
				a.jsonFail(c, smp.Invalid("key", "give the migration key the SMP that gives the participant up received from the SML's PrepareToMigrate"))
				return
			}
			res, err = a.o.Rollover.MigrateIn(c.Request.Context(), p, req.Key)
		} else {
			res, err = a.o.Rollover.MigrateOut(c.Request.Context(), p, req.Cancel)
		}
		if err != nil {
			a.rolloverFail(c, err)
			return
		}
		a.log.Info("smp migration", logging.Audit, "by", principal(c).User, "direction", direction(in), "participant", p.String(), "cancel", req.Cancel)
		a.json(c, http.StatusOK, res)
	}
}

func direction(in bool) string {
	if in {
		return "in"
	}
	return "out"
}

// rolloverBody decodes a JSON request body (at most 1 MiB: a certificate chain and a key) into v.
func (a *api) rolloverBody(c *gin.Context, v any) bool {
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		a.jsonFail(c, smp.Invalid("body", "not a JSON request of this route: "+err.Error()))
		return false
	}
	return true
}

// rolloverFail answers an error of the SML with 502 and its message (the operator must see what the SML said);
// other errors as usual.
func (a *api) rolloverFail(c *gin.Context, err error) {
	var se *smlclient.Error
	if errors.As(err, &se) {
		a.jsonError(c, http.StatusBadGateway, err.Error())
		return
	}
	a.jsonFail(c, err)
}
