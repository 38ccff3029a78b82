package soap

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// BDMSL error codes that prefix fault strings (see docs/sml-soap.md for where each was found). They are the SOAP
// edge's alone: the sml domain reports kinds and subjects (sml.Error), this file turns them into codes and texts.
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

// upperFirst returns msg with its first letter upper-case: the domain's messages begin in lower case, BDMSL's
// fault texts with a capital.
func upperFirst(msg string) string {
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}

// faultFor translates an error of the Service into the fault the client gets, once, here: the error's kind picks
// the fault and the BDMSL code, its subject (the SMP or the participant it is about) the text. Where clients
// compare fault strings with BDMSL's texts (DomiSMP: "already exists" and "doesn't exist" count as success), the
// text is built from the identifiers as the request gave them, exactly as BDMSL words it, followed by the
// Service's own explanation. op is the request's operation: only a request for one participant gets BDMSL's
// "already exist" text (a CreateList names no participant in BDMSL's answer).
func faultFor(op soapmsg.Operation, err error) *soapmsg.Fault {
	var e *sml.Error
	if errors.As(err, &e) && e.Kind == sml.KindInternal && e.Unavailable {
		// The store cannot be reached: the client is told so, and to retry.
		return newFault(soapmsg.FaultInternal, errInternal, upperFirst(e.Msg))
	}
	if !errors.As(err, &e) || e.Kind == sml.KindInternal {
		// The cause was logged by the Service (and by the handler); the client gets no detail.
		return internalFault()
	}
	msg := upperFirst(e.Msg)
	participant := e.Participant != (identifier.ID{})
	switch e.Kind {
	case sml.KindAlreadyExists:
		switch {
		case participant && (op == soapmsg.OpCreateParticipant || op == soapmsg.OpCreateParticipantService):
			return newFault(soapmsg.FaultBadRequest, errBadRequest,
				fmt.Sprintf(textParticipantExists, e.Participant.Value, e.Participant.Scheme)+". "+msg)
		case !participant && e.SMP != "":
			return newFault(soapmsg.FaultBadRequest, errBadRequest, fmt.Sprintf(textSMPExists, e.SMP)+". "+msg)
		}
		return newFault(soapmsg.FaultBadRequest, errBadRequest, msg)
	case sml.KindNotFound:
		switch {
		case participant && op == soapmsg.OpMigrate:
			// No prepared migration matches (wrong, used or expired key): the Service's text, not BDMSL's
			// "participants doesn't exist", which would be untrue.
			return newFault(soapmsg.FaultNotFound, errParticipantNotFound, msg)
		case participant:
			return newFault(soapmsg.FaultNotFound, errParticipantNotFound, textParticipantNotFound+". "+msg)
		case e.SMP != "":
			return newFault(soapmsg.FaultNotFound, errSMPNotFound, fmt.Sprintf(textSMPNotFound, e.SMP)+". "+msg)
		}
		return newFault(soapmsg.FaultNotFound, errSMPNotFound, msg)
	case sml.KindUnauthorized:
		return newFault(soapmsg.FaultUnauthorized, errUnauthorized, msg)
	}
	return newFault(soapmsg.FaultBadRequest, errBadRequest, msg)
}

func internalFault() *soapmsg.Fault {
	return newFault(soapmsg.FaultInternal, errInternal, "Internal error of the SML; try again later or contact its operator")
}
