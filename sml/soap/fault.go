package soap

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// BDMSL error codes that prefix fault strings (see docs/sml-soap.md for where each was found).
const (
	errSMPNotFound         = "ERR-100" // the SMP does not exist (NotFoundFault)
	errUnauthorized        = "ERR-101" // the caller does not own the SMP, or its certificate is refused (UnauthorizedFault)
	errInternal            = "ERR-105" // technical error (InternalErrorFault)
	errBadRequest          = "ERR-106" // validation failures and "already exists" (BadRequestFault)
	errParticipantNotFound = "ERR-110" // a participant to delete does not exist (NotFoundFault)
)

// Texts clients compare fault strings with (DomiSMP's SMLErrorMessages, current version; startsWith).
const (
	textSMPExists           = "The SMP '%s' already exists"
	textSMPNotFound         = "The SMP '%s' doesn't exist"
	textParticipantExists   = "The participant identifier '%s' with scheme: '%s' already exist"
	textParticipantNotFound = "At least one of the participants doesn't exist in the list"
)

// FaultStatus selects the HTTP status of fault responses.
type FaultStatus int

const (
	// StatusSOAP answers every fault with HTTP 500, as SOAP 1.1 prescribes and JAX-WS clients (phoss-SMP) need.
	StatusSOAP FaultStatus = iota
	// StatusBDMSL answers BadRequest 400, Unauthorized 401, NotFound 404, InternalError 500, as BDMSL does.
	StatusBDMSL
)

// ParseFaultStatus maps the configuration value ("soap" or "bdmsl").
func ParseFaultStatus(s string) (FaultStatus, error) {
	switch s {
	case "", "soap":
		return StatusSOAP, nil
	case "bdmsl":
		return StatusBDMSL, nil
	}
	return 0, fmt.Errorf("soap: fault status %q is not soap or bdmsl", s)
}

func (fs FaultStatus) code(k soapmsg.FaultKind) int {
	if fs != StatusBDMSL {
		return http.StatusInternalServerError
	}
	switch k {
	case soapmsg.FaultBadRequest:
		return http.StatusBadRequest
	case soapmsg.FaultUnauthorized:
		return http.StatusUnauthorized
	case soapmsg.FaultNotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// newFault builds a fault: the fault string and the detail's FaultMessage are "[code] text".
func newFault(kind soapmsg.FaultKind, code, text string) *soapmsg.Fault {
	s := "[" + code + "] " + text
	fc := soapmsg.CodeClient
	if kind == soapmsg.FaultInternal {
		fc = soapmsg.CodeServer
	}
	return &soapmsg.Fault{Code: fc, String: s, Kind: kind, Message: s}
}

// stripCode removes a leading "[ERR-nnn] " and returns the code ("" if none) and the rest, first letter upper-case.
func stripCode(msg string) (code, rest string) {
	if strings.HasPrefix(msg, "[ERR-") {
		if i := strings.IndexByte(msg, ']'); i > 0 {
			code, msg = msg[1:i], strings.TrimSpace(msg[i+1:])
		}
	}
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return code, msg
}

// faultFor translates an error of the Service into the fault the client gets, once, here. req is the decoded
// request: where clients compare fault strings with BDMSL's texts (DomiSMP: "already exists" and "doesn't exist"
// count as success), the text is built from the request's identifiers exactly as BDMSL words it, followed by our
// own explanation.
func faultFor(op soapmsg.Operation, body any, err error) *soapmsg.Fault {
	code, msg := stripCode(sml.MessageOf(err))
	switch sml.KindOf(err) {
	case sml.KindAlreadyExists:
		switch b := body.(type) {
		case *soapmsg.SMPService:
			return newFault(soapmsg.FaultBadRequest, errBadRequest, fmt.Sprintf(textSMPExists, b.SMPID)+". "+msg)
		case *soapmsg.ParticipantForSMP:
			if op == soapmsg.OpCreateParticipant {
				return newFault(soapmsg.FaultBadRequest, errBadRequest,
					fmt.Sprintf(textParticipantExists, b.Participant.Value, b.Participant.Scheme)+". "+msg)
			}
		case *soapmsg.AdvancedParticipant:
			p := b.Participant.Participant
			return newFault(soapmsg.FaultBadRequest, errBadRequest, fmt.Sprintf(textParticipantExists, p.Value, p.Scheme)+". "+msg)
		}
		return newFault(soapmsg.FaultBadRequest, errBadRequest, msg)
	case sml.KindBadRequest:
		return newFault(soapmsg.FaultBadRequest, errBadRequest, msg)
	case sml.KindNotFound:
		if code == errParticipantNotFound {
			return newFault(soapmsg.FaultNotFound, errParticipantNotFound, textParticipantNotFound+". "+msg)
		}
		if id := smpIDOf(body); id != "" {
			return newFault(soapmsg.FaultNotFound, errSMPNotFound, fmt.Sprintf(textSMPNotFound, id)+". "+msg)
		}
		return newFault(soapmsg.FaultNotFound, errSMPNotFound, msg)
	case sml.KindUnauthorized:
		return newFault(soapmsg.FaultUnauthorized, errUnauthorized, msg)
	}
	// Internal: the cause was logged by the Service (and by the handler); the client gets no detail.
	return internalFault()
}

func internalFault() *soapmsg.Fault {
	return newFault(soapmsg.FaultInternal, errInternal, "Internal error of the SML; try again later or contact its operator")
}

// smpIDOf returns the SMP ID a request names.
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
