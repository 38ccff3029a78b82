// Package soap serves the SML management interface over HTTPS with client certificates: ManageServiceMetadataService
// at /manageservicemetadata, ManageBusinessIdentifierService at /manageparticipantidentifier and the BDMSL service
// (IsAlive, CreateParticipantIdentifier, PrepareChangeCertificate, ChangeCertificate, ListParticipants, ClearCache:
// bdmsl.go) at /bdmslservice. It decodes requests with package soapmsg, authenticates
// the caller by its certificate (Authenticator), calls the sml.Service and translates its errors into typed SOAP
// faults, once, in fault.go. A panic while serving a request is contained: the client gets an InternalErrorFault
// (HTTP 500), the panic is logged with its stack and counted in signpost_panics_total{edge="sml_soap"}.
package soap

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// Backend is what the handler needs of the SML: the methods of *sml.Service it calls.
type Backend interface {
	CreateSMP(ctx context.Context, c sml.Caller, smp sml.SMP) error
	ReadSMP(ctx context.Context, c sml.Caller, id string) (sml.SMP, error)
	UpdateSMP(ctx context.Context, c sml.Caller, smp sml.SMP) error
	DeleteSMP(ctx context.Context, c sml.Caller, id string) (removed []identifier.ID, err error)
	CreateParticipants(ctx context.Context, c sml.Caller, smpID string, ps []sml.ParticipantSpec) error
	DeleteParticipants(ctx context.Context, c sml.Caller, smpID string, ids []identifier.ID) error
	ListParticipants(ctx context.Context, c sml.Caller, smpID, pageToken string, pageSize int) (ids []identifier.ID, next string, err error)
	PrepareToMigrate(ctx context.Context, c sml.Caller, smpID string, id identifier.ID, key string) error
	Migrate(ctx context.Context, c sml.Caller, smpID string, id identifier.ID, key string) error
}

var _ Backend = (*sml.Service)(nil)

// Options tune NewHandler. The zero value is usable.
type Options struct {
	// Log receives refused requests (debug) and internal errors. Default: discard. (The audit lines of changes
	// are the sml.Service's.)
	Log *slog.Logger
	// FaultStatus is the HTTP status scheme of faults. Default StatusSOAP (500 for every fault).
	FaultStatus FaultStatus
	// MaxBodyBytes limits a request body. Default 1 MiB.
	MaxBodyBytes int64
	// Limits bound the XML's nesting depth and element count. Default soapmsg.DefaultLimits.
	Limits soapmsg.Limits
	// PageSize is the number of participants per List page. Default sml.DefaultPageSize.
	PageSize int
	// ListParticipantsMax is the most participants BDMSL ListParticipants answers with. Default
	// sml.DefaultListParticipantsMax.
	ListParticipantsMax int
}

// DefaultMaxBodyBytes is the body limit used when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// Edge is the edge label of the panics the handler contains.
const Edge = "sml_soap"

// Handler is the http.Handler of the management interface.
type Handler struct {
	b       Backend
	auth    Authenticator
	o       Options
	guarded http.Handler // serve, with panics contained
}

// NewHandler returns the handler serving the three endpoints on b, authenticating callers with auth.
func NewHandler(b Backend, auth Authenticator, o Options) *Handler {
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.PageSize <= 0 {
		o.PageSize = sml.DefaultPageSize
	}
	h := &Handler{b: b, auth: auth, o: o}
	h.guarded = recovery.HandlerWith(o.Log, Edge, http.HandlerFunc(h.serve), func(w http.ResponseWriter, r *http.Request) {
		h.writeFault(w, r, soapmsg.OpNone, internalFault())
	})
	return h
}

