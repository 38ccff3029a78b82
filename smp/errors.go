package smp

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies the errors of this package; each edge translates it once (HTTP status, exit code).
type Kind int

// The kinds of errors.
const (
	// KindInternal is a failure of this SMP (store, signing); details are logged, never sent.
	KindInternal Kind = iota
	// KindInvalid is a client's mistake in a request or document: HTTP 400.
	KindInvalid
	// KindNotFound is an unknown participant or document type: HTTP 404.
	KindNotFound
	// KindForbidden is a write by a user that does not own the service group: HTTP 403.
	KindForbidden
	// KindUnauthorized is a missing, unknown or revoked credential: HTTP 401.
	KindUnauthorized
	// KindTooMany is a client address that failed to authenticate too often: HTTP 429 with Retry-After.
	KindTooMany
	// KindUnavailable is a store that cannot be reached (a PostgreSQL database that is down): nothing happened,
	// and the same request may succeed later. HTTP 503 with Retry-After (RetryUnavailable).
	KindUnavailable
)

// RetryUnavailable is how long clients are told to wait (Retry-After) before they retry a KindUnavailable error.
const RetryUnavailable = 5 * time.Second

// Error is every error of this package.
type Error struct {
	Kind Kind
	// Field names what is wrong (for KindInvalid), e.g. "participant" or "Endpoint transportProfile".
	Field string
	// Msg says what is wrong, for users.
	Msg string
	Err error
}

func (e *Error) Error() string {
	s := "smp: "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Msg
	if e.Err != nil && (e.Kind == KindInternal || e.Kind == KindUnavailable) {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is the not-found error; match with errors.Is.
var ErrNotFound = &Error{Kind: KindNotFound, Msg: "not found"}

// Is matches errors of the same kind against the sentinel ErrNotFound.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t == ErrNotFound && e.Kind == KindNotFound
}

// Invalid is a KindInvalid error about field.
func Invalid(field, msg string) error { return &Error{Kind: KindInvalid, Field: field, Msg: msg} }

// Invalidf is Invalid with a format.
func Invalidf(field, format string, a ...any) error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// NotFound is a KindNotFound error: what is the thing that does not exist.
func NotFound(what string) error { return &Error{Kind: KindNotFound, Msg: what + " not found"} }

// Internal is a KindInternal error: msg says what failed, err is the cause (logged, never sent).
func Internal(msg string, err error) error { return &Error{Kind: KindInternal, Msg: msg, Err: err} }

// Unavailable is a KindUnavailable error: the repository could not reach its database (err, logged). Repository
// implementations return it (wrapped or not) for every failure to reach their store, so that the edges answer
// "try again later" rather than an internal error.
func Unavailable(err error) error {
	return &Error{Kind: KindUnavailable, Msg: "the SMP's database is unavailable; try again later", Err: err}
}

// Forbidden is a KindForbidden error.
func Forbidden(msg string) error { return &Error{Kind: KindForbidden, Msg: msg} }

// Unauthorized is a KindUnauthorized error.
func Unauthorized(msg string) error { return &Error{Kind: KindUnauthorized, Msg: msg} }

// KindOf returns the kind of err (KindInternal for foreign errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
