package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
	"github.com/signpost-project/signpost/smp"
	smpadmin "github.com/signpost-project/signpost/smp/admin"
	"github.com/signpost-project/signpost/store"
)

// Exit codes: the one place that maps each kind of error to the exit status of every command. Codes 0 to 10 are
// the lookup's contract (docs/lookup.md) and keep their meaning; every other kind has its own code from 11 up,
// and no code means two things. The lookup kinds added after code 10 was taken (http-refused,
// smp-tls-untrusted) have codes of their own from 22 up. exitCodes documents them (root --help, README), and a
// test checks both.
const (
	exitOK       = 0
	exitInternal = 1 // lookup's "error": anything not listed below
	exitUsage    = 2 // lookup's "bad arguments, flags, identifier or trust file"
	// 3 to 10: the lookup kinds, exitLookupBase + lookup.Kind.
	exitLookupBase    = 2
	exitConfig        = 11
	exitFile          = 12
	exitStoreLocked   = 13
	exitStoreVersion  = 14
	exitStoreDamaged  = 15
	exitUnreachable   = 16
	exitUnauthorized  = 17
	exitBadRequest    = 18
	exitNotFound      = 19
	exitAlreadyExists = 20
	exitForbidden     = 21

	// The lookup kinds added later: lookupExitCode maps them.
	exitLookupHTTPRefused     = 22
	exitLookupSMPTLSUntrusted = 23

	exitSML        = 24
	exitSMLPending = 25
	exitDoctor     = 26
	// A PostgreSQL store that could not be reached, and a store copy whose counts disagree (issue 15).
	exitStoreUnavailable = 27
	exitCopyMismatch     = 28

	exitInterrupted = 130 // as a shell reports a command ended by SIGINT
)

// exitCodeRow is one line of the exit code table.
type exitCodeRow struct {
	code    int
	name    string
	meaning string
}

// exitCodes is the table of every exit code, in order.
func exitCodes() []exitCodeRow {
	rows := []exitCodeRow{
		{exitOK, "ok", "success (lookup: found, or the service group was listed)"},
		{exitInternal, "internal", "internal error: any failure not listed here (lookup: kind \"error\")"},
		{exitUsage, "usage", "bad command line: unknown command or flag, wrong arguments (lookup: also a bad identifier or --trust file)"},
	}
	var later []exitCodeRow
	for _, k := range lookup.Kinds() {
		r := exitCodeRow{lookupExitCode(k), k.String(), "lookup only: " + lookupMeaning[k]}
		if r.code <= exitLookupBase+int(lookup.BadResponse) {
			rows = append(rows, r)
		} else {
			later = append(later, r)
		}
	}
	rows = append(rows,
		exitCodeRow{exitConfig, "config", "the configuration file is missing, unreadable or invalid (the message names each problem)"},
		exitCodeRow{exitFile, "file", "a file named on the command line cannot be read or written"},
		exitCodeRow{exitStoreLocked, "store-locked", "the store is in use by another process (a running server whose admin API could not be used instead)"},
		exitCodeRow{exitStoreVersion, "store-version", "the store's schema version is one this build cannot use (written or migrated by a newer signpost; bbolt or PostgreSQL)"},
		exitCodeRow{exitStoreDamaged, "store-damaged", "the store file is damaged, or upgrading it to this build's schema failed (the message says which, and where the backup is)"},
		exitCodeRow{exitUnreachable, "unreachable", "the running server's admin API did not answer, or answered that its database is unavailable (503)"},
		exitCodeRow{exitUnauthorized, "unauthorized", "the credential was refused (the admin token, or an SMP user's token or password)"},
		exitCodeRow{exitBadRequest, "bad-request", "the SML or SMP refused the input as given (a bad line of an import file, an invalid document)"},
		exitCodeRow{exitNotFound, "not-found", "what the command names does not exist (a zone, an SMP, a participant, a token)"},
		exitCodeRow{exitAlreadyExists, "already-exists", "what the command would create exists already"},
		exitCodeRow{exitForbidden, "forbidden", "the caller may not do this (it does not own the SMP or service group)"},
	)
	rows = append(rows, later...)
	return append(rows,
		exitCodeRow{exitSML, "sml", "the SML refused the SMP's call or did not answer (signpost smp sml ...; the message has the SML's own)"},
		exitCodeRow{exitSMLPending, "sml-pending", "smp sml status --wait: registrations were still pending, or some failed, when it gave up"},
		exitCodeRow{exitDoctor, "doctor-failed", "doctor: a check failed (the report names each failed check and the fix to make)"},
		exitCodeRow{exitStoreUnavailable, "store-unavailable", "the command itself could not reach the PostgreSQL database of store.dsn (down, refused, silent, or the network)"},
		exitCodeRow{exitCopyMismatch, "copy-mismatch", "store copy: after the copy the target's counts differ from the source's (the target was not empty, or a server wrote meanwhile)"},
		exitCodeRow{exitInterrupted, "interrupted", "interrupted by SIGINT (Ctrl-C) or SIGTERM before it finished; servers stopped this way exit 0"},
	)
}

