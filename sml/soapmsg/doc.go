// Package soapmsg holds the SOAP 1.1 envelope and the message types of the SML management interface: the PEPPOL
// ManageServiceMetadataService and ManageBusinessIdentifierService (peppol-sml-types-v1.xsd) and the BDMSL
// extension service of the full 2018 WSDL (IsAlive, CreateParticipantIdentifier with a NAPTR service name,
// PrepareChangeCertificate, ChangeCertificate, ListParticipants, ClearCache).
//
// It depends on neither the SML server nor the store: the SML's HTTP handler (package sml/soap) decodes requests
// and writes responses with it, and an SMP's SML client encodes requests and decodes responses with the same
// types.
//
// Decoding is defensive: encoding/xml in strict mode, no DTD (a <!DOCTYPE> or any other directive is refused, so no
// entity can be declared or expanded), bounded nesting depth and element count (Limits). The operation is chosen by
// the qualified name of the Body's child element, never by the SOAPAction header, which clients send in several
// forms (DIGEST 1.4: with and without nine spaces).
package soapmsg
