package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/registrar"
)

// SML is the SMP's registration in its SML, as the admin API drives it (implemented by *registrar.Registrar).
type SML interface {
	Status(ctx context.Context) (registrar.Status, error)
	Register(ctx context.Context) (string, error)
	Update(ctx context.Context) error
	Unregister(ctx context.Context) (int, error)
}

// Registrations is what the admin API reads and retries of the participants' SML registrations (implemented by
// *smp.Service).
type Registrations interface {
	Registration(ctx context.Context, p identifier.ID) (smp.Registration, bool, error)
	Registrations(ctx context.Context, state smp.RegState, after string, limit int) ([]smp.Registration, string, error)
	RetryRegistrations(ctx context.Context, p identifier.ID) (int, error)
}

// RegistrationView is one participant's SML registration in the admin API.
type RegistrationView struct {
	Participant string `json:"participant"`
	smp.Registration
}

// RegistrationPage is the answer of GET /api/v1/sml/participants.
type RegistrationPage struct {
	Participants []RegistrationView `json:"participants"`
	// Next is the after= value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// RetryRequest is the body of POST /api/v1/sml/retry: one failed participant, or every failed one.
type RetryRequest struct {
	Participant string `json:"participant,omitempty"`
	AllFailed   bool   `json:"all_failed,omitempty"`
}

// SMLResult is the answer of the POSTs under /api/v1/sml/.
type SMLResult struct {
	// Result: what registration did (created, updated, unchanged), or "updated" / "unregistered".
	Result string `json:"result"`
	// Count: intents made pending again (retry), registrations forgotten (unregister).
	Count int `json:"count,omitempty"`
}

var errNoSML = smp.Invalid("sml", "this SMP registers in no SML: set sml.network (peppol-prod, peppol-test) or sml.url in its configuration")

// smlRoutes mounts the SML routes of the admin API.
func (a *api) smlRoutes(g *gin.RouterGroup) {
	g.GET("/sml", a.smlStatus)
	g.GET("/sml/participants", a.smlParticipants)
	g.GET("/sml/participants/:p", a.smlParticipant)
	g.POST("/sml/retry", a.smlRetry)
	g.POST("/sml/register", a.smlCall("register"))
	g.POST("/sml/update", a.smlCall("update"))
	g.POST("/sml/unregister", a.smlCall("unregister"))
}

func (a *api) smlStatus(c *gin.Context) {
	if a.o.SML == nil {
		a.json(c, http.StatusOK, registrar.Status{})
		return
	}
	st, err := a.o.SML.Status(c.Request.Context())
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.json(c, http.StatusOK, st)
}

func (a *api) smlParticipants(c *gin.Context) {
	limit, after, ok := a.page(c)
	if !ok {
		return
	}
	state := smp.RegState(c.Query("state"))
	switch state {
	case "", smp.RegPending, smp.RegRegistered, smp.RegFailed:
	default:
		a.jsonFail(c, smp.Invalid("state", strconv.Quote(string(state))+" is not pending, registered or failed"))
		return
	}
	rs, next, err := a.o.Registrations.Registrations(c.Request.Context(), state, after, limit)
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	page := RegistrationPage{Participants: make([]RegistrationView, len(rs)), Next: next}
	for i, r := range rs {
		page.Participants[i] = RegistrationView{Participant: r.Participant.String(), Registration: r}
	}
	a.json(c, http.StatusOK, page)
}

func (a *api) smlParticipant(c *gin.Context) {
	v, ok := a.param(c, "p")
	if !ok {
		return
	}
	p, err := a.svc.Policy().Parse(identifier.Participant, v)
	if err != nil {
		a.jsonFail(c, smp.Invalid("participant", err.Error()))
		return
	}
	r, found, err := a.o.Registrations.Registration(c.Request.Context(), p)
	switch {
	case err != nil:
		a.jsonFail(c, err)
	case !found:
		a.jsonFail(c, smp.NotFound("SML registration of "+p.String()+" (not meant to be in the SML, or deleted there)"))
	default:
		a.json(c, http.StatusOK, RegistrationView{Participant: p.String(), Registration: r})
	}
}

func (a *api) smlRetry(c *gin.Context) {
	var req RetryRequest
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.jsonFail(c, smp.Invalid("body", `not a retry request {"participant": ID} or {"all_failed": true}: `+err.Error()))
		return
	}
	var p identifier.ID
	switch {
	case req.AllFailed == (req.Participant != ""):
		a.jsonFail(c, smp.Invalid("participant", "name one participant, or all_failed: true"))
		return
	case req.Participant != "":
		var err error
		if p, err = a.svc.Policy().Parse(identifier.Participant, req.Participant); err != nil {
			a.jsonFail(c, smp.Invalid("participant", err.Error()))
			return
		}
	}
	n, err := a.o.Registrations.RetryRegistrations(c.Request.Context(), p)
	if err != nil {
		a.jsonFail(c, err)
		return
	}
	a.json(c, http.StatusOK, SMLResult{Result: "retried", Count: n})
}

func (a *api) smlCall(what string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.o.SML == nil {
			a.jsonFail(c, errNoSML)
			return
		}
		ctx := c.Request.Context()
		var res SMLResult
		var err error
		switch what {
		case "register":
			res.Result, err = a.o.SML.Register(ctx)
		case "update":
			res.Result, err = "updated", a.o.SML.Update(ctx)
		case "unregister":
			res.Result = "unregistered"
			res.Count, err = a.o.SML.Unregister(ctx)
		}
		if err != nil {
			a.jsonFail(c, err)
			return
		}
		a.log.Info("smp sml "+what, logging.Audit, "by", principal(c).User, "result", res.Result, "count", res.Count)
		a.json(c, http.StatusOK, res)
	}
}