// ServeHTTP serves one request of the management interface.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.guarded.ServeHTTP(w, r) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	svc := soapmsg.ServiceForPath(r.URL.Path)
	if svc == soapmsg.ServiceNone {
		http.Error(w, "not found: the SML management endpoints are /manageservicemetadata, /manageparticipantidentifier and /bdmslservice", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: send SOAP 1.1 requests with POST", http.StatusMethodNotAllowed)
		return
	}
	body := http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes)
	req, err := soapmsg.DecodeRequest(body, h.o.Limits)
	if err != nil {
		h.refuseDecode(w, r, err)
		return
	}
	if req.Op.Service() != svc {
		h.writeFault(w, r, req.Op, newFault(soapmsg.FaultBadRequest, errBadRequest,
			"The operation "+req.Op.String()+" is served at "+req.Op.Service().Path()+", not at "+svc.Path()+"; correct the endpoint URL"))
		return
	}
	if req.Op == soapmsg.OpIsAlive { // monitoring: no certificate needed
		h.writeBody(w, r, nil)
		return
	}
	caller, err := h.auth.Authenticate(r)
	if err != nil {
		h.o.Log.Debug("soap: caller refused", "op", req.Op.String(), "remote", r.RemoteAddr, "err", err)
		h.writeFault(w, r, req.Op, newFault(soapmsg.FaultUnauthorized, errUnauthorized, upperFirst(err.Error())))
		return
	}
	if req.Op == soapmsg.OpListParticipants { // streamed: bdmsl.go
		h.listParticipants(w, r, caller)
		return
	}
	resp, err := h.call(r.Context(), caller, req)
	if err != nil {
		var f *soapmsg.Fault
		if !errors.As(err, &f) {
			f = faultFor(req.Op, err)
		}
		if f.Kind == soapmsg.FaultInternal {
			h.o.Log.Error("soap: internal error", "op", req.Op.String(), "caller", caller.Identity, "smp", smpIDOf(req.Body), "err", err)
		} else {
			h.o.Log.Debug("soap: request refused", "op", req.Op.String(), "caller", caller.Identity, "smp", smpIDOf(req.Body), "err", err)
		}
		h.writeFault(w, r, req.Op, f)
		return
	}
	h.writeBody(w, r, resp)
}

func (h *Handler) refuseDecode(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	var de *soapmsg.DecodeError
	var f *soapmsg.Fault
	switch {
	case errors.As(err, &mbe):
		f = newFault(soapmsg.FaultBadRequest, errBadRequest, "The request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+
			" bytes; send at most 100 participants per CreateList or DeleteList")
	case errors.As(err, &de):
		msg := de.Msg
		if len(msg) > 400 { // names and parser messages come from the request: do not echo a huge one
			msg = strings.ToValidUTF8(msg[:400], "") + "..."
		}
		if de.Reason == soapmsg.ReasonUnknownOperation {
			msg += "; see the WSDLs of ManageServiceMetadataService, ManageBusinessIdentifierService and BDMSLService"
		}
		f = newFault(soapmsg.FaultBadRequest, errBadRequest, upperFirst(msg))
	default: // reading the body failed (client gone, timeout)
		h.o.Log.Debug("soap: reading the request failed", "remote", r.RemoteAddr, "err", err)
		f = newFault(soapmsg.FaultBadRequest, errBadRequest, "The request body could not be read")
	}
	h.o.Log.Debug("soap: request not decoded", "remote", r.RemoteAddr, "action", soapmsg.NormalizeAction(r.Header.Get("SOAPAction")), "err", err)
	h.writeFault(w, r, soapmsg.OpNone, f)
}

func (h *Handler) writeFault(w http.ResponseWriter, r *http.Request, _ soapmsg.Operation, f *soapmsg.Fault) {
	w.Header().Set("Content-Type", soapmsg.ContentType)
	w.WriteHeader(h.o.FaultStatus.code(f.Kind))
	_, _ = w.Write(f.Marshal()) // a failed write means the client is gone
}

