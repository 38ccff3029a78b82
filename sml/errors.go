package sml

import (
	"errors"
	"fmt"
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
	// KindAlreadyExists is an SMP or participant that exists already; its message contains "already exists"
	// (DomiSMP treats that text as success). SOAP reports it as a BadRequest fault.
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

// Error is the one error type of package sml. Msg is for the operator of the calling SMP: what is wrong and what to
// do; it is safe to send. Err is the cause, for the SML's own log; never sent.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
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

func internal(what string, err error) *Error {
	return &Error{Kind: KindInternal, Msg: "internal error of the SML (" + what + "); try again later or contact its operator", Err: err}
}