var lookupMeaning = map[lookup.Kind]string{
	lookup.NotRegistered:            "DNS answered NXDOMAIN for the participant",
	lookup.DNSFailure:               "no name server answered (timeout, SERVFAIL, REFUSED, network error)",
	lookup.SMPUnreachable:           "the SMP could not be reached, or answered 5xx",
	lookup.DocumentTypeNotSupported: "the SMP answered 404 for the document type",
	lookup.SignatureInvalid:         "missing or broken signature",
	lookup.CertificateUntrusted:     "the signing certificate does not chain to --trust, or has expired",
	lookup.NoMatchingEndpoint:       "no active endpoint for the process and transport profiles asked for",
	lookup.BadResponse:              "malformed or mismatching SMP response (--json error.field names a mismatching identifier)",
	lookup.HTTPRefused:              "under peppol-prod or peppol-test, the SMP URL is plain http (see --allow-http)",
	lookup.SMPTLSUntrusted:          "the SMP's HTTPS certificate does not verify against the system roots or --tls-ca",
}

// exitCodeHelp is the exit code table as --help shows it.
func exitCodeHelp(filter func(exitCodeRow) bool) string {
	var b strings.Builder
	for _, r := range exitCodes() {
		if filter == nil || filter(r) {
			fmt.Fprintf(&b, "  %3d  %-28s %s\n", r.code, r.name, r.meaning)
		}
	}
	return b.String()
}

// lookupExitCode is the exit code of a lookup kind: 2 + the kind for the first eight (3 to 10), a code of its
// own for the kinds added later.
func lookupExitCode(k lookup.Kind) int {
	switch k {
	case lookup.HTTPRefused:
		return exitLookupHTTPRefused
	case lookup.SMPTLSUntrusted:
		return exitLookupSMPTLSUntrusted
	}
	return exitLookupBase + int(k)
}

// isLookupExitRow selects the rows of the exit code table that concern the lookup command.
func isLookupExitRow(r exitCodeRow) bool {
	return r.code <= exitUsage || strings.HasPrefix(r.meaning, "lookup only")
}

// cliError is an error whose kind only the command line knows (usage, configuration, file); the other kinds
// come from the domain packages' errors.
type cliError struct {
	code int
	err  error
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageError marks a bad command line.
func usageError(err error) error { return &cliError{code: exitUsage, err: err} }

// usageErrorf is usageError of a formatted message.
func usageErrorf(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// configError marks a configuration file that cannot be loaded.
func configError(err error) error { return &cliError{code: exitConfig, err: err} }

// fileError marks a file named on the command line that cannot be read or written.
func fileError(err error) error { return &cliError{code: exitFile, err: err} }

// exitCode is the exit status of a command that returned err.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *cliError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case lookup.KindOf(err) != 0:
		return lookupExitCode(lookup.KindOf(err))
	case errors.Is(err, admin.ErrUnreachable), errors.Is(err, smpadmin.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, admin.ErrUnauthorized), errors.Is(err, smpadmin.ErrUnauthorized):
		return exitUnauthorized
	case errors.Is(err, smpadmin.ErrSML), errors.Is(err, smpadmin.ErrNoSML):
		return exitSML
	case errors.Is(err, errSMLPending):
		return exitSMLPending
	case errors.Is(err, errDoctorFailed):
		return exitDoctor
	case errors.Is(err, store.ErrLocked):
		return exitStoreLocked
	case errors.Is(err, pgstore.ErrUnavailable):
		return exitStoreUnavailable
	case errors.Is(err, store.ErrSchemaVersion), errors.Is(err, pgstore.ErrNewerSchema):
		return exitStoreVersion
	case errors.Is(err, store.ErrUpgrade), errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch):
		return exitStoreDamaged
	}
	if c, ok := smlExitCodes[sml.KindOf(err)]; ok {
		return c
	}
	if c, ok := smpExitCodes[smp.KindOf(err)]; ok {
		return c
	}
	return exitInternal
}

// The domain error kinds that have codes of their own; every other kind (the internal ones) is exitInternal.
var (
	smlExitCodes = map[sml.Kind]int{
		sml.KindBadRequest:    exitBadRequest,
		sml.KindNotFound:      exitNotFound,
		sml.KindUnauthorized:  exitForbidden, // the caller does not own the SMP
		sml.KindAlreadyExists: exitAlreadyExists,
	}
	smpExitCodes = map[smp.Kind]int{
		smp.KindInvalid:      exitBadRequest,
		smp.KindNotFound:     exitNotFound,
		smp.KindForbidden:    exitForbidden,
		smp.KindUnauthorized: exitUnauthorized,
		smp.KindUnavailable:  exitUnreachable, // the PostgreSQL store is down
	}
)
