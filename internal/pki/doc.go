// Package pki creates, stores and loads the X.509 material Signpost runs on.
//
// It has three parts:
//
//   - Generation (NewRoot, Authority.Issue, Authority.NewIntermediate): RSA-2048
//     certificate authorities and leaf certificates with the key usages of a
//     Profile (TLS server, TLS client, signing, PEPPOL SMP, access point). It is
//     meant for the development PKI of `signpost dev` and for throwaway
//     certificates in tests, not for running a production CA.
//   - Files (EncodeCertPEM, EncodeKeyPEM, WriteFiles, LoadCertificates,
//     LoadCertPool, LoadKeyPair, LoadPKCS12): PEM and PKCS#12 in and out. Files
//     are written atomically (temporary file and rename), private keys with mode
//     0600. Load errors name the file and say what is wrong with it.
//   - The development PKI (EnsureDev): DIR/pki/ca.pem, sml.pem, smp.pem, ap.pem
//     and their keys, as DESIGN.md section 1.2 fixes them, created on first use
//     and reused afterwards.
package pki
