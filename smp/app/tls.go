package smpapp

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
)

func tlsConfig(key crypto.Signer, chain []*x509.Certificate) *tls.Config {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
}
