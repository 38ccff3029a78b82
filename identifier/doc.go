// Package identifier parses, validates, canonicalises and encodes the identifiers of
// PEPPOL / OASIS eDelivery networks (participants, document types, processes), and computes
// the DNS owner names under which an SML publishes a participant.
//
// # Identifiers
//
// An identifier is written "scheme::value"; the scheme is split from the value at the FIRST
// "::" (document type values contain "::" themselves). A [Policy] decides what is valid:
//
//   - [PEPPOL] (strict) applies the PEPPOL Policy for use of Identifiers 4.x as coded in
//     phax PeppolIdentifierFactory: participant schemes of the form xxx-yyy-zzz (a DNS label),
//     iso6523-actorid-upis values "NNNN:id" (any four-digit ICD; the ICD code list is not
//     enforced), document type schemes busdox-docid-qns and peppol-doctype-wildcard, process
//     schemes cenbii-procid-ubl and busdox-procid-transport (the latter only for the
//     "no process" identifier busdox-procid-transport::busdox:noprocess).
//   - [OASIS] (lax) accepts any scheme, or none (OASIS SMP 2.0 allows scheme-less identifiers),
//     and folds every participant value to lower case (the OASIS SMP 2.0 default rule).
//
// Canonical form: every scheme is lower case (as phoss-SMP stores them), participant values are
// lower case where their scheme is case-insensitive (iso6523-actorid-upis always; others as
// [Policy.FoldCase] says), document type and process values are case-sensitive and kept as
// given. Upper case input is never rejected, it is folded. Two identifiers name the same thing
// exactly when their canonical [ID] values are equal, so ID can be used as a map key.
//
// Every validation failure is an [*Error] that names the kind, the rule broken and the
// offending part (the character and its position, or the scheme).
//
// # URL path segments
//
// SMP URLs carry an identifier as one percent-encoded path segment. [DecodeSegment] decodes a
// segment exactly once ("%253A" stays "%3A"; "+" is a plus, never a space) and accepts raw and
// encoded "::" alike; [EncodeSegment] escapes everything outside the RFC 3986 unreserved set,
// so ':' becomes %3A and '#' becomes %23. Split the escaped path (url.URL.EscapedPath) on '/'
// first, then decode each segment: url.URL.Path has already decoded "%2F".
//
// # DNS owner names
//
// dnsname.go is the only place where participant identifiers are hashed: [NAPTRName] (U-NAPTR,
// PEPPOL / eDelivery BDXL) and [CNAMEName] (legacy PEPPOL "B-" + MD5) in the hashing modes
// [SchemeLabel] (the value is hashed and the scheme is its own label) and [FullID] (the full
// identifier is hashed, OASIS BDXL without a scheme label). The test vectors are in
// testdata/identifier/vectors.tsv.
package identifier
