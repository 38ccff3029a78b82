package sml

import (
	"errors"
	"fmt"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgstore"
)

// Kind is the class of an SML error. Each edge translates it once: the SOAP API to a typed fault, the CLI to an
// exit code.
type Kind int

// The error kinds.
const (
	// KindInternal is a failure of the SML itself (store, bug); the client can retry later.
	KindInternal Kind = iota
	// KindBadRequest is a request the SML refuses as given (malformed identifier, scheme not allowed, batch size,
	// "already exists").
	KindBadRequest
	// KindNotFound is an SMP or participant that does not exist.
	KindNotFound
	// KindUnauthorized is a caller that does not own the SMP, or whose certificate belongs to another domain.
	KindUnauthorized
	// KindAlreadyExists is an SMP or participant that exists already; its message contains "already exists".
	KindAlreadyExists
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindBadRequest:
		return "bad request"
	case KindNotFound:
		return "not found"
	case KindUnauthorized:
		return "unauthorized"
	case KindAlreadyExists:
		return "already exists"
	default:
		return "internal error"
	}
}

// Error is the one error type of package sml. It says what went wrong in the domain's terms only: its kind, what
// it is about and a message; the wire codes and texts of each protocol are the edges' business (the SOAP API's
// BDMSL codes are in sml/soap).
type Error struct {
	Kind Kind
	// SMP is the ID of the SMP the error is about, as the caller gave it; "" when it is about no SMP in particular.
	SMP string
	// Participant is the participant identifier the error is about, as the caller gave it (before it was
	// canonicalised); zero when it is about no participant.
	Participant identifier.ID
	// Participants holds, for a refused batch (CreateParticipants, DeleteParticipants), one error per refused
	// participant, in the order of the request. The batch error itself is a copy of the first of them.
	Participants []*Error
	// Msg is for the operator of the calling SMP: what is wrong and what to do; it is safe to send.
	Msg string
	// Err is the cause, for the SML's own log; never sent.
	Err error
	// Unavailable marks a KindInternal error caused by a store that cannot be reached (PostgreSQL down): the
	// request may be retried in a few seconds; Msg says so. (It was not carried out, unless the connection was lost
	// while committing: a retried create then answers that the participant already exists.)
	Unavailable bool
}

// Error returns Msg only, so that an edge that sends err.Error() cannot leak the cause; the service logs causes.
func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err: that of the first *Error in its chain, KindInternal for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// MessageOf returns the client-safe message of err: that of the first *Error in its chain, or a generic text.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return "internal error of the SML; try again later or contact its operator"
}

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// smpError is errorf about the SMP id.
func smpError(k Kind, id, format string, args ...any) *Error {
	e := errorf(k, format, args...)
	e.SMP = id
	return e
}

// participantError is errorf about the participant p (as the caller gave it).
func participantError(k Kind, p identifier.ID, format string, args ...any) *Error {
	e := errorf(k, format, args...)
	e.Participant = p
	return e
}

// batchError is the error of a batch of which each of refused (at least one) was refused: the first refusal,
// with all of them in Participants.
func batchError(refused []*Error) *Error {
	e := *refused[0]
	e.Participants = refused
	return &e
}

// IsUnavailable reports whether err is a failure to reach the store (an *Error with Unavailable set, or
// pgstore.ErrUnavailable): the client should retry in a few seconds.
func IsUnavailable(err error) bool {
	var e *Error
	if errors.As(err, &e) && e.Unavailable {
		return true
	}
	return errors.Is(err, pgstore.ErrUnavailable)
}

// unavailable is the error of a use case that could not reach the store (pgstore.ErrUnavailable, translated here
// once for every edge).
func unavailable(err error) *Error {
	return &Error{Kind: KindInternal, Unavailable: true, Err: err,
		Msg: "the SML's database is unavailable; try the request again in a few seconds"}
}

func internal(what string, err error) *Error {
	return &Error{Kind: KindInternal, Msg: "internal error of the SML (" + what + "); try again later or contact its operator", Err: err}
}
