package dnsserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/miekg/dns"
)

// tsigKeys is the TSIG provider: secrets by lower-case key name, hmac-sha256 only.
type tsigKeys map[string][]byte

// Generate implements dns.TsigProvider.
func (k tsigKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	secret, ok := k[strings.ToLower(t.Hdr.Name)]
	if !ok {
		return nil, dns.ErrSecret
	}
	if !strings.EqualFold(t.Algorithm, dns.HmacSHA256) {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(sha256.New, secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k tsigKeys) Verify(msg []byte, t *dns.TSIG) error {
	b, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(b, mac) {
		return dns.ErrSig
	}
	return nil
}