func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, body any) {
	data, err := soapmsg.Marshal(body)
	if err != nil {
		h.o.Log.Error("soap: marshal response", "err", err)
		h.writeFault(w, r, soapmsg.OpNone, internalFault())
		return
	}
	w.Header().Set("Content-Type", soapmsg.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func notSupported(op soapmsg.Operation) error {
	return newFault(soapmsg.FaultBadRequest, errBadRequest, "The operation "+op.String()+
		" is not available on this SML (its backend or authentication does not provide it)")
}

func badRequest(msg string) error { return newFault(soapmsg.FaultBadRequest, errBadRequest, msg) }

// call runs the use case of req and returns the response body element (nil for an empty Body). Errors are
// either *sml.Error (translated by faultFor) or a ready *soapmsg.Fault.
func (h *Handler) call(ctx context.Context, c sml.Caller, req *soapmsg.Request) (any, error) {
	switch b := req.Body.(type) {
	case *soapmsg.SMPService:
		smp := sml.SMP{ID: strings.TrimSpace(b.SMPID), LogicalAddress: strings.TrimSpace(b.PublisherEndpoint.LogicalAddress),
			PhysicalAddress: strings.TrimSpace(b.PublisherEndpoint.PhysicalAddress)}
		switch req.Op {
		case soapmsg.OpCreateSMP:
			return nil, h.b.CreateSMP(ctx, c, smp)
		case soapmsg.OpUpdateSMP:
			return nil, h.b.UpdateSMP(ctx, c, smp)
		default: // read: only the ID counts (DIGEST 1.2)
			got, err := h.b.ReadSMP(ctx, c, smp.ID)
			if err != nil {
				return nil, err
			}
			return &soapmsg.SMPService{XMLName: soapmsg.ElemSMPService, SMPID: got.ID,
				PublisherEndpoint: soapmsg.PublisherEndpoint{LogicalAddress: got.LogicalAddress, PhysicalAddress: got.PhysicalAddress}}, nil
		}
	case *soapmsg.SMPID:
		_, err := h.b.DeleteSMP(ctx, c, strings.TrimSpace(b.ID))
		return nil, err
	case *soapmsg.ParticipantForSMP:
		id := rawID(b.Participant)
		smpID := strings.TrimSpace(b.SMPID)
		if req.Op == soapmsg.OpCreateParticipant {
			return nil, h.b.CreateParticipants(ctx, c, smpID, []sml.ParticipantSpec{{ID: id}})
		}
		return nil, h.b.DeleteParticipants(ctx, c, smpID, []identifier.ID{id})
	case *soapmsg.AdvancedParticipant:
		p := b.Participant
		return nil, h.b.CreateParticipants(ctx, c, strings.TrimSpace(p.SMPID),
			[]sml.ParticipantSpec{{ID: rawID(p.Participant), Service: strings.TrimSpace(b.ServiceName)}})
	case *soapmsg.ParticipantPage:
		if b.NextPage != "" {
			return nil, badRequest("A " + req.Op.Name() + " request must not carry a NextPageIdentifier; remove it")
		}
		smpID := strings.TrimSpace(b.SMPID)
		if smpID == "" {
			return nil, badRequest("The " + req.Op.Name() + " request has no ServiceMetadataPublisherID; give the ID of your SMP")
		}
		if n := len(b.Participants); n == 0 || n > sml.MaxBatch {
			return nil, badRequest("The " + req.Op.Name() + " request has " + strconv.Itoa(n) + " participants; give 1 to " +
				strconv.Itoa(sml.MaxBatch) + " per call")
		}
		if req.Op == soapmsg.OpCreateList {
			ps := make([]sml.ParticipantSpec, len(b.Participants))
			for i, p := range b.Participants {
				ps[i] = sml.ParticipantSpec{ID: rawID(p)}
			}
			return nil, h.b.CreateParticipants(ctx, c, smpID, ps)
		}
		ids := make([]identifier.ID, len(b.Participants))
		for i, p := range b.Participants {
			ids[i] = rawID(p)
		}
		return nil, h.b.DeleteParticipants(ctx, c, smpID, ids)
	case *soapmsg.PageRequest:
		smpID := strings.TrimSpace(b.SMPID)
		ids, next, err := h.b.ListParticipants(ctx, c, smpID, strings.TrimSpace(b.NextPage), h.o.PageSize)
		if err != nil {
			return nil, err
		}
		page := &soapmsg.ParticipantPage{XMLName: soapmsg.ElemParticipantPage, SMPID: smpID, NextPage: next,
			Participants: make([]soapmsg.ParticipantIdentifier, len(ids))}
		for i, id := range ids {
			page.Participants[i] = soapmsg.ParticipantIdentifier{Scheme: id.Scheme, Value: id.Value}
		}
		return page, nil
	case *soapmsg.MigrationRecord:
		smpID, id, key := strings.TrimSpace(b.SMPID), rawID(b.Participant), strings.TrimSpace(b.MigrationKey)
		if req.Op == soapmsg.OpPrepareToMigrate {
			return nil, h.b.PrepareToMigrate(ctx, c, smpID, id, key)
		}
		return nil, h.b.Migrate(ctx, c, smpID, id, key)
	case *soapmsg.PrepareChangeCertificate, *soapmsg.ChangeCertificate, *soapmsg.ClearCache: // bdmsl.go
		return h.bdmsl(ctx, c, req)
	}
	return nil, notSupported(req.Op)
}

// rawID is the identifier as received (the Service validates and canonicalises it with the domain's policy);
// surrounding whitespace of the text is not part of it.
func rawID(p soapmsg.ParticipantIdentifier) identifier.ID {
	return identifier.ID{Scheme: strings.TrimSpace(p.Scheme), Value: strings.TrimSpace(p.Value)}
}

// smpIDOf returns the SMP ID a request names (for logs).
func smpIDOf(body any) string {
	switch b := body.(type) {
	case *soapmsg.SMPService:
		return b.SMPID
	case *soapmsg.SMPID:
		return b.ID
	case *soapmsg.ParticipantForSMP:
		return b.SMPID
	case *soapmsg.ParticipantPage:
		if b.SMPID != "" {
			return b.SMPID
		}
	case *soapmsg.PageRequest:
		return b.SMPID
	case *soapmsg.MigrationRecord:
		return b.SMPID
	case *soapmsg.AdvancedParticipant:
		return b.Participant.SMPID
	}
	return ""
}
