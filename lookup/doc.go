// Package lookup resolves a participant the way a sending access point does: the participant's U-NAPTR
// record in the SML zone (asked directly of the configured name servers with miekg/dns), the SMP base URL
// from the record's rule, the signed service metadata from the SMP, the signature and the signing
// certificate's chain checked by package xmldsig, the identifiers in the verified document compared with the
// request, one Redirect followed, and the endpoint chosen by process and transport-profile preference at the
// current time. The answer's identifiers follow the PEPPOL case rules (participant values case-insensitive,
// document type and process values exact), a peppol-doctype-wildcard document type finds its best registration
// (WildcardCandidates), Config.RequireHTTPS refuses plain-http SMPs (the PEPPOL networks since 2026-02-01) and
// the SMP's HTTPS certificate is verified against the system roots or Config.TLSRoots.
//
// Every failure is an [*Error] with one [Kind]; the kinds never blur (a DNS timeout is a DNSFailure, never
// NotRegistered). A [Client] is safe for concurrent use and caches DNS answers for their TTL and SMP
// responses per their HTTP caching headers, negative answers at most Config.NegativeTTL; every result is
// built afresh, so nothing a caller changes reaches another call.
//
// The package imports neither sml nor smp: an access point can import it alone. docs/lookup.md describes
// the behaviour in full; package lookuptest has the loopback servers its tests use.
package lookup
