package console

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
)

// TestDecodeCert: an endpoint certificate is accepted as PEM (the CERTIFICATE block, after a key block too), DER
// and base64 DER, all to the same DER; text that is none of them is refused naming the certificate field.
func TestDecodeCert(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("Decode CA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	der := ca.Cert.Raw
	pemText := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	withKey := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), pemText...)
	for name, in := range map[string][]byte{"PEM": pemText, "key then PEM": withKey, "DER": der,
		"base64": []byte(base64.StdEncoding.EncodeToString(der))} {
		got, err := decodeCert(in)
		if err != nil || !bytes.Equal(got, der) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"not a certificate!", "-----BEGIN PRIVATE KEY-----\nAQI=\n-----END PRIVATE KEY-----\n"} {
		if _, err := decodeCert([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := decodeCert([]byte("  \n")); got != nil || err != nil {
		t.Errorf("empty: %v %v", got, err)
	}
}
