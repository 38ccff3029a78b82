package soap_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/sml/soap"
)

// A client that sends its request slower than the read timeout allows loses its connection; the server keeps
// serving others.
func TestSlowClientIsCutOff(t *testing.T) {
	p := newPKI(t)
	h := soap.NewHandler(nil, nil, soap.Options{})
	hs := soap.NewHTTP("127.0.0.1:0", p.server, h, soap.Timeouts{Read: time.Second, Write: 5 * time.Second}, nil, nil)
	if err := hs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.Shutdown(context.Background()) })
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	conn, err := tls.Dial("tcp", hs.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /bdmslservice HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n<soap:Envelope"); err != nil {
		t.Fatal(err)
	}
	// The server closes the connection (or answers 408/400 and closes) instead of waiting for the body.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	data, err := io.ReadAll(conn)
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatalf("the server kept a stalled request open (read so far %q)", data)
	}
	if strings.Contains(string(data), "200 OK") {
		t.Fatalf("a stalled request was answered 200: %q", data)
	}

	// Others are still served.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Post("https://"+hs.Addr().String()+"/bdmslservice", "text/xml",
		strings.NewReader(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><IsAlive xmlns="ec:services:wsdl:BDMSL:data:1.0"/></S:Body></S:Envelope>`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IsAlive after the slow client: %d", resp.StatusCode)
	}
}
