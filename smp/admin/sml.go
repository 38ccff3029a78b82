package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/registrar"
)

// SMLAPI is the SMP's registration in its SML, through the admin API or on a stopped store.
type SMLAPI interface {
	// SMLStatus returns the SMP's own registration and its participants' by state (a zero Status: no SML).
	SMLStatus(ctx context.Context) (registrar.Status, error)
	// SMLParticipants pages through the participants' registrations in state ("" for all).
	SMLParticipants(ctx context.Context, state smp.RegState, after string, limit int) (httpapi.RegistrationPage, error)
	// SMLParticipant returns one participant's registration (a not-found error when it has none).
	SMLParticipant(ctx context.Context, participant string) (httpapi.RegistrationView, error)
	// SMLRetry makes a failed registration pending again: participant's, or every failed one when participant is "".
	SMLRetry(ctx context.Context, participant string) (int, error)
	// SMLCall registers the SMP ("register"), sends its addresses ("update") or deletes it ("unregister").
	SMLCall(ctx context.Context, what string) (httpapi.SMLResult, error)
}

// ErrSML is an answer of the SML (a fault, or no answer) that the server passed on; match with errors.Is.
var ErrSML = errors.New("the SML refused or did not answer")

// ErrNoSML reports that the SMP registers in no SML.
var ErrNoSML = errors.New("this SMP registers in no SML: set sml.network (peppol-prod, peppol-test) or sml.url in its configuration")

func (l Local) SMLStatus(ctx context.Context) (registrar.Status, error) {
	if l.SML == nil {
		return registrar.Status{}, nil
	}
	return l.SML.Status(ctx)
}

func (l Local) SMLParticipants(ctx context.Context, state smp.RegState, after string, limit int) (httpapi.RegistrationPage, error) {
	rs, next, err := l.SMP.Registrations(ctx, state, after, limit)
	page := httpapi.RegistrationPage{Participants: make([]httpapi.RegistrationView, len(rs)), Next: next}
	for i, r := range rs {
		page.Participants[i] = httpapi.RegistrationView{Participant: r.Participant.String(), Registration: r}
	}
	return page, err
}

func (l Local) SMLParticipant(ctx context.Context, participant string) (httpapi.RegistrationView, error) {
	p, err := l.SMP.Policy().Parse(identifier.Participant, participant)
	if err != nil {
		return httpapi.RegistrationView{}, smp.Invalid("participant", err.Error())
	}
	r, ok, err := l.SMP.Registration(ctx, p)
	if err != nil {
		return httpapi.RegistrationView{}, err
	}
	if !ok {
		return httpapi.RegistrationView{}, smp.NotFound("SML registration of " + p.String() + " (not meant to be in the SML, or deleted there)")
	}
	return httpapi.RegistrationView{Participant: p.String(), Registration: r}, nil
}

func (l Local) SMLRetry(ctx context.Context, participant string) (int, error) {
	var p identifier.ID
	if participant != "" {
		var err error
		if p, err = l.SMP.Policy().Parse(identifier.Participant, participant); err != nil {
			return 0, smp.Invalid("participant", err.Error())
		}
	}
	return l.SMP.RetryRegistrations(ctx, p)
}

func (l Local) SMLCall(ctx context.Context, what string) (httpapi.SMLResult, error) {
	if l.SML == nil {
		return httpapi.SMLResult{}, ErrNoSML
	}
	var res httpapi.SMLResult
	var err error
	switch what {
	case "register":
		res.Result, err = l.SML.Register(ctx)
	case "update":
		res.Result, err = "updated", l.SML.Update(ctx)
	case "unregister":
		res.Result = "unregistered"
		res.Count, err = l.SML.Unregister(ctx)
	default:
		return res, smp.Invalid("sml", what+": register, update or unregister")
	}
	if err != nil {
		return httpapi.SMLResult{}, errors.Join(ErrSML, err)
	}
	return res, nil
}

func (c *Client) SMLStatus(ctx context.Context) (registrar.Status, error) {
	var st registrar.Status
	return st, c.do(ctx, http.MethodGet, "sml", nil, &st)
}

func (c *Client) SMLParticipants(ctx context.Context, state smp.RegState, after string, limit int) (httpapi.RegistrationPage, error) {
	var page httpapi.RegistrationPage
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	if state != "" {
		q.Set("state", string(state))
	}
	return page, c.do(ctx, http.MethodGet, "sml/participants?"+q.Encode(), nil, &page)
}

func (c *Client) SMLParticipant(ctx context.Context, participant string) (httpapi.RegistrationView, error) {
	var r httpapi.RegistrationView
	return r, c.do(ctx, http.MethodGet, "sml/participants/"+url.PathEscape(participant), nil, &r)
}

func (c *Client) SMLRetry(ctx context.Context, participant string) (int, error) {
	var res httpapi.SMLResult
	err := c.do(ctx, http.MethodPost, "sml/retry", httpapi.RetryRequest{Participant: participant, AllFailed: participant == ""}, &res)
	return res.Count, err
}

func (c *Client) SMLCall(ctx context.Context, what string) (httpapi.SMLResult, error) {
	var res httpapi.SMLResult
	return res, c.do(ctx, http.MethodPost, "sml/"+url.PathEscape(what), struct{}{}, &res)
}
